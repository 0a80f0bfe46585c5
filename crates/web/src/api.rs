//! The JSON API: everything the pages show, described by an OpenAPI document at
//! `/api/openapi.json` (generated from the same types the handlers return).

use crate::reader::{
    CoverageBreakdown, choose_edition, coverage_breakdown, independent_reports, load_story, run_search, store_report,
};
use crate::{AppState, Client, WebError, blocking};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chorus_core::{StoryDetail, StoryId, StorySummary};
use chorus_search::Hit;
use chorus_store::{Report, RevisionInfo};
use utoipa::OpenApi;

/// An error as the API returns it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// Stable code: `not_found`, `bad_request`, `forbidden`, `too_many_requests`, `internal`.
    pub code: String,
    /// What went wrong, in words.
    pub message: String,
}

/// An API error response.
pub struct ApiFailure(WebError);

impl From<WebError> for ApiFailure {
    fn from(e: WebError) -> Self {
        ApiFailure(e)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let message = match &self.0 {
            WebError::Internal(detail) => {
                tracing::error!(%detail, "API request failed");
                "internal error".to_string()
            }
            e => e.to_string(),
        };
        (self.0.status(), Json(ApiError { code: self.0.code().into(), message })).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiFailure>;

fn story_id(id: &str) -> Result<StoryId, ApiFailure> {
    id.parse().map_err(|_| ApiFailure(WebError::NotFound))
}

/// A story with everything its page shows.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StoryPageJson {
    /// Summary, sources and written articles (every edition, with sentences, their
    /// source passages, claims, disagreements and revision number).
    #[serde(flatten)]
    pub detail: StoryDetail,
    /// Views counted.
    pub views: u64,
    /// Coverage by language, country and outlet type.
    pub coverage: CoverageBreakdown,
    /// Follow-ups on the same subject: story ids with their similarity.
    pub related: Vec<RelatedStory>,
}

/// A follow-up story.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RelatedStory {
    /// Its id.
    pub id: StoryId,
    /// Similarity of the two stories (0–1).
    pub similarity: f32,
}

/// An edition of the site.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Edition {
    /// ISO 639-1 code.
    pub lang: String,
    /// The language's own name.
    pub name: String,
}

/// A revision with its diff from the one before.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RevisionJson {
    /// Who, when, why.
    pub info: RevisionInfo,
    /// The article as it was at this revision.
    pub article: chorus_core::StoryArticle,
    /// The revision it is compared with.
    pub previous: Option<u32>,
    /// Word-level changes from the previous revision.
    pub diff: Vec<crate::diff::DiffPart>,
}

/// A reader's report as posted to the API.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct ReportRequest {
    /// The story.
    pub story_id: StoryId,
    /// The edition read.
    pub lang: String,
    /// factual, misleading, outdated, translation or other.
    pub kind: String,
    /// What is wrong.
    pub body: String,
    /// A source showing it.
    #[serde(default)]
    pub source_url: Option<String>,
}

/// The answer to a filed report.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReportCreated {
    /// The number to look it up by.
    pub id: String,
    /// `open`.
    pub status: String,
}

/// Query of the revision endpoints.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct EditionQuery {
    /// The edition (default: the story's best-covered language).
    pub lang: Option<String>,
}

/// Query of the search endpoint.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct SearchQuery {
    /// Words to find.
    pub q: String,
    /// Only hits in this language.
    pub lang: Option<String>,
}

/// Story summaries, most independently sourced first.
#[utoipa::path(get, path = "/api/stories", responses((status = 200, body = Vec<StorySummary>)))]
async fn stories(State(state): State<AppState>) -> ApiResult<Vec<StorySummary>> {
    Ok(Json(blocking(&state, |s| s.story_summaries()).await?))
}

/// One story with everything its page shows.
#[utoipa::path(get, path = "/api/stories/{id}", params(("id" = i64, Path, description = "story id")),
    responses((status = 200, body = StoryPageJson), (status = 404, body = ApiError)))]
async fn story(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<StoryPageJson> {
    let id = story_id(&id)?;
    let data = load_story(&state, id).await?;
    let views = crate::reader::view_total(&state, id).await?;
    let edition = choose_edition(&data.detail.articles, &data.detail.summary, &[]);
    let independent = independent_reports(&data.detail, edition);
    let coverage = coverage_breakdown(&data.detail, independent, &data.registry);
    Ok(Json(StoryPageJson {
        related: data.related.iter().map(|&(id, similarity)| RelatedStory { id, similarity }).collect(),
        detail: data.detail,
        views,
        coverage,
    }))
}

async fn edition_of(state: &AppState, id: StoryId, lang: Option<String>) -> Result<String, ApiFailure> {
    let detail = crate::reader::load_detail(state, id).await?;
    let wanted: Vec<String> = lang.into_iter().collect();
    Ok(choose_edition(&detail.articles, &detail.summary, &wanted).ok_or(WebError::NotFound)?.lang.clone())
}

/// The revision history of a story's edition.
#[utoipa::path(get, path = "/api/stories/{id}/revisions", params(("id" = i64, Path, description = "story id"), EditionQuery),
    responses((status = 200, body = Vec<RevisionInfo>), (status = 404, body = ApiError)))]
async fn revisions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<EditionQuery>,
) -> ApiResult<Vec<RevisionInfo>> {
    let id = story_id(&id)?;
    let lang = edition_of(&state, id, q.lang).await?;
    Ok(Json(blocking(&state, move |s| s.story_revisions(id, &lang)).await?))
}

/// One revision with the diff from the one before.
#[utoipa::path(get, path = "/api/stories/{id}/revisions/{n}",
    params(("id" = i64, Path, description = "story id"), ("n" = u32, Path, description = "revision"), EditionQuery),
    responses((status = 200, body = RevisionJson), (status = 404, body = ApiError)))]
async fn revision(
    State(state): State<AppState>,
    Path((id, n)): Path<(String, String)>,
    Query(q): Query<EditionQuery>,
) -> ApiResult<RevisionJson> {
    let id = story_id(&id)?;
    let n: u32 = n.parse().map_err(|_| ApiFailure(WebError::NotFound))?;
    let lang = edition_of(&state, id, q.lang).await?;
    let (info, article, previous, diff) = crate::reader::revision_with_diff(&state, id, lang, n).await?;
    Ok(Json(RevisionJson { info, article, previous, diff }))
}

/// Files an error report (rate-limited per client).
#[utoipa::path(post, path = "/api/reports", request_body = ReportRequest,
    responses((status = 201, body = ReportCreated), (status = 400, body = ApiError), (status = 404, body = ApiError),
        (status = 429, body = ApiError)))]
async fn file_report(
    State(state): State<AppState>,
    client: Client,
    Json(r): Json<ReportRequest>,
) -> Result<(StatusCode, Json<ReportCreated>), ApiFailure> {
    let url = r.source_url.unwrap_or_default();
    let id = store_report(&state, &client, r.story_id, &r.kind, &r.body, &url, &r.lang).await?;
    Ok((StatusCode::CREATED, Json(ReportCreated { id, status: "open".into() })))
}

/// A report and what the editors did with it.
#[utoipa::path(get, path = "/api/reports/{id}", params(("id" = String, Path, description = "report number")),
    responses((status = 200, body = Report), (status = 404, body = ApiError)))]
async fn report(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Report> {
    let id = id.trim().to_ascii_lowercase();
    Ok(Json(blocking(&state, move |s| s.report(&id)).await?.ok_or(WebError::NotFound)?))
}

/// Stories and source articles matching words, in every language.
#[utoipa::path(get, path = "/api/search", params(SearchQuery),
    responses((status = 200, body = Vec<Hit>), (status = 429, body = ApiError)))]
async fn search(State(state): State<AppState>, client: Client, Query(q): Query<SearchQuery>) -> ApiResult<Vec<Hit>> {
    Ok(Json(run_search(&state, &client, &q.q, q.lang).await?.unwrap_or_default()))
}

/// The site's editions.
#[utoipa::path(get, path = "/api/editions", responses((status = 200, body = Vec<Edition>)))]
async fn editions() -> Json<Vec<Edition>> {
    Json(crate::i18n::EDITIONS.iter().map(|u| Edition { lang: u.lang.into(), name: u.name.into() }).collect())
}

/// The OpenAPI document of this API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "chorus",
        description = "Multilingual news synthesis: stories, their sources, revisions, reader reports and search."
    ),
    paths(stories, story, revisions, revision, file_report, report, search, editions),
    components(schemas(ApiError))
)]
pub struct ApiDoc;

async fn openapi() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => ([(axum::http::header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => ApiFailure(WebError::Internal(e.to_string())).into_response(),
    }
}

/// The API's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/stories", get(stories))
        .route("/api/stories/{id}", get(story))
        .route("/api/stories/{id}/revisions", get(revisions))
        .route("/api/stories/{id}/revisions/{n}", get(revision))
        .route("/api/reports", post(file_report))
        .route("/api/reports/{id}", get(report))
        .route("/api/search", get(search))
        .route("/api/editions", get(editions))
        .route("/api/openapi.json", get(openapi))
}

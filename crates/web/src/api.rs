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
use serde::Deserialize;
use utoipa::OpenApi;

/// Every error code of the API with its HTTP status and what it means: the one table
/// behind [`WebError::code`], the JSON error layer over `/api/` (which also turns the
/// framework's own rejections into API errors) and the `enum` of `ApiError.code` in the
/// OpenAPI document.
pub const ERROR_CODES: [(u16, &str, &str); 9] = [
    (400, "bad_request", "a parameter or field is missing or malformed"),
    (403, "forbidden", "a cross-origin write, or not allowed"),
    (404, "not_found", "no such story, revision, report or route"),
    (405, "method_not_allowed", "the route does not take this method"),
    (413, "payload_too_large", "the body is over 64 KB"),
    (415, "unsupported_media_type", "the body is not application/json"),
    (422, "unprocessable_entity", "the JSON does not have the expected fields or types"),
    (429, "too_many_requests", "over a rate limit; try later"),
    (500, "internal", "something failed inside"),
];

/// The code of [`ERROR_CODES`] for `status` (`internal` for a status not in the table).
pub fn error_code(status: StatusCode) -> &'static str {
    ERROR_CODES.iter().find(|(s, _, _)| *s == status.as_u16()).map_or("internal", |(_, code, _)| code)
}

/// An error as the API returns it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// Stable code, one of [`ERROR_CODES`]: `bad_request`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `payload_too_large`, `unsupported_media_type`,
    /// `unprocessable_entity`, `too_many_requests`, `internal`.
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

/// What kind of error a reader reports: the store's [`REPORT_KINDS`] as a type, so the
/// OpenAPI document lists them and anything else is refused (422) before a handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    /// A fact is wrong.
    Factual,
    /// True but misleading.
    Misleading,
    /// No longer true.
    Outdated,
    /// Lost or changed in translation.
    Translation,
    /// Anything else.
    Other,
}

impl ReportKind {
    /// The kind as stored (one of [`REPORT_KINDS`]).
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Factual => "factual",
            ReportKind::Misleading => "misleading",
            ReportKind::Outdated => "outdated",
            ReportKind::Translation => "translation",
            ReportKind::Other => "other",
        }
    }
}

/// An edition's language code: one of the site's editions ([`crate::i18n::EDITIONS`]),
/// listed as the `enum` of its schema; any other value is refused while the request is
/// read (400 in a query, 422 in a body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EditionLang(pub &'static str);

impl<'de> serde::Deserialize<'de> for EditionLang {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = std::borrow::Cow::<str>::deserialize(d)?;
        match crate::i18n::EDITIONS.iter().find(|u| u.lang == code) {
            Some(ui) => Ok(EditionLang(ui.lang)),
            None => {
                let all: Vec<&str> = crate::i18n::EDITIONS.iter().map(|u| u.lang).collect();
                Err(serde::de::Error::custom(format!("lang must be one of {}", all.join(", "))))
            }
        }
    }
}

impl utoipa::PartialSchema for EditionLang {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("An edition of the site (ISO 639-1)."))
            .enum_values(Some(crate::i18n::EDITIONS.iter().map(|u| u.lang)))
            .into()
    }
}

impl utoipa::ToSchema for EditionLang {}

/// The rule for a report's `source_url` (besides at most 2,000 characters): an http(s)
/// address without blanks. The same text is the `pattern` of the field in the OpenAPI
/// document (a test holds the two together), so what the schema allows the API takes.
pub const SOURCE_URL_PATTERN: &str = r"^https?://[^ \t\n\r/?#]+([/?#][^ \t\n\r]*)?$";

/// A reader's report as posted to the API.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct ReportRequest {
    /// The story.
    #[schema(minimum = 1, example = 1)]
    #[serde(deserialize_with = "integer")]
    pub story_id: StoryId,
    /// The edition read.
    pub lang: EditionLang,
    /// What kind of error.
    pub kind: ReportKind,
    /// What is wrong: at least 3 characters once spaces, tabs and line breaks around it
    /// are set aside; at most 5,000.
    #[schema(min_length = 3, max_length = 5000, pattern = "[^ \\t\\n\\r][\\s\\S]+[^ \\t\\n\\r]")]
    pub body: String,
    /// A source showing it: an http(s) address.
    #[serde(default)]
    #[schema(max_length = 2000, pattern = "^https?://[^ \\t\\n\\r/?#]+([/?#][^ \\t\\n\\r]*)?$")]
    pub source_url: Option<String>,
}

/// Reads an integer as JSON Schema counts one: `7` and `7.0` alike (an `integer`
/// schema allows both, so a client may send either).
fn integer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_i64()
        .or_else(|| {
            // Integral and inside i64 (2^63 itself is not: the upper bound is exclusive).
            n.as_f64().filter(|f| f.fract() == 0.0 && *f >= -(2f64.powi(63)) && *f < 2f64.powi(63)).map(|f| f as i64)
        })
        .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a 64-bit integer")))
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
#[into_params(parameter_in = Query)]
pub struct EditionQuery {
    /// The edition (default: the story's best-covered language).
    #[param(inline)]
    pub lang: Option<EditionLang>,
}

/// Query of the search endpoint.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
    responses((status = 200, body = StoryPageJson)))]
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
    responses((status = 200, body = Vec<RevisionInfo>)))]
async fn revisions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<EditionQuery>,
) -> ApiResult<Vec<RevisionInfo>> {
    let id = story_id(&id)?;
    let lang = edition_of(&state, id, q.lang.map(|l| l.0.to_string())).await?;
    Ok(Json(blocking(&state, move |s| s.story_revisions(id, &lang)).await?))
}

/// One revision with the diff from the one before.
#[utoipa::path(get, path = "/api/stories/{id}/revisions/{n}",
    params(("id" = i64, Path, description = "story id"), ("n" = u32, Path, description = "revision"), EditionQuery),
    responses((status = 200, body = RevisionJson)))]
async fn revision(
    State(state): State<AppState>,
    Path((id, n)): Path<(String, String)>,
    Query(q): Query<EditionQuery>,
) -> ApiResult<RevisionJson> {
    let id = story_id(&id)?;
    let n: u32 = n.parse().map_err(|_| ApiFailure(WebError::NotFound))?;
    let lang = edition_of(&state, id, q.lang.map(|l| l.0.to_string())).await?;
    let (info, article, previous, diff) = crate::reader::revision_with_diff(&state, id, lang, n).await?;
    Ok(Json(RevisionJson { info, article, previous, diff }))
}

/// Files an error report (rate-limited per client).
#[utoipa::path(post, path = "/api/reports", request_body = ReportRequest,
    responses((status = 201, body = ReportCreated, description = "Filed; look it up by its id (link `GetReport`).")))]
async fn file_report(
    State(state): State<AppState>,
    client: Client,
    Json(r): Json<ReportRequest>,
) -> Result<(StatusCode, Json<ReportCreated>), ApiFailure> {
    let url = r.source_url.unwrap_or_default();
    let id = store_report(&state, &client, r.story_id, r.kind.as_str(), &r.body, &url, r.lang.0).await?;
    Ok((StatusCode::CREATED, Json(ReportCreated { id, status: "open".into() })))
}

/// A report and what the editors did with it.
#[utoipa::path(get, path = "/api/reports/{id}", params(("id" = String, Path, description = "report number")),
    responses((status = 200, body = Report)))]
async fn report(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Report> {
    let id = id.trim().to_ascii_lowercase();
    Ok(Json(blocking(&state, move |s| s.report(&id)).await?.ok_or(WebError::NotFound)?))
}

/// Stories and source articles matching words, in every language.
#[utoipa::path(get, path = "/api/search", params(SearchQuery),
    responses((status = 200, body = Vec<Hit>)))]
async fn search(State(state): State<AppState>, client: Client, Query(q): Query<SearchQuery>) -> ApiResult<Vec<Hit>> {
    Ok(Json(run_search(&state, &client, &q.q, q.lang).await?.unwrap_or_default()))
}

/// The site's editions.
#[utoipa::path(get, path = "/api/editions", responses((status = 200, body = Vec<Edition>)))]
async fn editions() -> Json<Vec<Edition>> {
    Json(crate::i18n::EDITIONS.iter().map(|u| Edition { lang: u.lang.into(), name: u.name.into() }).collect())
}

/// The errors each operation answers with, by operation id (the handler's name):
/// documented in the OpenAPI document with the meanings of [`ERROR_CODES`]. Every
/// operation can fail inside (500); one with a path or query can get a malformed one
/// (400) or name what does not exist (404); the report form's body adds 403 (cross-origin),
/// 413, 415, 422 and its rate limit 429; search has its rate limit. 405 (another method)
/// belongs to the path, not an operation, and is answered with an `Allow` header.
pub const OPERATION_ERRORS: [(&str, &[u16]); 8] = [
    ("stories", &[500]),
    ("story", &[400, 404, 500]),
    ("revisions", &[400, 404, 500]),
    ("revision", &[400, 404, 500]),
    ("file_report", &[400, 403, 404, 413, 415, 422, 429, 500]),
    ("report", &[400, 404, 500]),
    ("search", &[400, 429, 500]),
    ("editions", &[500]),
];

/// The OpenAPI document of this API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "chorus",
        description = "Multilingual news synthesis: stories, their sources, revisions, reader reports and search."
    ),
    paths(stories, story, revisions, revision, file_report, report, search, editions),
    components(schemas(ApiError)),
    modifiers(&ErrorsAndLinks)
)]
pub struct ApiDoc;

/// Completes the generated document from the tables: the `enum` of `ApiError.code`, each
/// operation's error responses ([`OPERATION_ERRORS`]) and the link from a filed report
/// (201) to `GET /api/reports/{id}`, so a client or a stateful tester can follow it.
struct ErrorsAndLinks;

impl utoipa::Modify for ErrorsAndLinks {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::Schema;
        use utoipa::openapi::{Content, RefOr, ResponseBuilder, link::LinkBuilder};
        if let Some(components) = doc.components.as_mut()
            && let Some(RefOr::T(Schema::Object(error))) = components.schemas.get_mut("ApiError")
            && let Some(RefOr::T(Schema::Object(code))) = error.properties.get_mut("code")
        {
            let codes: Vec<serde_json::Value> = ERROR_CODES.iter().map(|(_, code, _)| (*code).into()).collect();
            code.enum_values = Some(codes);
        }
        for item in doc.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
                let id = operation.operation_id.clone().unwrap_or_default();
                let statuses = OPERATION_ERRORS.iter().find(|(op, _)| *op == id).map_or(&[500][..], |(_, s)| s);
                for status in statuses {
                    let meaning = ERROR_CODES.iter().find(|(s, _, _)| s == status).map_or("error", |(_, _, m)| m);
                    let response = ResponseBuilder::new()
                        .description(meaning)
                        .content(
                            "application/json",
                            Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ApiError")))),
                        )
                        .build();
                    operation.responses.responses.entry(status.to_string()).or_insert(RefOr::T(response));
                }
                if id == "file_report"
                    && let Some(RefOr::T(created)) = operation.responses.responses.get_mut("201")
                {
                    let link = LinkBuilder::new()
                        .operation_id("report")
                        .parameter("id", "$response.body#/id")
                        .description("The report just filed.")
                        .build();
                    created.links.insert("GetReport".into(), RefOr::T(link));
                }
            }
        }
    }
}

async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

/// Under `/api/`, every error is an [`ApiError`] — also what the framework answers by
/// itself (a missing or malformed query, path or JSON body, a wrong content type, a body
/// over the limit, a method the route does not take, an unknown route) and the site's
/// own error pages (a cross-origin write, a panic): the status stays, the body becomes
/// `{"code","message"}` with the code of [`ERROR_CODES`].
pub(crate) async fn errors_as_json(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
    let api = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    let status = res.status();
    if !api || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let content_type = res.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if content_type.starts_with("application/json") {
        return res;
    }
    let plain = content_type.starts_with("text/plain");
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024).await.map(|b| String::from_utf8_lossy(&b).trim().to_string());
    let message = match text {
        Ok(t) if plain && !t.is_empty() => t,
        _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let body = serde_json::to_vec(&ApiError { code: error_code(status).into(), message }).unwrap_or_default();
    parts.headers.insert(CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
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

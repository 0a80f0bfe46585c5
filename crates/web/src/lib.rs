//! chorus-web: the reader's site and the JSON API, served by axum.
//!
//! Pages are rendered on the server with askama templates, which escape every value, so
//! text from sources can never inject markup. Routes:
//!
//! * `GET /` — stories, most independently sourced first (`?page=N`);
//! * `GET /stories/{id}` — a story's article in one edition (`?lang=xx`, else the
//!   reader's `Accept-Language`, else the best-covered language), with a source marker
//!   after every sentence and the list of sources;
//! * `GET /api/stories` — JSON array of story summaries;
//! * `GET /api/stories/{id}` — JSON of the whole story: summary, written articles with
//!   their sentences and source passages, and the source articles;
//! * `GET /healthz` — liveness.

pub mod metrics;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chorus_core::{StoryArticle, StoryDetail, StoryId, StorySummary};
use chorus_store::Store;
use std::collections::HashMap;
use std::sync::Arc;

/// Stories per front-page page.
pub const PAGE_SIZE: usize = 50;

/// Shared state of the web server.
#[derive(Clone)]
pub struct AppState {
    /// Where stories are read from.
    pub store: Arc<dyn Store>,
    /// Counters of the live service (`None` when only serving).
    pub metrics: Option<Arc<metrics::Metrics>>,
}

/// Errors a request can end in; clients see a short message, never internals.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The story or page does not exist.
    #[error("not found")]
    NotFound,
    /// Something failed inside; details go to the log only.
    #[error("internal error")]
    Internal(String),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                Html("<!doctype html><title>Not found</title><h1>Not found</h1><p><a href=\"/\">All stories</a></p>"),
            )
                .into_response(),
            WebError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> chorus_store::Result<T> + Send + 'static,
) -> Result<T, WebError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(|e| WebError::Internal(e.to_string()))
}

/// The application's routes over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/stories/{id}", get(story_page))
        .route("/api/stories", get(api_stories))
        .route("/api/stories/{id}", get(api_story))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics_page))
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    res
}

fn render(t: impl Template) -> Result<Html<String>, WebError> {
    t.render().map(Html).map_err(|e| WebError::Internal(e.to_string()))
}

fn date(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

struct StoryRow {
    id: StoryId,
    title: String,
    languages: String,
    n_sources: usize,
    n_independent: usize,
    n_outlets: usize,
    date: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    page_lang: String,
    total: usize,
    stories: Vec<StoryRow>,
    prev_page: Option<usize>,
    next_page: Option<usize>,
}

async fn index(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Html<String>, WebError> {
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let all = blocking(&state, |s| s.story_summaries()).await?;
    let total = all.len();
    let wanted = preferred_languages(q.get("lang").map(String::as_str), accept_language(&headers));
    let stories: Vec<StoryRow> = all
        .into_iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(|s| StoryRow {
            id: s.id,
            title: wanted.iter().find_map(|l| s.titles.get(l).cloned()).unwrap_or(s.title),
            languages: s.languages.join(", "),
            n_sources: s.n_sources,
            n_independent: s.n_independent,
            n_outlets: s.n_outlets,
            date: date(s.last_published),
        })
        .collect();
    render(IndexPage {
        page_lang: wanted.first().cloned().unwrap_or_else(|| "en".into()),
        total,
        stories,
        prev_page: (page > 1).then(|| page - 1),
        next_page: (page * PAGE_SIZE < total).then_some(page + 1),
    })
}

struct Marker {
    n: usize,
    tooltip: String,
    article_id: String,
}

struct SentenceView {
    text: String,
    lang: String,
    markers: Vec<Marker>,
    disputed: bool,
    /// Only one independent report states it, in a story others confirm.
    single_source: bool,
    /// Written by a language model from the cited claims (not quoted).
    generated: bool,
}

/// One side of a disagreement as the page shows it.
struct SideView {
    values: String,
    outlet: String,
    lang: String,
    sentence: String,
    n: Option<usize>,
}

struct SourceView {
    n: usize,
    outlet: String,
    lang: String,
    title: String,
    url: String,
    date: String,
    duplicate_of: Option<usize>,
}

struct EditionLink {
    lang: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "story.html")]
struct StoryPage {
    page_lang: String,
    id: StoryId,
    title: String,
    edited_by: String,
    written_iso: String,
    written_human: String,
    unconfirmed: bool,
    n_sources: usize,
    n_independent: usize,
    n_outlets: usize,
    languages: String,
    /// News agencies the sources credit, with counts ("AFP (2)").
    wire: String,
    editions: Vec<EditionLink>,
    paragraphs: Vec<Vec<SentenceView>>,
    disagreements: Vec<Vec<SideView>>,
    sources: Vec<SourceView>,
}

fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())
}

/// The reader's languages in order of preference: `?lang=` first, then the
/// `Accept-Language` tags by quality (primary subtags, lower-cased, without repeats).
fn preferred_languages(wanted: Option<&str>, accept: Option<&str>) -> Vec<String> {
    let mut tags: Vec<(f32, String)> = Vec::new();
    if let Some(w) = wanted {
        tags.push((f32::INFINITY, w.to_ascii_lowercase()));
    }
    for part in accept.unwrap_or("").split(',') {
        let mut it = part.trim().split(';');
        let Some(tag) = it.next().map(str::trim).filter(|t| !t.is_empty() && *t != "*") else {
            continue;
        };
        let q = it.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse().ok()).unwrap_or(1.0);
        tags.push((q, tag.split('-').next().unwrap_or(tag).to_ascii_lowercase()));
    }
    tags.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out: Vec<String> = Vec::new();
    for (_, t) in tags {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Picks the edition to show: `?lang=`, else the first `Accept-Language` tag that has an
/// edition, else the story's best-covered language.
fn choose_edition<'a>(
    articles: &'a [StoryArticle],
    summary: &StorySummary,
    wanted: Option<&str>,
    accept: Option<&str>,
) -> Option<&'a StoryArticle> {
    let by_lang = |l: &str| articles.iter().find(|a| a.lang.eq_ignore_ascii_case(l));
    preferred_languages(wanted, accept)
        .iter()
        .chain(summary.languages.iter())
        .find_map(|l| by_lang(l))
        .or_else(|| articles.first())
}

/// Only http(s) links are rendered as links.
fn safe_url(u: &str) -> String {
    let lower = u.trim().to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") { u.trim().to_string() } else { String::new() }
}

fn story_view(detail: StoryDetail, wanted: Option<&str>, accept: Option<&str>) -> StoryPage {
    let StoryDetail { summary, sources, articles } = detail;
    let number: HashMap<&str, usize> =
        sources.iter().enumerate().map(|(i, r)| (r.article.id.as_str(), i + 1)).collect();
    let chosen = choose_edition(&articles, &summary, wanted, accept);
    let paragraphs = chosen
        .map(|a| {
            a.paragraphs
                .iter()
                .map(|p| {
                    p.iter()
                        .map(|s| SentenceView {
                            text: s.text.clone(),
                            lang: s.lang.clone(),
                            disputed: s.disputed,
                            single_source: s.n_independent <= 1 && !a.unconfirmed,
                            generated: s.generated,
                            markers: s
                                .sources
                                .iter()
                                .filter_map(|src| {
                                    number.get(src.article_id.as_str()).map(|&n| Marker {
                                        n,
                                        tooltip: format!("{} ({}): “{}”", src.outlet, src.lang, src.sentence),
                                        article_id: src.article_id.clone(),
                                    })
                                })
                                .collect(),
                        })
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    let disagreements: Vec<Vec<SideView>> = chosen
        .map(|a| {
            a.disagreements
                .iter()
                .map(|d| {
                    d.sides
                        .iter()
                        .filter_map(|side| {
                            // The passage that carries this side's wording (both sides of a
                            // quotation disagreement belong to one claim), else the claim's first.
                            let passages = &a.claims.get(side.claim)?.passages;
                            let p = passages
                                .iter()
                                .find(|p| side.values.iter().all(|v| p.sentence.contains(v.as_str())))
                                .or(passages.first())?;
                            Some(SideView {
                                values: side.values.join(", "),
                                outlet: p.outlet.clone(),
                                lang: p.lang.clone(),
                                sentence: p.sentence.clone(),
                                n: number.get(p.article_id.as_str()).copied(),
                            })
                        })
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    let source_views = sources
        .iter()
        .enumerate()
        .map(|(i, r)| SourceView {
            n: i + 1,
            outlet: r.article.outlet.clone(),
            lang: r.article.lang.clone(),
            title: if r.article.title.is_empty() { "(untitled)".into() } else { r.article.title.clone() },
            url: safe_url(&r.article.url),
            date: date(r.article.published),
            duplicate_of: r.duplicate_of.as_deref().and_then(|d| number.get(d).copied()),
        })
        .collect();
    let current = chosen.map(|a| a.lang.clone()).unwrap_or_default();
    StoryPage {
        page_lang: if current.is_empty() { "en".into() } else { current.clone() },
        id: summary.id,
        title: chosen.map(|a| a.title.clone()).unwrap_or_else(|| summary.title.clone()),
        edited_by: chosen.map(|a| a.edited_by.clone()).unwrap_or_else(|| "chorus".into()),
        written_iso: chosen.map(|a| a.written_at.to_rfc3339()).unwrap_or_default(),
        written_human: chosen
            .map(|a| a.written_at.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "not yet".into()),
        unconfirmed: chosen.map(|a| a.unconfirmed).unwrap_or(summary.n_independent <= 1),
        n_sources: summary.n_sources,
        // Synthesis also recognises translations of one report; its count is the finer one.
        n_independent: chosen.map(|a| a.coverage.independent).filter(|&n| n > 0).unwrap_or(summary.n_independent),
        n_outlets: summary.n_outlets,
        languages: summary.languages.join(", "),
        wire: chosen
            .map(|a| {
                a.coverage.wire_agencies.iter().map(|(name, n)| format!("{name} ({n})")).collect::<Vec<_>>().join(", ")
            })
            .unwrap_or_default(),
        editions: articles.iter().map(|a| EditionLink { lang: a.lang.clone(), current: a.lang == current }).collect(),
        paragraphs,
        disagreements,
        sources: source_views,
    }
}

async fn story_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Html<String>, WebError> {
    let id: StoryId = id.parse().map_err(|_| WebError::NotFound)?;
    let detail = blocking(&state, move |s| s.story_detail(id)).await?.ok_or(WebError::NotFound)?;
    let accept = accept_language(&headers);
    render(story_view(detail, q.get("lang").map(String::as_str), accept))
}

async fn metrics_page(State(state): State<AppState>) -> Result<Response, WebError> {
    let stats = blocking(&state, |s| s.stats()).await?;
    let stored = [
        ("chorus_articles", "Articles stored.", stats.articles as u64),
        ("chorus_duplicate_articles", "Stored articles that copy an earlier one.", stats.duplicates as u64),
        ("chorus_stories", "Stories.", stats.stories as u64),
        ("chorus_story_texts", "Written articles (stories × editions).", stats.story_texts as u64),
    ];
    let text = match &state.metrics {
        Some(m) => m.render(&stored),
        None => metrics::Metrics::default().render(&stored),
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

async fn api_stories(State(state): State<AppState>) -> Result<Json<Vec<StorySummary>>, WebError> {
    Ok(Json(blocking(&state, |s| s.story_summaries()).await?))
}

async fn api_story(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<StoryDetail>, WebError> {
    let id: StoryId = id.parse().map_err(|_| WebError::NotFound)?;
    Ok(Json(blocking(&state, move |s| s.story_detail(id)).await?.ok_or(WebError::NotFound)?))
}

/// Serves the site on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::{Article, ArticleRecord, SourcePassage, SynthSentence};

    fn detail() -> StoryDetail {
        let src = |id: &str, lang: &str, url: &str, title: &str| ArticleRecord {
            article: Article {
                id: id.into(),
                url: url.into(),
                outlet: format!("Outlet <{id}>"),
                lang: lang.into(),
                lang_detected: false,
                published: None,
                title: title.into(),
                text: "t".into(),
            },
            duplicate_of: None,
            story_id: Some(1),
        };
        let sentence = |text: &str, lang: &str, ids: &[&str]| SynthSentence {
            text: text.into(),
            lang: lang.into(),
            n_independent: ids.len(),
            sources: ids
                .iter()
                .map(|id| SourcePassage {
                    article_id: id.to_string(),
                    outlet: format!("Outlet <{id}>"),
                    lang: lang.into(),
                    sentence: format!("\"{text}\""),
                    similarity: 1.0,
                })
                .collect(),
            claim: None,
            disputed: false,
            generated: false,
            claims: Vec::new(),
        };
        let written = |lang: &str, text: &str| StoryArticle {
            story_id: 1,
            lang: lang.into(),
            title: format!("<script>alert('{lang}')</script>"),
            edited_by: "chorus".into(),
            written_at: chrono::Utc::now(),
            paragraphs: vec![vec![
                SynthSentence { disputed: true, claim: Some(0), ..sentence(text, lang, &["a", "b"]) },
                SynthSentence { generated: true, ..sentence("Nur eine Quelle.", lang, &["a"]) },
            ]],
            unconfirmed: false,
            coverage: chorus_core::Coverage { wire_agencies: vec![("AFP".into(), 2)], ..Default::default() },
            claims: ["12", "15"]
                .iter()
                .enumerate()
                .map(|(id, n)| chorus_core::Claim {
                    id,
                    passages: vec![SourcePassage {
                        article_id: ["a", "b"][id].into(),
                        outlet: format!("Outlet {id}"),
                        lang: lang.into(),
                        sentence: format!("<i>{n} dead</i>"),
                        similarity: 1.0,
                    }],
                    n_independent: 1,
                    n_reports: 1,
                    outlets: vec![format!("Outlet {id}")],
                    languages: vec![lang.into()],
                })
                .collect(),
            disagreements: vec![chorus_core::Disagreement {
                kind: "number".into(),
                sides: vec![
                    chorus_core::DisagreementSide { claim: 0, values: vec!["12".into()] },
                    chorus_core::DisagreementSide { claim: 1, values: vec!["15".into()] },
                ],
            }],
            generation: None,
        };
        StoryDetail {
            summary: StorySummary {
                id: 1,
                title: "t".into(),
                languages: vec!["fr".into(), "de".into()],
                n_sources: 2,
                n_independent: 2,
                n_outlets: 2,
                titles: Default::default(),
                first_published: None,
                last_published: None,
                updated: None,
            },
            sources: vec![
                src("a", "fr", "javascript:alert(1)", "<img src=x onerror=alert(1)>"),
                src("b", "de", "https://example.org/b?x=1&y=2", "Titel"),
            ],
            articles: vec![written("de", "Ein Satz <b>fett</b>."), written("fr", "Une phrase.")],
        }
    }

    #[test]
    fn edition_follows_query_then_accept_language_then_coverage() {
        let d = detail();
        let pick =
            |q: Option<&str>, a: Option<&str>| choose_edition(&d.articles, &d.summary, q, a).map(|a| a.lang.clone());
        assert_eq!(pick(Some("de"), Some("fr")), Some("de".into()));
        assert_eq!(pick(Some("xx"), Some("en-GB,de;q=0.8,fr;q=0.5")), Some("de".into()));
        assert_eq!(pick(None, Some("fr-CH, de;q=0.9")), Some("fr".into()));
        assert_eq!(pick(None, Some("ja")), Some("fr".into()), "best-covered language");
        assert_eq!(pick(None, None), Some("fr".into()));
    }

    #[test]
    fn source_text_is_escaped_and_unsafe_links_dropped() {
        let html = render(story_view(detail(), Some("de"), None)).unwrap().0;
        assert!(!html.contains("<script>alert"), "title escaped");
        assert!(html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"));
        assert!(!html.contains("<b>fett</b>"), "sentence escaped");
        assert!(!html.contains("<img src=x"), "source title escaped");
        assert!(!html.contains("javascript:"), "non-http link not rendered");
        assert!(
            html.contains("href=\"https://example.org/b?x=1&#38;y=2\"")
                || html.contains("href=\"https://example.org/b?x=1&amp;y=2\"")
        );
        assert!(html.contains("<html lang=\"de\""));
        assert_eq!(html.matches("class=\"cite\"").count(), 3, "one marker per supporting source");
        assert_eq!(html.matches("class=\"label single\"").count(), 1, "the one-source sentence is marked");
        assert_eq!(html.matches("class=\"label generated\"").count(), 1, "the model-worded sentence is marked");
        assert!(html.contains("href=\"#src-1\"") && html.contains("href=\"#src-2\""));
        assert!(html.contains("class=\"label disputed\""), "disputed sentence marked");
        assert!(html.contains("Where sources disagree"));
        assert!(html.contains("wire copy credited: AFP (2)"), "{html}");
        assert!(html.contains("&lt;i&gt;12 dead&lt;/i&gt;") || html.contains("&#60;i&#62;12 dead"), "{html}");
        assert!(!html.contains("<i>15 dead"), "side sentences escaped");
    }
}

//! chorus-web: the reader's site, the editors' desk, the JSON API and the feeds, served by
//! axum.
//!
//! Pages are rendered on the server with askama templates, which escape every value, so
//! text from sources can never inject markup; the few HTML fragments built in code (Atom
//! entry content) go through ammonia. Pages work without JavaScript: citations open with
//! `<details>`, forms post and redirect. The strict Content-Security-Policy allows no
//! script at all.
//!
//! Modules: [`reader`] (front page, story page, reports, revisions, search), [`editor`]
//! (login, report queue, publishing revisions), [`api`] (JSON + OpenAPI), [`feeds`]
//! (Atom), [`views`] (view counting), [`security`] (passwords, tokens, rate limits),
//! [`i18n`] (the editions' words), [`metrics`] (Prometheus text).

pub mod api;
mod cache;
pub mod diff;
pub mod editor;
pub mod feeds;
pub mod i18n;
pub mod metrics;
pub mod reader;
pub mod security;
pub mod views;

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chorus_core::{StoryId, StorySummary};
use chorus_search::SearchIndex;
use chorus_store::SiteStore;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Stories per front-page page.
pub const PAGE_SIZE: usize = 50;
/// Largest request body accepted (forms and JSON); an edited article fits many times.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Settings of the site.
#[derive(Debug, Clone, Default)]
pub struct SiteConfig {
    /// Mark session cookies `Secure` (the site is served over TLS, possibly by a proxy).
    pub secure_cookies: bool,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy you run).
    pub trust_forwarded: bool,
    /// The site's public address (`https://news.example.org`), for absolute links in
    /// feeds. Without it feeds take the address from the request: the forwarded host and
    /// scheme behind a trusted proxy, else a `Host` header in [`SiteConfig::allowed_hosts`]
    /// or on loopback.
    pub public_url: Option<String>,
    /// `Host` header values (`news.example.org`, `news.example.org:8080`) feeds may build
    /// their absolute links from when no public address is set; others get site-relative
    /// links (a forged Host must not end up in a cached feed).
    pub allowed_hosts: Vec<String>,
    /// A secret every web node of one site shares (≥ 16 characters): forms signed by one
    /// node are accepted by the others, and a visitor is counted once whichever node they
    /// reach. `None`: random per process (one web node; forms expire on restart).
    pub secret: Option<String>,
    /// Error reports one address may file per 10 minutes (`None`: 5). A newsroom whose
    /// readers share one address raises it; so does a contract test of the API.
    pub report_limit: Option<u32>,
    /// Searches one address may run per minute (`None`: 60).
    pub search_limit: Option<u32>,
}

impl SiteConfig {
    /// The site's absolute address (`scheme://host[:port]`, no trailing slash) for a
    /// request with `headers`: the public address; else, with `trust_forwarded`, the
    /// proxy's `X-Forwarded-Proto`/`X-Forwarded-Host` (or `Host`); else a `Host` that is
    /// allowed or on loopback, over http (https when cookies are marked secure). `None`
    /// when none of these holds: links stay site-relative.
    pub fn base_url(&self, headers: &axum::http::HeaderMap) -> Option<String> {
        if let Some(base) = &self.public_url {
            return Some(base.trim_end_matches('/').to_string());
        }
        let header = |name: &str| {
            headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.split(',').next().unwrap_or_default().trim())
        };
        let valid_host = |h: &str| {
            !h.is_empty() && h.len() <= 255 && h.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
        };
        if self.trust_forwarded {
            let host = header("x-forwarded-host").or(header("host")).filter(|h| valid_host(h))?;
            let scheme = match header("x-forwarded-proto") {
                Some("https") => "https",
                Some("http") => "http",
                _ if self.secure_cookies => "https",
                _ => "http",
            };
            return Some(format!("{scheme}://{}", host.to_ascii_lowercase()));
        }
        let host = header("host").filter(|h| valid_host(h))?.to_ascii_lowercase();
        // The name without the port: `[::1]:8080` → `::1`, `localhost:8080` → `localhost`.
        let name = match host.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or_default(),
            None => host.split(':').next().unwrap_or_default(),
        };
        let loopback = name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let allowed = self.allowed_hosts.iter().any(|a| a.eq_ignore_ascii_case(&host) || a.eq_ignore_ascii_case(name));
        (loopback || allowed).then(|| format!("{}://{host}", if self.secure_cookies { "https" } else { "http" }))
    }
}

/// Rate limits per client.
pub struct Limits {
    /// Error reports: 5 per 10 minutes.
    pub reports: security::RateLimiter,
    /// Failed logins per address: 10 per 15 minutes.
    pub login_address: security::RateLimiter,
    /// Failed logins per user name: 5 per 15 minutes.
    pub login_user: security::RateLimiter,
    /// Searches: 60 per minute.
    pub search: security::RateLimiter,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(&SiteConfig::default())
    }
}

impl Limits {
    /// The limits of `config` (its report and search limits, else the defaults above).
    pub fn new(config: &SiteConfig) -> Limits {
        let min = |m: u64| Duration::from_secs(60 * m);
        Limits {
            reports: security::RateLimiter::new(config.report_limit.unwrap_or(5), min(10)),
            login_address: security::RateLimiter::new(10, min(15)),
            login_user: security::RateLimiter::new(5, min(15)),
            search: security::RateLimiter::new(config.search_limit.unwrap_or(60), min(1)),
        }
    }
}

/// Shared state of the web server.
#[derive(Clone)]
pub struct AppState {
    /// Where stories, reports, editors and views are kept.
    pub store: Arc<dyn SiteStore>,
    /// Counters of the live service (`None` when only serving).
    pub metrics: Option<Arc<metrics::Metrics>>,
    /// The full-text index (`None`: search answers that it is not available).
    pub search: Option<Arc<SearchIndex>>,
    /// Settings.
    pub config: Arc<SiteConfig>,
    /// Signs the anonymous forms.
    pub forms: Arc<security::FormSigner>,
    /// Counts views.
    pub views: Arc<views::ViewCounter>,
    /// Rate limits.
    pub limits: Arc<Limits>,
    /// Bumped on every write through the site or the pipeline, so cached pages are redone.
    pub generation: Arc<AtomicU64>,
    /// Counters of the site for `/metrics`.
    pub counters: Arc<metrics::SiteCounters>,
    cache: Arc<cache::PageCache>,
}

impl AppState {
    /// State over `store`, with fresh secrets.
    pub fn new(
        store: Arc<dyn SiteStore>,
        metrics: Option<Arc<metrics::Metrics>>,
        search: Option<Arc<SearchIndex>>,
        config: SiteConfig,
    ) -> Result<AppState, security::SecurityError> {
        Ok(AppState {
            store,
            metrics,
            search,
            forms: Arc::new(match &config.secret {
                Some(secret) => security::FormSigner::from_secret(secret)?,
                None => security::FormSigner::random()?,
            }),
            views: Arc::new(match &config.secret {
                Some(secret) => views::ViewCounter::with_secret(secret)?,
                None => views::ViewCounter::new()?,
            }),
            limits: Arc::new(Limits::new(&config)),
            config: Arc::new(config),
            generation: Arc::new(AtomicU64::new(0)),
            counters: Arc::new(metrics::SiteCounters::default()),
            cache: Arc::new(cache::PageCache::default()),
        })
    }

    /// Tells the site that stored content changed (cached pages are dropped).
    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Story summaries, cached for a few seconds (the front page, related stories, feeds).
    pub(crate) async fn summaries(&self) -> Result<Arc<Vec<StorySummary>>, WebError> {
        let generation = self.generation.load(Ordering::Relaxed);
        match self.cache.summaries(generation) {
            cache::Lookup::Hit(s) => Ok(s),
            cache::Lookup::Refresh(s) => {
                let state = self.clone();
                tokio::spawn(async move {
                    if let Ok(all) = blocking(&state, |s| s.story_summaries()).await {
                        state.cache.put_summaries(generation, Arc::new(all));
                    }
                });
                Ok(s)
            }
            cache::Lookup::Miss => {
                let all = Arc::new(blocking(self, |s| s.story_summaries()).await?);
                self.cache.put_summaries(generation, all.clone());
                Ok(all)
            }
        }
    }

    /// A rendered page from the cache, else rendered by `make` (and cached); a stale page
    /// is served while `make` runs in the background.
    pub(crate) async fn cached_page<F, Fut>(&self, key: String, make: F) -> Result<Arc<str>, WebError>
    where
        F: FnOnce(AppState) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<Arc<str>, WebError>> + Send + 'static,
    {
        let generation = self.generation.load(Ordering::Relaxed);
        match self.cache.page(&key, generation) {
            cache::Lookup::Hit(p) => Ok(p),
            cache::Lookup::Refresh(p) => {
                let state = self.clone();
                tokio::spawn(async move {
                    match make(state.clone()).await {
                        Ok(page) => state.cache.put_page(key, generation, page),
                        Err(e) => tracing::warn!(error = %e, "refreshing a cached page failed"),
                    }
                });
                Ok(p)
            }
            cache::Lookup::Miss => {
                let page = make(self.clone()).await?;
                self.cache.put_page(key, generation, page.clone());
                Ok(page)
            }
        }
    }
}

/// Errors a request can end in; clients see a short message, never internals.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The story or page does not exist.
    #[error("not found")]
    NotFound,
    /// The request was malformed or a form failed its checks.
    #[error("{0}")]
    BadRequest(String),
    /// Not logged in, or the session cannot do this.
    #[error("forbidden")]
    Forbidden,
    /// The client is over a rate limit.
    #[error("too many requests")]
    TooMany,
    /// Something failed inside; details go to the log only.
    #[error("internal error")]
    Internal(String),
}

impl WebError {
    fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Forbidden => StatusCode::FORBIDDEN,
            WebError::TooMany => StatusCode::TOO_MANY_REQUESTS,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable error code the API and OpenAPI document use ([`api::ERROR_CODES`]).
    pub fn code(&self) -> &'static str {
        api::error_code(self.status())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    ui: &'static i18n::Ui,
    page_lang: &'static str,
    switch_path: &'static str,
    editions: Vec<reader::EditionSwitch>,
    title: String,
    message: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let ui = &i18n::EN;
        let message = match &self {
            WebError::NotFound => ui.not_found.to_string(),
            WebError::BadRequest(m) => format!("{}: {m}", ui.bad_form),
            WebError::Forbidden => "Forbidden".into(),
            WebError::TooMany => ui.too_many_requests.into(),
            WebError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                "Internal error".into()
            }
        };
        let page = ErrorPage {
            ui,
            page_lang: ui.lang,
            switch_path: "/",
            editions: reader::switches(ui),
            title: self.status().to_string(),
            message,
        };
        let body = page.render().unwrap_or_else(|_| "error".into());
        let mut res = (self.status(), Html(body)).into_response();
        if matches!(self, WebError::TooMany) {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("600"));
        }
        res
    }
}

/// Runs a store call on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn SiteStore) -> chorus_store::Result<T> + Send + 'static,
) -> Result<T, WebError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(|e| WebError::Internal(e.to_string()))
}

/// Who is asking: the client's address (for rate limits and the view hash, never
/// stored), User-Agent, whether the request came over TLS and whether it is a prefetch.
#[derive(Debug, Clone)]
pub struct Client {
    /// The client's address.
    pub address: String,
    /// Its User-Agent.
    pub user_agent: String,
    /// Came over TLS (directly or per `X-Forwarded-Proto` from a trusted proxy).
    pub https: bool,
    /// A browser prefetch.
    pub prefetch: bool,
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let socket = parts.extensions.get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        let forwarded = state
            .config
            .trust_forwarded
            .then(|| header("x-forwarded-for").and_then(|v| v.split(',').next()).map(|s| s.trim().to_string()))
            .flatten();
        Ok(Client {
            address: forwarded.or(socket).unwrap_or_else(|| "unknown".into()),
            user_agent: header("user-agent").unwrap_or("").to_string(),
            https: state.config.secure_cookies
                || state.config.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
                || (state.config.trust_forwarded && header("x-forwarded-proto") == Some("https")),
            prefetch: header("sec-purpose").is_some_and(|v| v.contains("prefetch"))
                || header("purpose") == Some("prefetch"),
        })
    }
}

/// The reader's languages in order of preference: `?lang=` first, then the
/// `Accept-Language` tags by quality (primary subtags, lower-cased, without repeats).
pub fn preferred_languages(wanted: Option<&str>, accept: Option<&str>) -> Vec<String> {
    let mut tags: Vec<(f32, String)> = Vec::new();
    if let Some(w) = wanted.filter(|w| !w.is_empty()) {
        tags.push((f32::INFINITY, w.to_ascii_lowercase()));
    }
    for part in accept.unwrap_or("").split(',') {
        let mut it = part.trim().split(';');
        let Some(tag) = it.next().map(str::trim).filter(|t| !t.is_empty() && *t != "*") else {
            continue;
        };
        let q = it.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse().ok()).unwrap_or(1.0);
        if q > 0.0 {
            tags.push((q, tag.split('-').next().unwrap_or(tag).to_ascii_lowercase()));
        }
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

/// The `Accept-Language` header.
pub(crate) fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())
}

/// The edition (interface language) for a request: `?lang=` when it names an edition,
/// else the first `Accept-Language` tag that does, else English.
pub fn edition_for(wanted: Option<&str>, accept: Option<&str>) -> &'static i18n::Ui {
    preferred_languages(wanted, accept).iter().find(|l| i18n::has_edition(l)).map(|l| i18n::ui(l)).unwrap_or(&i18n::EN)
}

/// Only http(s) links are rendered as links.
pub(crate) fn safe_url(u: &str) -> String {
    match url::Url::parse(u.trim()) {
        Ok(p) if matches!(p.scheme(), "http" | "https") => p.to_string(),
        _ => String::new(),
    }
}

pub(crate) fn render(t: impl Template) -> Result<Html<String>, WebError> {
    t.render().map(Html).map_err(|e| WebError::Internal(e.to_string()))
}

/// The Content-Security-Policy of every response: no script, styles only from the site.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

/// Refuses state-changing requests whose `Origin` names another site (a second line of
/// defence behind the CSRF tokens).
async fn same_origin(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if req.method() != axum::http::Method::GET && req.method() != axum::http::Method::HEAD {
        let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok());
        let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok());
        if let (Some(origin), Some(host)) = (origin, host) {
            let origin_host = url::Url::parse(origin).ok().map(|u| match u.port() {
                Some(p) => format!("{}:{p}", u.host_str().unwrap_or("")),
                None => u.host_str().unwrap_or("").to_string(),
            });
            if origin == "null" || origin_host.as_deref() != Some(host) {
                return WebError::Forbidden.into_response();
            }
        }
    }
    next.run(req).await
}

/// The stylesheet (served from the site so the policy can forbid inline styles).
pub const STYLESHEET: &str = include_str!("../templates/site.css");

/// The application's routes over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(reader::front_page))
        .route("/stories/{id}", get(reader::story_page))
        .route("/stories/{id}/reports", post(reader::file_report))
        .route("/stories/{id}/revisions", get(reader::revisions_page))
        .route("/stories/{id}/revisions/{n}", get(reader::revision_page))
        .route("/stories/{id}/feed.atom", get(feeds::story_feed))
        .route("/reports", get(reader::report_lookup))
        .route("/reports/{rid}", get(reader::report_page))
        .route("/search", get(reader::search_page))
        .route("/feeds/{file}", get(feeds::edition_feed))
        .route("/static/site.css", get(stylesheet))
        .route("/editor/login", get(editor::login_form).post(editor::login))
        .route("/editor/logout", post(editor::logout))
        .route("/editor", get(editor::queue))
        .route("/editor/reports/{rid}", post(editor::resolve))
        .route("/editor/stories/{id}/edit", get(editor::edit_form).post(editor::publish))
        .route("/editor/stories/{id}/rewrite", post(editor::rewrite))
        .route("/editor/stories/{id}/draft", get(editor::draft_review).post(editor::draft_decide))
        .merge(api::routes())
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics_page))
        .fallback(|| async { WebError::NotFound })
        .with_state(state)
        .layer(axum::middleware::from_fn(same_origin))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            WebError::Internal("a request handler panicked".into()).into_response()
        }))
        .layer(axum::middleware::from_fn(api::errors_as_json))
        .layer(axum::middleware::map_response(security_headers))
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], STYLESHEET)
        .into_response()
}

async fn metrics_page(axum::extract::State(state): axum::extract::State<AppState>) -> Result<Response, WebError> {
    let stats = blocking(&state, |s| s.stats()).await?;
    let stored = [
        ("chorus_articles", "Articles stored.", stats.articles as u64),
        ("chorus_duplicate_articles", "Stored articles that copy an earlier one.", stats.duplicates as u64),
        ("chorus_stories", "Stories.", stats.stories as u64),
        ("chorus_story_texts", "Written articles (stories × editions).", stats.story_texts as u64),
    ];
    let mut text = match &state.metrics {
        Some(m) => m.render(&stored),
        None => metrics::Metrics::default().render(&stored),
    };
    text.push_str(&state.counters.render());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

/// Keeps the search index up to date: indexes every story at start, then every
/// `every` re-indexes the stories updated since (and drops deleted ones).
pub async fn keep_search_index(state: AppState, every: Duration) {
    let Some(index) = state.search.clone() else { return };
    let mut indexed: std::collections::HashMap<StoryId, Option<chrono::DateTime<chrono::Utc>>> = Default::default();
    loop {
        match refresh_index(&state, &index, &mut indexed).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(stories = n, documents = index.len(), "search index updated"),
            Err(e) => tracing::warn!(error = %e, "search index update failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Re-indexes changed stories once; returns how many were (re)indexed.
pub async fn refresh_index(
    state: &AppState,
    index: &Arc<SearchIndex>,
    indexed: &mut std::collections::HashMap<StoryId, Option<chrono::DateTime<chrono::Utc>>>,
) -> Result<usize, WebError> {
    let summaries = state.summaries().await?;
    let changed: Vec<StoryId> =
        summaries.iter().filter(|s| indexed.get(&s.id) != Some(&s.updated)).map(|s| s.id).collect();
    let live: std::collections::HashSet<StoryId> = summaries.iter().map(|s| s.id).collect();
    let gone: Vec<StoryId> = indexed.keys().filter(|id| !live.contains(id)).copied().collect();
    let index = index.clone();
    let ids = changed.clone();
    let gone_ids = gone.clone();
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || -> Result<(), String> {
        for chunk in ids.chunks(200) {
            let mut details = Vec::with_capacity(chunk.len());
            for id in chunk {
                if let Some(d) = store.story_detail(*id).map_err(|e| e.to_string())? {
                    details.push(d);
                }
            }
            index.index_stories(&details).map_err(|e| e.to_string())?;
        }
        if !gone_ids.is_empty() {
            index.remove_stories(&gone_ids).map_err(|e| e.to_string())?;
        }
        Ok(())
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?
    .map_err(WebError::Internal)?;
    for id in gone {
        indexed.remove(&id);
    }
    let updated: std::collections::HashMap<StoryId, _> = summaries.iter().map(|s| (s.id, s.updated)).collect();
    for id in &changed {
        indexed.insert(*id, updated.get(id).copied().flatten());
    }
    Ok(changed.len())
}

/// How often queued views are written to the store ([`keep_views_flushed`]): the most a
/// crash can lose.
pub const VIEW_FLUSH_EVERY: Duration = Duration::from_secs(2);

/// Writes the queued views to the store in one transaction; returns how many were
/// counted. Views the store already had (another web node counted the visitor) are not,
/// and their stories' totals are read again. When the store refuses the write, the views
/// go back to the queue for the next try and the error is returned.
pub async fn flush_views(state: &AppState) -> Result<usize, WebError> {
    let batch = state.views.take_pending();
    if batch.is_empty() {
        return Ok(0);
    }
    let keep_from = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    let store = state.store.clone();
    let rows = batch.clone();
    let written = tokio::task::spawn_blocking(move || store.record_views(&rows, &keep_from))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let counted = match written {
        Ok(counted) => counted,
        Err(reason) => {
            state.views.requeue(batch);
            return Err(WebError::Internal(reason));
        }
    };
    let mut recount: Vec<StoryId> =
        batch.iter().zip(&counted).filter(|(_, new)| !**new).map(|(v, _)| v.story).collect();
    recount.sort_unstable();
    recount.dedup();
    for id in recount {
        let stored = blocking(state, move |s| s.story_views(id)).await?;
        state.views.set(id, stored + state.views.pending_of(id));
    }
    Ok(counted.iter().filter(|n| **n).count())
}

/// Flushes queued views every `every` until the process ends.
pub async fn keep_views_flushed(state: AppState, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = flush_views(&state).await {
            tracing::warn!(error = %e, "storing views failed; they stay queued");
        }
    }
}

/// Serves the site on `listener` until `shutdown` resolves (client addresses are passed
/// to the handlers for rate limits and view counting); queued views are flushed every
/// [`VIEW_FLUSH_EVERY`] meanwhile and once more at the end.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let flusher = tokio::spawn(keep_views_flushed(state.clone(), VIEW_FLUSH_EVERY));
    // No Nagle delay: a response is written whole, and its last short segment must not
    // wait for the client's (delayed) acknowledgement of the one before.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY refused");
        }
    });
    let served = axum::serve(listener, router(state.clone()).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    flusher.abort();
    if let Err(e) = flush_views(&state).await {
        tracing::warn!(error = %e, "storing the last views failed");
    }
    served
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_site_address_comes_from_configuration_or_a_trusted_request() {
        let headers = |pairs: &[(&str, &str)]| {
            let mut h = axum::http::HeaderMap::new();
            for (k, v) in pairs {
                h.insert(axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"), v.parse().expect("value"));
            }
            h
        };
        let mut c = SiteConfig::default();
        // Loopback is always allowed; any other Host is not, unless configured.
        assert_eq!(c.base_url(&headers(&[("host", "127.0.0.1:8080")])).as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(c.base_url(&headers(&[("host", "[::1]:8080")])).as_deref(), Some("http://[::1]:8080"));
        assert_eq!(c.base_url(&headers(&[("host", "localhost")])).as_deref(), Some("http://localhost"));
        assert_eq!(c.base_url(&headers(&[("host", "evil.example")])), None);
        assert_eq!(c.base_url(&headers(&[("host", "a\"b")])), None);
        assert_eq!(c.base_url(&headers(&[])), None);
        c.allowed_hosts = vec!["news.example.org".into()];
        assert_eq!(
            c.base_url(&headers(&[("host", "News.Example.org:8443")])).as_deref(),
            Some("http://news.example.org:8443")
        );
        // Forwarded headers count only behind a trusted proxy.
        let proxied =
            headers(&[("host", "10.0.0.5"), ("x-forwarded-host", "news.example.org"), ("x-forwarded-proto", "https")]);
        assert_eq!(c.base_url(&proxied), None);
        c.trust_forwarded = true;
        assert_eq!(c.base_url(&proxied).as_deref(), Some("https://news.example.org"));
        // The configured public address wins over everything.
        c.public_url = Some("https://news.example.org/".into());
        assert_eq!(c.base_url(&headers(&[("host", "127.0.0.1")])).as_deref(), Some("https://news.example.org"));
    }

    #[test]
    fn preferred_languages_follow_quality_and_skip_refusals() {
        assert_eq!(preferred_languages(Some("IT"), Some("de-CH, fr;q=0.5, en;q=0")), vec!["it", "de", "fr"]);
        assert_eq!(edition_for(None, Some("ja, es;q=0.8")).lang, "es");
        assert_eq!(edition_for(Some("xx"), None).lang, "en");
    }
}

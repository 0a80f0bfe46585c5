//! Settings shared by every command: where data lives, threads, model and stage parameters.

use chorus_cluster::ClusterConfig;
use chorus_store::SiteStore;
use chorus_synth::SynthConfig;
use std::path::PathBuf;
use std::sync::Arc;

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("opening the database {what}: {reason}")]
pub struct OpenError {
    /// The database (address without password, or file).
    pub what: String,
    /// Why.
    pub reason: String,
}

/// Everything the pipeline needs to know, gathered from flags and the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Folder for the database and rejected input.
    pub data_dir: PathBuf,
    /// Where the data is kept: a PostgreSQL address (`postgres://…`) or `sqlite:PATH`;
    /// `None`: the SQLite file `chorus.db` in `data_dir`.
    pub database: Option<String>,
    /// Folder with the model files (fetched there if missing).
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
    /// The optional language-model writer.
    pub llm: crate::llm::LlmConfig,
}

/// Default thread count: all cores but one (at least one). On a shared 2-core machine one
/// busy thread beats two contended ones.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get().saturating_sub(1).max(1)).unwrap_or(1)
}

/// Default data folder: `$CHORUS_DATA_DIR`, else `$XDG_DATA_HOME/chorus`, else
/// `~/.local/share/chorus`.
pub fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CHORUS_DATA_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(d).join("chorus");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".local").join("share").join("chorus"))
        .unwrap_or_else(|| PathBuf::from("chorus-data"))
}

/// Default model folder: `$CHORUS_MODEL_DIR`, else `<cache>/models/multilingual-e5-small`.
pub fn default_model_dir() -> PathBuf {
    std::env::var_os("CHORUS_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| chorus_embed::fetch::default_cache_dir().join("models").join("multilingual-e5-small"))
}

impl Config {
    /// Defaults with the given data folder.
    pub fn with_data_dir(data_dir: PathBuf) -> Config {
        Config {
            data_dir,
            database: None,
            model_dir: default_model_dir(),
            threads: default_threads(),
            max_tokens: 128,
            lead_chars: 600,
            duplicate_threshold: 0.8,
            cluster: ClusterConfig::default(),
            synth: SynthConfig::default(),
            llm: crate::llm::LlmConfig::default(),
        }
    }

    /// Path of the SQLite database in the data folder (used when no `database` is set).
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("chorus.db")
    }

    /// The database address in use: `database`, else `sqlite:<data_dir>/chorus.db`.
    pub fn database_address(&self) -> String {
        self.database.clone().unwrap_or_else(|| format!("sqlite:{}", self.database_path().display()))
    }

    /// The address as it may be shown (password removed).
    pub fn database_label(&self) -> String {
        match &self.database {
            Some(a) => chorus_store::redact(a),
            None => self.database_path().display().to_string(),
        }
    }

    /// Opens the store (creating the data folder for the default SQLite file).
    pub fn open_store(&self) -> Result<Arc<dyn SiteStore>, OpenError> {
        if self.database.is_none() {
            std::fs::create_dir_all(&self.data_dir)
                .map_err(|e| OpenError { what: self.data_dir.display().to_string(), reason: e.to_string() })?;
        }
        chorus_store::open(&self.database_address())
            .map_err(|e| OpenError { what: self.database_label(), reason: e.to_string() })
    }
}

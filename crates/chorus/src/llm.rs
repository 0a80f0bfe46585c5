//! The optional language-model stage: which backend, how it is reached, and what it cost.
//!
//! Off by default (`none`): chorus writes extractively. `openai` talks to any
//! OpenAI-compatible endpoint; `llama` runs a local GGUF in-process (cargo feature
//! `llama`; without `--llm-gguf` it fetches the pinned SmolLM2-135M, which is only good
//! for testing the plumbing). Every answer is cached on disk, counted in [`LlmStage::usage`],
//! and verified sentence by sentence by `chorus_synth::llm::rewrite`.

use chorus_llm::cache::CachedChat;
use chorus_llm::openai::{OpenAiChat, OpenAiConfig};
use chorus_llm::{ChatModel, LlmError, Metered, Prices, RetryPolicy, Usage};
use chorus_models::ModelCache;
use chorus_synth::llm::LlmWriteConfig;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Which language model writes the articles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LlmBackend {
    /// None: extractive articles only.
    #[default]
    None,
    /// An OpenAI-compatible chat endpoint.
    Openai,
    /// A local GGUF model through llama.cpp (needs the `llama` cargo feature).
    Llama,
}

/// The model stage could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LlmSetupError {
    /// The pinned test model could not be fetched.
    #[error("fetching the SmolLM2 test model: {0}")]
    Fetch(#[from] chorus_models::FetchError),
    /// The local model did not load.
    #[error(transparent)]
    Model(#[from] LlmError),
    /// `--llm llama` in a build without the `llama` feature.
    #[error(
        "this chorus was built without the `llama` feature; rebuild with \
         `cargo build --release --features llama` (needs cmake and libclang), or use --llm openai"
    )]
    NotBuilt,
}

/// Everything the model stage needs (part of [`crate::settings::Settings`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LlmConfig {
    /// Backend.
    pub backend: LlmBackend,
    /// Endpoint base URL (`openai`).
    pub endpoint: String,
    /// Model name sent to the endpoint (`openai`).
    pub model: String,
    /// Bearer token (`openai`).
    pub api_key: Option<String>,
    /// Seconds one request may take.
    pub timeout_secs: u64,
    /// Retries on connection trouble, timeouts, 429 and 5xx.
    pub retries: u32,
    /// GGUF file (`llama`; default: the pinned SmolLM2 test model, fetched).
    pub gguf: Option<PathBuf>,
    /// Context window of the local model, in tokens.
    pub context_tokens: u32,
    /// CPU threads of the local model.
    pub threads: usize,
    /// Response cache folder (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Token prices for cost accounting.
    pub prices: Prices,
    /// Prompting and verification.
    pub write: LlmWriteConfig,
    /// Editions the model writes for every story, also where no source is in the language.
    pub editions: Vec<String>,
    /// Where the pinned test model is cached and fetched from.
    pub models: ModelCache,
}

impl LlmConfig {
    /// Defaults, with the response cache and the test model in `models`' folder.
    pub fn in_cache(models: &ModelCache) -> Self {
        LlmConfig {
            backend: LlmBackend::None,
            endpoint: "http://127.0.0.1:11434/v1".into(),
            model: "llama3.1".into(),
            api_key: None,
            timeout_secs: 120,
            retries: 2,
            gguf: None,
            context_tokens: 2048,
            threads: 1,
            cache_dir: Some(models.dir.join("llm-responses")),
            prices: Prices::default(),
            write: LlmWriteConfig::default(),
            editions: ["en", "de", "fr", "es", "it"].map(String::from).to_vec(),
            models: models.clone(),
        }
    }
}

/// A ready model stage.
pub struct LlmStage {
    /// The model, cached and metered.
    pub model: Box<dyn ChatModel>,
    /// Requests, cache hits, failures, tokens and cost so far.
    pub usage: Arc<Usage>,
    /// Prompting and verification.
    pub write: LlmWriteConfig,
    /// Editions written for every story (see [`LlmConfig::editions`]).
    pub editions: Vec<String>,
}

/// Builds the configured stage; `None` for the `none` backend.
pub fn build(config: &LlmConfig) -> Result<Option<LlmStage>, LlmSetupError> {
    let model: Box<dyn ChatModel> = match config.backend {
        LlmBackend::None => return Ok(None),
        LlmBackend::Openai => Box::new(OpenAiChat::new(OpenAiConfig {
            endpoint: config.endpoint.clone(),
            model: config.model.clone(),
            api_key: config.api_key.clone(),
            timeout: Duration::from_secs(config.timeout_secs.max(1)),
            retry: RetryPolicy { retries: config.retries, ..RetryPolicy::default() },
        })),
        LlmBackend::Llama => local_model(config)?,
    };
    let model: Box<dyn ChatModel> = match &config.cache_dir {
        Some(dir) => Box::new(CachedChat::new(model, dir.clone())),
        None => model,
    };
    let usage = Arc::new(Usage::default());
    let model = Box::new(Metered::new(model, usage.clone(), config.prices));
    tracing::info!(model = %model.id(), "LLM stage on: each generated sentence is verified against its claims");
    Ok(Some(LlmStage { model, usage, write: config.write, editions: config.editions.clone() }))
}

#[cfg(feature = "llama")]
fn local_model(config: &LlmConfig) -> Result<Box<dyn ChatModel>, LlmSetupError> {
    let path = match &config.gguf {
        Some(p) => p.clone(),
        None => {
            let dir = config.models.ensure(&config.models.model_dir("smollm2"), &[chorus_llm::SMOLLM2], |_| {})?;
            dir.join(chorus_llm::SMOLLM2.file_name)
        }
    };
    let chat = chorus_llm::llama::LlamaChat::load(chorus_llm::llama::LlamaConfig {
        path,
        context_tokens: config.context_tokens,
        threads: i32::try_from(config.threads.max(1)).unwrap_or(1),
    })?;
    Ok(Box::new(chat))
}

#[cfg(not(feature = "llama"))]
fn local_model(_: &LlmConfig) -> Result<Box<dyn ChatModel>, LlmSetupError> {
    Err(LlmSetupError::NotBuilt)
}

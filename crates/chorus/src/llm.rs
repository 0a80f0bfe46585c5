//! The optional language-model stage: which backend, how it is reached, and what it cost.
//!
//! Off by default (`none`): chorus writes extractively. `openai` talks to any
//! OpenAI-compatible endpoint; `llama` runs a local GGUF in-process (cargo feature
//! `llama`; without `--llm-gguf` it fetches the pinned SmolLM2-135M, which is only good
//! for testing the plumbing). Every answer is cached on disk, counted in [`LlmStage::usage`],
//! and verified sentence by sentence by `chorus_synth::llm::rewrite`.

use anyhow::Result;
use chorus_llm::cache::CachedChat;
use chorus_llm::openai::{OpenAiChat, OpenAiConfig};
use chorus_llm::{ChatModel, Metered, Prices, RetryPolicy, Usage};
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

/// Everything the model stage needs, from flags and the environment.
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
}

impl Default for LlmConfig {
    fn default() -> Self {
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
            cache_dir: Some(chorus_embed::fetch::default_cache_dir().join("llm-responses")),
            prices: Prices::default(),
            write: LlmWriteConfig::default(),
            editions: ["en", "de", "fr", "es", "it"].map(String::from).to_vec(),
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
pub fn build(config: &LlmConfig) -> Result<Option<LlmStage>> {
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

/// Where the pinned test model is cached.
pub fn default_gguf_dir() -> PathBuf {
    chorus_embed::fetch::default_cache_dir().join("models").join("smollm2")
}

#[cfg(feature = "llama")]
fn local_model(config: &LlmConfig) -> Result<Box<dyn ChatModel>> {
    use anyhow::Context;
    let path = match &config.gguf {
        Some(p) => p.clone(),
        None => {
            let dir = chorus_models::ensure(&default_gguf_dir(), &[chorus_llm::SMOLLM2], |_| {})
                .context("fetching the SmolLM2 test model")?;
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
fn local_model(_: &LlmConfig) -> Result<Box<dyn ChatModel>> {
    anyhow::bail!(
        "this chorus was built without the `llama` feature; rebuild with \
         `cargo build --release --features llama` (needs cmake and libclang), or use --llm openai"
    )
}

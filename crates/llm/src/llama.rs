//! A local GGUF model run in-process by llama.cpp (`llama-cpp-2`), with the chat template
//! stored in the model file. Greedy decoding with a mild repeat penalty: reproducible, so
//! the response cache and the tests see the same answer every time.

use crate::{ChatModel, ChatRequest, ChatResponse, LlmError, Role};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// llama.cpp may be initialised once per process; every model shares it.
fn backend() -> Result<&'static LlamaBackend, LlmError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            {
                LlamaBackend::init().map(|mut b| {
                    // llama.cpp prints model loading details to stderr; chorus logs its own.
                    b.void_logs();
                    b
                })
            }
            .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LlmError::Local(format!("llama.cpp backend: {e}")))
}

/// Settings of the local model.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    /// The GGUF file.
    pub path: PathBuf,
    /// Context window in tokens (prompt + answer).
    pub context_tokens: u32,
    /// CPU threads (1 is fastest on a busy 2-core machine).
    pub threads: i32,
}

/// A GGUF chat model on the CPU. Calls are served one at a time.
pub struct LlamaChat {
    model: LlamaModel,
    config: LlamaConfig,
    name: String,
    lock: Mutex<()>,
}

impl LlamaChat {
    /// Loads the model file.
    pub fn load(config: LlamaConfig) -> Result<LlamaChat, LlmError> {
        let backend = backend()?;
        if !config.path.is_file() {
            return Err(LlmError::Local(format!("{}: no such model file", config.path.display())));
        }
        let model = LlamaModel::load_from_file(backend, &config.path, &LlamaModelParams::default())
            .map_err(|e| LlmError::Local(format!("{}: {e}", config.path.display())))?;
        let name = file_stem(&config.path);
        Ok(LlamaChat { model, config, name, lock: Mutex::new(()) })
    }

    fn generate(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let backend = backend()?;
        let template = self
            .model
            .chat_template(None)
            .map_err(|e| LlmError::Local(format!("{}: no usable chat template: {e}", self.name)))?;
        let messages = request
            .messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                LlamaChatMessage::new(role.into(), m.content.clone())
                    .map_err(|e| LlmError::Local(format!("message not representable: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let prompt = self
            .model
            .apply_chat_template(&template, &messages, true)
            .map_err(|e| LlmError::Local(format!("chat template: {e}")))?;
        let vocab = self.model.vocab();
        let tokens = vocab.tokenize(prompt.as_bytes(), false, true);
        let n_ctx = self.config.context_tokens.max(64);
        if tokens.is_empty() || tokens.len() as u32 + request.max_tokens > n_ctx {
            return Err(LlmError::Local(format!(
                "prompt of {} tokens plus {} to generate does not fit the context of {n_ctx}",
                tokens.len(),
                request.max_tokens
            )));
        }
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(n_ctx)
            .with_n_threads(self.config.threads.max(1))
            .with_n_threads_batch(self.config.threads.max(1));
        let mut ctx =
            self.model.new_context(backend, params).map_err(|e| LlmError::Local(format!("llama.cpp context: {e}")))?;
        let mut batch = LlamaBatch::new(n_ctx as usize, 1);
        let last = tokens.len() - 1;
        for (i, t) in tokens.iter().enumerate() {
            batch.add(*t, i as i32, &[0], i == last).map_err(|e| LlmError::Local(format!("batch: {e}")))?;
        }
        ctx.decode(&mut batch).map_err(|e| LlmError::Local(format!("decoding the prompt: {e}")))?;
        let mut sampler = LlamaSampler::chain_simple([
            LlamaSampler::penalties(self.model.n_vocab(), 64, 1.1, 0.0, 0.0),
            if request.temperature > 0.0 { LlamaSampler::temp(request.temperature) } else { LlamaSampler::greedy() },
        ]);
        if request.temperature > 0.0 {
            sampler = LlamaSampler::chain_simple([sampler, LlamaSampler::dist(1234)]);
        }
        let mut out: Vec<u8> = Vec::new();
        let mut pos = tokens.len() as i32;
        let mut generated = 0u64;
        while generated < u64::from(request.max_tokens) {
            let token = sampler.sample(&ctx, batch.n_tokens() - 1);
            sampler.accept(token);
            if vocab.is_eog(token) {
                break;
            }
            out.extend(vocab.token_to_piece(token, false, None));
            generated += 1;
            batch.clear();
            batch.add(token, pos, &[0], true).map_err(|e| LlmError::Local(format!("batch: {e}")))?;
            pos += 1;
            ctx.decode(&mut batch).map_err(|e| LlmError::Local(format!("decoding: {e}")))?;
        }
        Ok(ChatResponse {
            text: String::from_utf8_lossy(&out).into_owned(),
            model: self.name.clone(),
            prompt_tokens: tokens.len() as u64,
            completion_tokens: generated,
            cached: false,
            attempts: 1,
        })
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "gguf".into())
}

impl ChatModel for LlamaChat {
    fn id(&self) -> String {
        format!("llama.cpp:{}", self.name)
    }

    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let _one_at_a_time = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.generate(request)
    }
}

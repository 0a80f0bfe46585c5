//! A response cache on disk: the same request to the same model is answered once.
//!
//! A story whose claims did not change produces the same prompt, so re-synthesising it
//! costs nothing. Entries are JSON files named by the sha256 of model id and request, in
//! a folder the operator can delete at any time. A damaged entry is ignored (and
//! replaced), never trusted.

use crate::{ChatModel, ChatRequest, ChatResponse, LlmError};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Wraps a model with a response cache in `dir`.
pub struct CachedChat<M> {
    inner: M,
    dir: PathBuf,
}

impl<M: ChatModel> CachedChat<M> {
    /// Caches `inner`'s answers in `dir` (created when first written).
    pub fn new(inner: M, dir: impl Into<PathBuf>) -> CachedChat<M> {
        CachedChat { inner, dir: dir.into() }
    }

    /// The folder of the cache.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, request: &ChatRequest) -> PathBuf {
        let mut h = Sha256::new();
        h.update(self.inner.id().as_bytes());
        h.update([0]);
        h.update(serde_json::to_vec(request).unwrap_or_default());
        let key: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }
}

impl<M: ChatModel> ChatModel for CachedChat<M> {
    fn id(&self) -> String {
        self.inner.id()
    }

    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let path = self.path(request);
        if let Ok(bytes) = std::fs::read(&path) {
            match serde_json::from_slice::<ChatResponse>(&bytes) {
                Ok(mut r) => {
                    r.cached = true;
                    return Ok(r);
                }
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "damaged LLM cache entry ignored"),
            }
        }
        let answer = self.inner.chat(request)?;
        if let Err(e) = store(&path, &answer) {
            tracing::warn!(path = %path.display(), error = %e, "could not write LLM cache entry");
        }
        Ok(answer)
    }
}

fn store(path: &Path, answer: &ChatResponse) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec(answer).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChatMessage, Role};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Counts calls; answers with the call number.
    struct Counting(AtomicU32);

    impl ChatModel for Counting {
        fn id(&self) -> String {
            "counting".into()
        }
        fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, LlmError> {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(ChatResponse {
                text: format!("answer {n}"),
                model: "counting".into(),
                prompt_tokens: 10,
                completion_tokens: 2,
                cached: false,
                attempts: 1,
            })
        }
    }

    fn request(text: &str) -> ChatRequest {
        ChatRequest { messages: vec![ChatMessage::new(Role::User, text)], max_tokens: 10, temperature: 0.0 }
    }

    #[test]
    fn same_request_is_answered_once_other_requests_are_not_confused() {
        let dir = tempfile::tempdir().unwrap();
        let chat = CachedChat::new(Counting(AtomicU32::new(0)), dir.path());
        let a1 = chat.chat(&request("story 1")).unwrap();
        let a2 = chat.chat(&request("story 1")).unwrap();
        let b = chat.chat(&request("story 2")).unwrap();
        assert_eq!((a1.text.as_str(), a1.cached), ("answer 1", false));
        assert_eq!((a2.text.as_str(), a2.cached), ("answer 1", true));
        assert_eq!(b.text, "answer 2");
        // A damaged entry is replaced by a fresh answer.
        std::fs::write(chat.path(&request("story 1")), b"{not json").unwrap();
        assert_eq!(chat.chat(&request("story 1")).unwrap().text, "answer 3");
        assert!(chat.chat(&request("story 1")).unwrap().cached);
    }
}

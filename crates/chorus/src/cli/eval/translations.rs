//! `chorus eval translations`.

use crate::cli::args::*;
use anyhow::{Context, Result};
use chorus_store::SqliteStore;
use clap::Args;
use std::path::PathBuf;

/// Calibrate the cross-lingual threshold: cosines of Global Voices sentences and their
/// translations against same-topic sentences that are not translations.
#[derive(Args)]
pub struct TranslationsArgs {
    /// JSONL of Global Voices posts (ids `gv-LANG-TOPIC-DATE-N`), e.g. data/demo/global-voices.jsonl.
    #[arg(long)]
    pub input: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `chorus eval translations`.
pub fn run(a: TranslationsArgs) -> Result<i32> {
    let TranslationsArgs { input, json } = a;

    // The ingest reader: the same validation and language codes as `chorus ingest`.
    let file = std::fs::File::open(&input).with_context(|| format!("opening {}", input.display()))?;
    let batch = chorus_ingest::read_jsonl(std::io::BufReader::new(file))
        .with_context(|| format!("reading {}", input.display()))?;
    if let Some(r) = batch.rejected.first() {
        anyhow::bail!("{}:{}: {}", input.display(), r.line, r.reason);
    }
    let articles: Vec<chorus_core::Article> = batch.articles.into_iter().map(|(_, a)| a).collect();
    let embedder = load_embedder(&scratch_settings(1))?;
    let store = SqliteStore::open_in_memory()?;
    let c = chorus::eval_articles::translation_calibration(&articles, &store, &*embedder)?;
    if json {
        println!("{}", serde_json::to_string(&c)?);
    } else {
        println!(
            "{} translation pairs: {} aligned sentences; {} negatives",
            c.translation_pairs, c.positives, c.negatives
        );
        println!("translations: {:?}", c.positive_percentiles);
        println!("non-translations (best match): {:?}", c.negative_percentiles);
        println!("threshold  translations kept  non-translations passing");
        for (t, p, n) in &c.thresholds {
            println!("{t:.2}       {:.1} %             {:.1} %", p * 100.0, n * 100.0);
        }
    }
    Ok(0)
}

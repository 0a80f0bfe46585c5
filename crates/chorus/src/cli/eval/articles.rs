//! `chorus eval articles`.

use crate::cli::args::*;
use anyhow::{Context, Result};
use chorus::settings::default_threads;
use chorus_store::SqliteStore;
use clap::Args;
use std::path::PathBuf;

/// Read every written edition of a data folder and print how the articles read:
/// redundant sentence pairs, share of sentences in the edition's language, cut-off
/// headlines, words by independent reports, disagreements per story.
#[derive(Args)]
pub struct ArticlesArgs {
    /// Data folder (holding chorus.db), e.g. the demo's.
    #[arg(long, env = "CHORUS_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Print one JSON object: {"editions","redundant_pairs","edition_language_share",…}.
    #[arg(long)]
    pub json: bool,
    /// Write every edition (headline, paragraphs, redundant pairs, disagreements) as
    /// JSONL to this file, for reading.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Inference threads (for sentences not yet embedded).
    #[arg(long, env = "CHORUS_THREADS", default_value_t = default_threads())]
    pub threads: usize,
}

/// Runs `chorus eval articles`.
pub fn run(a: ArticlesArgs) -> Result<i32> {
    let ArticlesArgs { data_dir, json, out, threads } = a;

    let mut settings = scratch_settings(threads);
    settings.store.data_dir = data_dir.clone();
    let path = settings.store.database_path();
    if !path.exists() {
        anyhow::bail!("no chorus database at {} (run `chorus demo --data-dir DIR` first)", path.display());
    }
    let store = SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let embedder = load_embedder(&settings)?;
    let mut lines = JsonlOut::create(out.as_deref())?;
    let scores = chorus::eval_articles::articles(&store, &*embedder, &settings.pipeline.synth, |e| lines.write(e))?;
    lines.finish()?;
    if json {
        println!("{}", serde_json::to_string(&scores)?);
    } else {
        println!(
            "{}: {} stories, {} editions, {} sentences",
            data_dir.display(),
            scores.stories,
            scores.editions,
            scores.sentences
        );
        println!("redundant sentence pairs: {}", scores.redundant_pairs);
        println!(
            "sentences in the edition's language: {:.1} % ({} editions mix languages)",
            scores.edition_language_share * 100.0,
            scores.mixed_language_editions
        );
        println!("headlines cut off: {}", scores.truncated_headlines);
        for (b, w) in &scores.mean_words_by_independent {
            let n = scores.editions_by_independent.get(b).copied().unwrap_or(0);
            println!("independent reports {b}: {w:.1} words on average ({n} editions)");
        }
        println!("disagreements per story: {:.2}", scores.disagreements_per_story);
    }
    Ok(0)
}

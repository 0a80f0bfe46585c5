//! `chorus eval synth`.

use crate::cli::args::*;
use anyhow::{Context, Result};
use chorus::settings::default_threads;
use chorus_store::{SqliteStore, Store};
use clap::Args;
use std::path::PathBuf;

/// Write an article per story with the product's synthesiser and print ROUGE-1/2/L F1
/// against the references, the share of sentences traced to their sources, mean
/// length and speed.
#[derive(Args)]
pub struct SynthArgs {
    /// JSONL: {"id","lang","sources":[{"id","outlet"?,"lang"?,"title","text"}],"reference":{"title","text"}}.
    #[arg(long)]
    pub input: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write each generated article (JSONL) to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override the number of sentences per article.
    #[arg(long)]
    pub max_sentences: Option<usize>,
    /// Word budget of each article's text (0: none). The default, 75, is the length
    /// tuned on NeuS train, about that of its references.
    #[arg(long, default_value_t = 75)]
    pub max_words: usize,
    /// Reuse sentence vectors cached by earlier runs (for tuning).
    #[arg(long)]
    pub cache: bool,
    /// Inference threads.
    #[arg(long, default_value_t = default_threads())]
    pub threads: usize,
    /// Score only the first N stories (a slow model on a small sample).
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub llm: LlmArgs,
}

/// Runs `chorus eval synth`.
pub fn run(a: SynthArgs) -> Result<i32> {
    let SynthArgs { input, json, out, max_sentences, max_words, cache, threads, limit, llm } = a;

    let mut stories = read_eval_file(&input, chorus_eval::synth::read_synth_file)?;
    if let Some(n) = limit {
        stories.truncate(n);
    }
    let mut settings = scratch_settings(threads);
    if let Some(n) = max_sentences {
        settings.pipeline.synth.max_sentences = n.max(1);
    }
    settings.pipeline.synth.max_words = max_words;
    llm.apply(&mut settings.llm, settings.pipeline.threads);
    let llm_stage = chorus::llm::build(&settings.llm)?;
    let embedder = load_embedder(&settings)?;
    let cache_store = if cache {
        let path = settings.pipeline.models.dir.join("eval-vectors.db");
        Some(SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?)
    } else {
        None
    };
    let mut lines = JsonlOut::create(out.as_deref())?;
    let scores = chorus::evaluate::synth(
        &stories,
        &*embedder,
        &settings.pipeline,
        cache_store.as_ref().map(|s| s as &dyn Store),
        llm_stage.as_ref(),
        |g| lines.write(g),
    )?;
    lines.finish()?;
    if json {
        println!("{}", serde_json::to_string(&scores)?);
    } else {
        println!("{}: {} stories, {} sentences", input.display(), scores.stories, scores.sentences);
        println!(
            "ROUGE-1 {:.1}  ROUGE-2 {:.1}  ROUGE-L {:.1}  (F1 × 100, rouge-score definition, Porter stemming)",
            scores.rouge1 * 100.0,
            scores.rouge2 * 100.0,
            scores.rouge_l * 100.0
        );
        println!("sentences traced verbatim to a cited source: {:.1} %", scores.supported_share * 100.0);
        println!("mean length {:.1} words; {:.2} stories/s", scores.mean_words, scores.stories_per_s);
        if let Some(l) = &scores.llm {
            println!(
                "model {}: {} articles written, {} left extractive; {} generated sentences kept, {} dropped",
                l.model, l.written, l.fallbacks, l.kept, l.dropped
            );
            print_llm_usage(llm_stage.as_ref());
        }
    }
    Ok(0)
}

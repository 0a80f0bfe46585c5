//! `chorus ingest`: JSONL files in; then embed, cluster and write (or leave that to
//! `chorus run` workers with `--store-only`).

use super::args::{Common, print_llm_usage};
use anyhow::{Context, Result};
use chorus::pipeline::{self, IngestReport};
use chorus::settings::Settings;
use chorus_store::{SiteStore, Store};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Arguments of `chorus ingest`.
#[derive(Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub common: Common,
    /// JSONL files: {"id","url","outlet","lang"?,"published"?,"title","text"} per line.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Only store the articles; embedding, clustering and writing are left to
    /// `chorus run` workers (several processes sharing one database).
    #[arg(long)]
    store_only: bool,
}

/// Ingests the files; status 2 if a line was rejected.
pub fn run(a: IngestArgs) -> Result<i32> {
    let settings = a.common.settings();
    let mut inputs: Vec<(String, Box<dyn std::io::BufRead>)> = Vec::new();
    for f in &a.files {
        let file = std::fs::File::open(f).with_context(|| format!("opening {}", f.display()))?;
        inputs.push((f.display().to_string(), Box::new(std::io::BufReader::new(file))));
    }
    let reports = if a.store_only {
        let store = settings.store.open()?;
        let reports = ingest_inputs(store.as_ref(), &settings, inputs)?;
        println!("stored; `chorus run --roles embed,cluster,write` workers embed, cluster and write them");
        reports
    } else {
        ingest_and_process(&settings, inputs)?.1
    };
    Ok(if reports.iter().any(IngestReport::has_errors) { 2 } else { 0 })
}

fn bar(len: u64, label: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_prefix(label.to_string());
    pb
}

/// Stores every input's articles (dedup against what is stored), printing what happened
/// to each file.
fn ingest_inputs(
    store: &dyn Store,
    settings: &Settings,
    inputs: Vec<(String, Box<dyn std::io::BufRead>)>,
) -> Result<Vec<IngestReport>> {
    let mut dedup = pipeline::load_dedup_index(store)?;
    let mut reports = Vec::new();
    for (name, reader) in inputs {
        let r = pipeline::ingest_jsonl(
            store,
            reader,
            &name,
            &settings.store.data_dir,
            &mut dedup,
            settings.pipeline.duplicate_threshold,
        )?;
        for issue in &r.issues {
            eprintln!("{name}: {issue}");
        }
        if let Some(f) = &r.rejected_file {
            eprintln!("{name}: {} rejected line(s) kept verbatim in {}", r.rejected + r.conflicts.len(), f.display());
        }
        reports.push(r);
    }
    let mut per_lang: BTreeMap<String, usize> = BTreeMap::new();
    for r in &reports {
        for (l, n) in &r.per_lang {
            *per_lang.entry(l.clone()).or_default() += n;
        }
        println!(
            "ingest  {}: {} lines, {} new, {} already stored, {} duplicates of earlier texts, {} rejected",
            r.source,
            r.lines,
            r.inserted,
            r.unchanged,
            r.duplicates,
            r.rejected + r.conflicts.len()
        );
    }
    let mut langs: Vec<(String, usize)> = per_lang.into_iter().collect();
    langs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    if !langs.is_empty() {
        let list: Vec<String> = langs.iter().map(|(l, n)| format!("{l} {n}")).collect();
        println!("new articles per language ({}): {}", langs.len(), list.join(", "));
    }
    Ok(reports)
}

/// Ingests `inputs`, then embeds, clusters and writes everything pending, printing the
/// stage timings (`chorus demo`, `chorus ingest`).
pub fn ingest_and_process(
    settings: &Settings,
    inputs: Vec<(String, Box<dyn std::io::BufRead>)>,
) -> Result<(Arc<dyn SiteStore>, Vec<IngestReport>)> {
    let total = Instant::now();
    let data_dir = &settings.store.data_dir;
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    println!("chorus: data in {}, {} inference thread(s)", data_dir.display(), settings.pipeline.threads);

    let t = Instant::now();
    let embedder = super::args::load_embedder(settings)?;
    let model_secs = t.elapsed().as_secs_f64();

    let store = settings.store.open()?;
    let t = Instant::now();
    let reports = ingest_inputs(store.as_ref(), settings, inputs)?;
    let ingest_secs = t.elapsed().as_secs_f64();

    let mut bars: BTreeMap<String, ProgressBar> = BTreeMap::new();
    let mut progress = |stage: &str, done: usize, total: usize| {
        let pb = bars.entry(stage.to_string()).or_insert_with(|| bar(total as u64, stage));
        pb.set_position(done as u64);
        if done >= total {
            pb.finish();
        }
    };
    let llm = chorus::llm::build(&settings.llm)?;
    let p = pipeline::process(store.as_ref(), &*embedder, &settings.pipeline, llm.as_ref(), &mut progress)?;
    let stats = store.stats()?;
    let n_articles = reports.iter().map(|r| r.inserted).sum::<usize>();
    let rate = |n: usize, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    println!("stage timings:");
    println!("  model load    {model_secs:>7.2} s");
    println!("  ingest        {ingest_secs:>7.2} s  {n_articles} articles ({:.0}/s)", rate(n_articles, ingest_secs));
    println!(
        "  embed         {:>7.2} s  {} articles ({:.1}/s)",
        p.embed_secs,
        p.embedded,
        rate(p.embedded, p.embed_secs)
    );
    println!(
        "  cluster       {:>7.2} s  {} articles ({:.0}/s): {} new stories, {} joined a story, {} placed with their original",
        p.cluster_secs,
        p.cluster.clustered,
        rate(p.cluster.clustered, p.cluster_secs),
        p.cluster.new_stories,
        p.cluster.joined,
        p.cluster.with_original
    );
    println!(
        "  synthesise    {:>7.2} s  {} stories, {} articles written, {} sentences embedded",
        p.synth_secs, p.synth.stories, p.synth.articles, p.synth.sentences_embedded
    );
    if llm.is_some() {
        println!(
            "  llm writer    {} articles written by the model, {} left extractive, {} generated sentences dropped",
            p.synth.llm_written, p.synth.llm_fallbacks, p.synth.llm_dropped
        );
        print_llm_usage(llm.as_ref());
    }
    println!("  total         {:>7.2} s", total.elapsed().as_secs_f64());
    let summaries = store.story_summaries()?;
    let multi = summaries.iter().filter(|s| s.languages.len() > 1).count();
    println!(
        "store: {} articles ({} duplicates), {} stories ({} in more than one language), {} written articles",
        stats.articles, stats.duplicates, stats.stories, multi, stats.story_texts
    );
    Ok((store, reports))
}

//! `chorus eval cluster`.

use crate::cli::args::*;
use anyhow::{Context, Result};
use chorus::settings::default_threads;
use chorus_store::{SqliteStore, Store};
use clap::Args;
use std::path::PathBuf;

/// Cluster a labelled JSONL file with the product's clusterer and print pairwise and
/// BCubed scores, per language, cross-lingual pair recall and speed.
#[derive(Args)]
pub struct ClusterArgs {
    /// JSONL: {"id","lang"?,"published"?,"title","text","cluster"} one article a line.
    #[arg(long)]
    pub input: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Override the join threshold (centred cosine).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Override the time window in days.
    #[arg(long)]
    pub window_days: Option<f64>,
    /// Override the maximum story lifetime in days.
    #[arg(long)]
    pub max_story_days: Option<f64>,
    /// Override the weight of lexical (TF-IDF of words, names and numbers) evidence.
    #[arg(long)]
    pub lexical_weight: Option<f32>,
    /// Override how many distinctive terms per article lexical evidence compares.
    #[arg(long)]
    pub lexical_terms: Option<usize>,
    /// Apply lexical evidence only across languages (true/false).
    #[arg(long)]
    pub lexical_across_languages_only: Option<bool>,
    /// Override the share of similarity taken from the closest member (0 = centroid).
    #[arg(long)]
    pub member_weight: Option<f32>,
    /// Reuse article vectors cached by earlier runs (for tuning; speed then covers only
    /// vectors computed in this run).
    #[arg(long)]
    pub cache: bool,
    /// Threads for model inference.
    #[arg(long, env = "CHORUS_THREADS", default_value_t = default_threads())]
    pub threads: usize,
}

/// Runs `chorus eval cluster`.
pub fn run(a: ClusterArgs) -> Result<i32> {
    let ClusterArgs {
        input,
        json,
        threshold,
        window_days,
        max_story_days,
        lexical_weight,
        lexical_terms,
        lexical_across_languages_only,
        member_weight,
        cache,
        threads,
    } = a;

    let articles = read_eval_file(&input, chorus_eval::read_cluster_file)?;
    let mut settings = scratch_settings(threads);
    let config = &mut settings.pipeline;
    if let Some(t) = threshold {
        config.cluster.threshold = t;
    }
    if let Some(w) = window_days {
        config.cluster.window_days = w;
    }
    if let Some(m) = max_story_days {
        config.cluster.max_story_days = m;
    }
    if let Some(w) = lexical_weight {
        config.cluster.lexical_weight = w;
    }
    if let Some(n) = lexical_terms {
        config.cluster.lexical_terms = n;
    }
    if let Some(x) = lexical_across_languages_only {
        config.cluster.lexical_across_languages_only = x;
    }
    if let Some(w) = member_weight {
        config.cluster.member_weight = w;
    }
    let embedder = load_embedder(&settings)?;
    let cache_store = if cache {
        let path = settings.pipeline.models.dir.join("eval-vectors.db");
        Some(SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?)
    } else {
        None
    };
    let scores =
        chorus::evaluate::cluster(&articles, &*embedder, &settings, cache_store.as_ref().map(|s| s as &dyn Store))?;
    if json {
        println!("{}", serde_json::to_string(&scores)?);
    } else {
        print_cluster_eval(&input, &settings.pipeline.cluster, &scores);
    }
    Ok(0)
}

fn print_cluster_eval(input: &std::path::Path, c: &chorus_cluster::ClusterConfig, s: &chorus_eval::ClusterEval) {
    println!(
        "{}: {} articles, {} gold clusters, {} predicted (threshold {}, window {} d, lifetime {} d)",
        input.display(),
        s.n_articles,
        s.n_gold,
        s.n_pred,
        c.threshold,
        c.window_days,
        c.max_story_days
    );
    let row = |name: &str, n: usize, pw: &chorus_eval::metrics::Prf, b3: &chorus_eval::metrics::Prf| {
        println!(
            "{name:<8} {n:>6}  pairwise P {:.3} R {:.3} F1 {:.3}   BCubed P {:.3} R {:.3} F1 {:.3}",
            pw.p, pw.r, pw.f1, b3.p, b3.r, b3.f1
        );
    };
    row("all", s.n_articles, &s.pairwise, &s.bcubed);
    for (lang, l) in &s.per_lang {
        row(lang, l.n, &l.pairwise, &l.bcubed);
    }
    match s.crosslingual_pair_recall {
        Some(r) => println!("cross-lingual gold pairs recalled: {r:.3}"),
        None => println!("cross-lingual gold pairs recalled: (no cross-lingual gold pairs)"),
    }
    println!(
        "speed: {:.1} articles/s embed+cluster (embedding {:.1}/s, clustering {:.0}/s)",
        s.articles_per_s, s.embed_articles_per_s, s.cluster_articles_per_s
    );
}

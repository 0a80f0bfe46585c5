//! `chorus eval extract`.

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

/// Extract the article from every page of an evaluation folder with the product's
/// extractor and print precision, recall, F1 and pages/s. Two layouts: the
/// article-extraction benchmark (`ground-truth.json`, `html/*.html.gz`; 4-word shingle
/// metric) and trafilatura's evaluation set (`evaldata.json`, HTML in `cache/` or `eval/`;
/// must/must-not snippet metric).
#[derive(Args)]
pub struct ExtractArgs {
    /// Evaluation folder (e.g. ../shared/data/article-extraction-benchmark or
    /// ../shared/data/trafilatura-eval-dev).
    #[arg(long)]
    pub input: PathBuf,
    /// Print one JSON object: {"precision","recall","f1","pages_per_s","pages","failures",…}.
    #[arg(long)]
    pub json: bool,
    /// Write predictions as {"<id or url>": {"articleBody": "…"}} (page ids for the
    /// benchmark, URLs for trafilatura's set).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// trafilatura's set only: write a per-page report (JSON list: url, file, snippets
    /// missed, boilerplate kept, failure, extractor, characters), worst pages first.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// Runs `chorus eval extract`.
pub fn run(a: ExtractArgs) -> Result<i32> {
    let ExtractArgs { input, json, out, report } = a;

    let mut predictions = serde_json::Map::new();
    let keep = |key: &str, body: &str, predictions: &mut serde_json::Map<String, serde_json::Value>| {
        if out.is_some() {
            predictions.insert(key.to_string(), serde_json::json!({ "articleBody": body }));
        }
    };
    let mut pages = Vec::new();
    let scores = if chorus_eval::snippets::is_snippet_set(&input) {
        chorus::evaluate::extract_snippets(&input, |url, body| keep(url, body, &mut predictions), |p| pages.push(p))?
    } else {
        if report.is_some() {
            anyhow::bail!("--report is for trafilatura's evaluation set (a folder with evaldata.json)");
        }
        chorus::evaluate::extract(&input, |id, body| keep(id, body, &mut predictions))?
    };
    if let Some(path) = &out {
        std::fs::write(path, serde_json::to_string_pretty(&predictions)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &report {
        pages.sort_by_key(|p| std::cmp::Reverse(p.missed.len() + p.kept.len()));
        std::fs::write(path, serde_json::to_string_pretty(&pages)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    for f in &scores.failures {
        eprintln!("extraction failed: {f}");
    }
    if json {
        println!("{}", serde_json::to_string(&scores)?);
    } else {
        println!("{}: {} pages", input.display(), scores.pages);
        let metric = match scores.metric {
            "snippets" => "must/must-not snippets, trafilatura's metric",
            _ => "4-word shingles, the benchmark's metric",
        };
        println!("precision {:.3}  recall {:.3}  F1 {:.3}  ({metric})", scores.precision, scores.recall, scores.f1);
        for t in &scores.by_tld {
            println!("  .{:<6} {:>4} pages  P {:.3}  R {:.3}  F1 {:.3}", t.tld, t.pages, t.precision, t.recall, t.f1);
        }
        println!("{:.1} pages/s (1 thread); {} failed", scores.pages_per_s, scores.failures.len());
    }
    Ok(0)
}

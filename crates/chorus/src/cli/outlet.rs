//! `chorus outlet`: the registry of outlets chorus follows.

use super::args::StoreArgs;
use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;

/// The `chorus outlet` commands.
#[derive(Subcommand)]
pub enum OutletCommand {
    /// Load a registry file (TOML, `[[outlet]]` tables); without FILE, the bundled
    /// `data/outlets.toml`. All or nothing: an invalid entry refuses the file.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// Registry file.
        file: Option<PathBuf>,
    },
    /// Add or update one outlet.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        /// Display name (unique; an existing outlet of that name is updated).
        #[arg(long)]
        name: String,
        /// Home page URL.
        #[arg(long)]
        homepage: String,
        /// ISO 3166-1 alpha-2 country code, e.g. FR.
        #[arg(long)]
        country: String,
        /// Languages (ISO 639-1), comma-separated.
        #[arg(long = "lang", value_delimiter = ',', required = true)]
        languages: Vec<String>,
        /// state, public, private or wire.
        #[arg(long = "type")]
        kind: chorus_core::OutletKind,
        /// A feed URL (repeat for several).
        #[arg(long = "feed")]
        feeds: Vec<String>,
    },
    /// List the outlets and their feeds.
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one `chorus outlet` command.
pub fn run(cmd: OutletCommand) -> Result<i32> {
    use chorus_ingest::outlets;
    match cmd {
        OutletCommand::Import { store, file } => {
            let (text, name) = match &file {
                Some(f) => (
                    std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
                    f.display().to_string(),
                ),
                None => (outlets::BUNDLED_REGISTRY.to_string(), "data/outlets.toml (bundled)".to_string()),
            };
            let list = outlets::parse_registry(&text, &name)?;
            let (added, updated) = store.open()?.put_outlets(&list)?;
            let feeds: usize = list.iter().map(|o| o.feeds.len()).sum();
            println!("{name}: {} outlets ({added} new, {updated} updated), {feeds} feeds", list.len());
            Ok(0)
        }
        OutletCommand::Add { store, name, homepage, country, languages, kind, feeds } => {
            let o = chorus_core::Outlet { name, homepage, country, languages, kind, feeds };
            let problems = outlets::validate(&o);
            if !problems.is_empty() {
                anyhow::bail!("outlet {:?}: {}", o.name, problems.join("; "));
            }
            let (added, _) = store.open()?.put_outlets(std::slice::from_ref(&o))?;
            println!(
                "{} outlet {:?} with {} feed(s)",
                if added == 1 { "added" } else { "updated" },
                o.name,
                o.feeds.len()
            );
            Ok(0)
        }
        OutletCommand::List { store, json } => {
            let list = store.open()?.outlets()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for o in &list {
                    println!(
                        "{:<28} {:<2} {:<8} {:<20} {}",
                        o.name,
                        o.country,
                        o.kind.as_str(),
                        o.languages.join(","),
                        o.homepage
                    );
                    for f in &o.feeds {
                        println!("    {f}");
                    }
                }
                let countries: std::collections::BTreeSet<&str> = list.iter().map(|o| o.country.as_str()).collect();
                let langs: std::collections::BTreeSet<&str> =
                    list.iter().flat_map(|o| o.languages.iter().map(String::as_str)).collect();
                println!(
                    "{} outlets, {} feeds, {} countries, {} languages",
                    list.len(),
                    list.iter().map(|o| o.feeds.len()).sum::<usize>(),
                    countries.len(),
                    langs.len()
                );
            }
            Ok(0)
        }
    }
}

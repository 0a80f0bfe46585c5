//! `chorus feeds`: subscriptions as OPML, in and out.

use super::args::StoreArgs;
use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;

/// The `chorus feeds` commands.
#[derive(Subcommand)]
pub enum FeedsCommand {
    /// Import every feed (`xmlUrl`) of an OPML file. A feed whose site matches a known
    /// outlet's home page joins it; others become new outlets to complete (country ZZ,
    /// language und) with `chorus outlet add`.
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// OPML file.
        file: PathBuf,
    },
    /// Write all outlets and their feeds as OPML 2.0.
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs one `chorus feeds` command.
pub fn run(cmd: FeedsCommand) -> Result<i32> {
    use chorus_ingest::outlets;
    match cmd {
        FeedsCommand::Import { store, file } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let (feeds, skipped) = outlets::parse_opml_bytes(&bytes, &file.display().to_string())?;
            for s in &skipped {
                eprintln!("{s}");
            }
            let store = store.open()?;
            let mut known = store.outlets()?;
            let host = |u: &str| {
                url::Url::parse(u).ok().and_then(|u| u.host_str().map(|h| h.trim_start_matches("www.").to_string()))
            };
            let (mut joined, mut created) = (0, 0);
            for f in feeds {
                let site = f.site_url.clone().unwrap_or_else(|| {
                    url::Url::parse(&f.feed_url)
                        .map(|u| format!("{}://{}/", u.scheme(), u.host_str().unwrap_or_default()))
                        .unwrap_or_default()
                });
                let site_host = host(&site);
                match known.iter_mut().find(|o| site_host.is_some() && host(&o.homepage) == site_host) {
                    Some(o) => {
                        if !o.feeds.contains(&f.feed_url) {
                            o.feeds.push(f.feed_url.clone());
                        }
                        joined += 1;
                    }
                    None => {
                        let name = if f.title.is_empty() {
                            site_host.clone().unwrap_or_else(|| f.feed_url.clone())
                        } else {
                            f.title.clone()
                        };
                        known.push(chorus_core::Outlet {
                            name,
                            homepage: site,
                            country: "ZZ".into(),
                            languages: vec!["und".into()],
                            kind: chorus_core::OutletKind::Private,
                            feeds: vec![f.feed_url.clone()],
                        });
                        created += 1;
                    }
                }
            }
            store.put_outlets(&known)?;
            println!(
                "{}: {} feeds imported ({joined} joined known outlets, {created} new outlets to complete with country and language), {} skipped",
                file.display(),
                joined + created,
                skipped.len()
            );
            Ok(if skipped.is_empty() { 0 } else { 2 })
        }
        FeedsCommand::Export { store, out } => {
            let xml = outlets::to_opml(&store.open()?.outlets()?);
            match out {
                Some(p) => std::fs::write(&p, xml).with_context(|| format!("writing {}", p.display()))?,
                None => println!("{xml}"),
            }
            Ok(0)
        }
    }
}

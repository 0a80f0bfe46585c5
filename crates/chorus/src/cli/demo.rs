//! `chorus demo`: the bundled corpus in, stories written, the site served.

use super::args::{Common, SiteArgs};
use anyhow::Result;
use clap::Args;

/// Arguments of `chorus demo`.
#[derive(Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub common: Common,
    /// Stop after writing the stories.
    #[arg(long)]
    no_serve: bool,
    #[command(flatten)]
    site: SiteArgs,
}

/// Ingests the demo corpus, processes it, and serves unless `--no-serve`.
pub fn run(a: DemoArgs) -> Result<i32> {
    let mut settings = a.common.settings();
    a.site.apply(&mut settings);
    let inputs: Vec<(String, Box<dyn std::io::BufRead>)> = chorus::demo::DEMO_CORPUS
        .iter()
        .map(|(name, text)| (name.to_string(), Box::new(text.as_bytes()) as Box<dyn std::io::BufRead>))
        .collect();
    let (store, _) = super::ingest::ingest_and_process(&settings, inputs)?;
    if a.no_serve {
        return Ok(0);
    }
    super::serve::serve(store, &settings)
}

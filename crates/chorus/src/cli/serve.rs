//! `chorus serve`: the site over an existing database.

use super::args::{Common, SiteArgs};
use anyhow::Result;
use chorus::settings::Settings;
use chorus_store::SiteStore;
use clap::Args;
use std::sync::Arc;

/// Arguments of `chorus serve`.
#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    site: SiteArgs,
}

/// Opens the store and serves it.
pub fn run(a: ServeArgs) -> Result<i32> {
    let mut settings = a.common.settings();
    a.site.apply(&mut settings);
    serve(settings.store.open()?, &settings)
}

/// Serves `store` until SIGTERM or Ctrl-C.
pub fn serve(store: Arc<dyn SiteStore>, settings: &Settings) -> Result<i32> {
    chorus::service::serve(store, &settings.site, |addr| println!("serving http://{addr} (Ctrl-C to stop)"))?;
    println!("stopped");
    Ok(0)
}

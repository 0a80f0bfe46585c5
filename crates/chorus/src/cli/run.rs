//! `chorus run`: the service, any mix of roles (see `chorus::roles`).

use super::args::{Common, FetchArgs, SiteArgs};
use anyhow::Result;
use clap::Args;

/// Arguments of `chorus run`.
#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: Common,
    /// One round, then stop (cron, tests); the site is not served.
    #[arg(long)]
    once: bool,
    /// What this process does: any of fetch, embed, cluster, write, web (default all).
    /// Start any mix of processes, on any machines, against one database (PostgreSQL;
    /// on SQLite, processes on one machine).
    #[arg(long, env = "CHORUS_ROLES", value_delimiter = ',', default_value = "fetch,embed,cluster,write,web")]
    roles: Vec<chorus::roles::Role>,
    /// Seconds a claimed batch (articles to embed, stories to write) stays reserved
    /// for this process; a process that dies holds its work this long (default: 300
    /// for embedding, 900 for writing).
    #[arg(long, env = "CHORUS_LEASE_SECONDS")]
    lease_seconds: Option<u64>,
    #[command(flatten)]
    fetch: FetchArgs,
    #[command(flatten)]
    site: SiteArgs,
}

/// Runs the service until stopped.
pub fn run(a: RunArgs) -> Result<i32> {
    let mut settings = a.common.settings();
    a.fetch.apply(&mut settings);
    a.site.apply(&mut settings);
    settings.pipeline.roles = chorus::roles::Roles(a.roles.into_iter().collect());
    if let Some(secs) = a.lease_seconds {
        let lease = chrono::Duration::seconds(i64::try_from(secs.max(1)).unwrap_or(i64::MAX));
        let claims = &mut settings.pipeline.claims;
        (claims.embed_lease, claims.write_lease) = (lease, lease);
    }
    chorus::service::run(&settings, a.once, |addr| println!("serving http://{addr}"))?;
    println!("stopped");
    Ok(0)
}

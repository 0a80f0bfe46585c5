//! `chorus backup`: an online copy of the database.

use super::args::StoreArgs;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `chorus backup`.
#[derive(Args)]
pub struct BackupArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The backup file (must not exist).
    #[arg(long)]
    out: PathBuf,
}

/// Writes the backup and says how to restore it.
pub fn run(a: BackupArgs) -> Result<i32> {
    let store = a.store.settings();
    let how = chorus::admin::backup(&store, &a.out)?;
    println!("backup of {} written to {}", store.database_label(), a.out.display());
    println!("{how}");
    Ok(0)
}

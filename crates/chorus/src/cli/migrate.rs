//! `chorus migrate`: a SQLite database into an empty PostgreSQL one, verified by counts.

use anyhow::Result;
use clap::Args;

/// Arguments of `chorus migrate`.
#[derive(Args)]
pub struct MigrateArgs {
    /// The SQLite database: sqlite:PATH (e.g. sqlite:~/.local/share/chorus/chorus.db).
    #[arg(long)]
    from: String,
    /// The PostgreSQL database: postgres://USER@HOST:PORT/DB (must be empty).
    #[arg(long)]
    to: String,
    /// Print the table counts as JSON.
    #[arg(long)]
    json: bool,
}

/// Copies and compares.
pub fn run(a: MigrateArgs) -> Result<i32> {
    let report = chorus::admin::migrate(&a.from, &a.to, |table, rows| eprintln!("copied {table}: {rows} rows"))?;
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        for (table, source, target) in &report.tables {
            println!("{table:<20} {source:>9} rows → {target:>9} rows");
        }
        println!("verified: every table has as many rows in PostgreSQL as in SQLite");
    }
    Ok(0)
}

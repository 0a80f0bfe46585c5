//! Keeping and moving data: `chorus migrate` (SQLite → PostgreSQL, everything, verified by
//! counts) and `chorus backup` (an online copy of a SQLite database; `pg_dump` for
//! PostgreSQL). Both refuse to write over anything.

use crate::settings::StoreSettings;
use chorus_store::Address;
use chorus_store::copy::CopyReport;
use std::path::Path;

/// Errors of the data commands.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// An address is not of the kind the command takes.
    #[error("{0}")]
    Usage(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] chorus_store::StoreError),
}

/// Copies the SQLite database `from` (`sqlite:PATH` or a path) into the empty PostgreSQL
/// database `to`; `progress(table, rows)` after each table.
pub fn migrate(from: &str, to: &str, progress: impl FnMut(&str, u64) + Send) -> Result<CopyReport, AdminError> {
    let Address::Sqlite(path) = Address::parse(from)? else {
        return Err(AdminError::Usage(format!(
            "--from {}: migrate copies from a SQLite file (sqlite:PATH)",
            chorus_store::redact(from)
        )));
    };
    let Address::Postgres(to) = Address::parse(to)? else {
        return Err(AdminError::Usage(format!(
            "--to {}: migrate copies into PostgreSQL (postgres://USER@HOST/DB)",
            chorus_store::redact(to)
        )));
    };
    Ok(chorus_store::copy::sqlite_to_postgres(path, to, progress)?)
}

/// Backs up the database `store` names into `out`; returns what was done and how to
/// restore it, in words.
pub fn backup(store: &StoreSettings, out: &Path) -> Result<String, AdminError> {
    let address = store.database_address();
    match Address::parse(&address)? {
        Address::Postgres(url) => Ok(chorus_store::copy::pg_dump(url, out)?),
        Address::Sqlite(path) => {
            if !path.exists() {
                return Err(AdminError::Usage(format!("no chorus database at {}", path.display())));
            }
            chorus_store::SqliteStore::open(path)?.backup(out)?;
            Ok(format!(
                "restore: stop chorus, then copy {} to {} (or start chorus with --database sqlite:{})",
                out.display(),
                path.display(),
                out.display()
            ))
        }
    }
}

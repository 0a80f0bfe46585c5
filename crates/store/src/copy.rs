//! Moving a whole SQLite database into PostgreSQL (`chorus migrate`): every table, row for
//! row, with ids kept (stories, outlets and arrival order keep their numbers, so links and
//! revision histories stay valid), in one PostgreSQL transaction, then counted on both sides.
//! The target must be empty: a copy never merges into data it could overwrite.

use crate::{PgStore, Result, StoreError, vector_from_bytes};
use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use rusqlite::OpenFlags;
use std::path::Path;

/// How a column is read from SQLite and written to PostgreSQL.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    OptText,
    Int,
    OptInt,
    Int32,
    OptInt32,
    Bool,
    Time,
    OptTime,
    Blob,
    Vector,
    Json,
    Real,
}

/// One table: its name, columns and the order rows are copied in (arrival order where
/// PostgreSQL numbers rows itself).
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    order: &'static str,
    /// An identity column whose sequence must continue after the copied ids.
    identity: Option<&'static str>,
}

use Kind::*;

/// Every table, parents before children.
const TABLES: &[Table] = &[
    Table {
        name: "stories",
        columns: &[("id", Int), ("created_at", Time), ("dirty", Bool), ("generation", Int)],
        order: "id",
        identity: Some("id"),
    },
    Table {
        name: "articles",
        columns: &[
            ("seq", Int),
            ("id", Text),
            ("url", Text),
            ("outlet", Text),
            ("lang", Text),
            ("lang_detected", Bool),
            ("published", OptTime),
            ("title", Text),
            ("body", Text),
            ("content_hash", Text),
            ("fingerprint", Blob),
            ("duplicate_of", OptText),
            ("story_id", OptInt),
            ("ingested_at", Time),
        ],
        order: "seq",
        identity: Some("seq"),
    },
    Table {
        name: "article_vectors",
        columns: &[("article_id", Text), ("model", Text), ("vector", Vector)],
        order: "rowid",
        identity: None,
    },
    Table {
        name: "sentence_vectors",
        columns: &[("model", Text), ("text_key", Int), ("vector", Vector)],
        order: "model, text_key",
        identity: None,
    },
    Table {
        name: "story_texts",
        columns: &[("story_id", Int), ("lang", Text), ("written_at", Time), ("article", Json)],
        order: "story_id, lang",
        identity: None,
    },
    Table {
        name: "outlets",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("homepage", Text),
            ("country", Text),
            ("languages", Json),
            ("kind", Text),
            ("added_at", Time),
        ],
        order: "id",
        identity: Some("id"),
    },
    Table {
        name: "feeds",
        columns: &[
            ("url", Text),
            ("outlet_id", Int),
            ("title", Text),
            ("etag", OptText),
            ("last_modified", OptText),
            ("next_check_at", OptTime),
            ("last_fetch_at", OptTime),
            ("error_count", Int32),
            ("last_error", OptText),
        ],
        order: "url",
        identity: None,
    },
    Table {
        name: "article_rechecks",
        columns: &[("article_id", Text), ("due_at", OptTime), ("checks_done", Int32)],
        order: "article_id",
        identity: None,
    },
    Table {
        name: "article_revisions",
        columns: &[
            ("article_id", Text),
            ("checked_at", Time),
            ("status", Text),
            ("detail", Text),
            ("old_title", Text),
            ("old_body", Text),
        ],
        order: "rowid",
        identity: None,
    },
    Table {
        name: "story_revisions",
        columns: &[
            ("story_id", Int),
            ("lang", Text),
            ("revision", Int32),
            ("written_at", Time),
            ("edited_by", Text),
            ("note", Text),
            ("report_id", OptText),
            ("article", Json),
            ("by_editor", Bool),
        ],
        order: "story_id, lang, revision",
        identity: None,
    },
    Table {
        name: "story_drafts",
        columns: &[("story_id", Int), ("lang", Text), ("written_at", Time), ("article", Json)],
        order: "story_id, lang",
        identity: None,
    },
    Table {
        name: "reports",
        columns: &[
            ("id", Text),
            ("story_id", Int),
            ("lang", Text),
            ("kind", Text),
            ("body", Text),
            ("source_url", OptText),
            ("created_at", Time),
            ("status", Text),
            ("reason", OptText),
            ("resolved_by", OptText),
            ("resolved_at", OptTime),
            ("revision", OptInt32),
        ],
        order: "rowid",
        identity: None,
    },
    Table {
        name: "users",
        columns: &[("name", Text), ("password_hash", Text), ("created_at", Time)],
        order: "name",
        identity: None,
    },
    Table {
        name: "sessions",
        columns: &[("token_hash", Text), ("user_name", Text), ("csrf", Text), ("expires_at", Time)],
        order: "token_hash",
        identity: None,
    },
    Table {
        name: "story_views",
        columns: &[("story_id", Int), ("day", Text), ("visitor", Blob)],
        order: "story_id, day, visitor",
        identity: None,
    },
    Table {
        name: "story_view_totals",
        columns: &[("story_id", Int), ("views", Int)],
        order: "story_id",
        identity: None,
    },
    Table {
        name: "story_related",
        columns: &[("story_id", Int), ("related_id", Int), ("similarity", Real)],
        order: "story_id, related_id",
        identity: None,
    },
    Table {
        name: "cluster_state",
        columns: &[("model", Text), ("articles", Int), ("observed", Blob), ("updated_at", Time)],
        order: "model",
        identity: None,
    },
];

/// Rows copied per table, as counted in both databases afterwards.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// `(table, rows in the source, rows in the target)`, parents first.
    pub tables: Vec<(String, u64, u64)>,
}

impl CopyReport {
    /// True when every table has as many rows in the target as in the source.
    pub fn verified(&self) -> bool {
        self.tables.iter().all(|(_, a, b)| a == b)
    }
}

type Param = Box<dyn ToSql + Sync + Send>;

fn bad(table: &str, column: &str, row: usize, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{table}.{column}, row {row}: {what}"))
}

fn time(table: &str, column: &str, row: usize, s: Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.map(|s| {
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| bad(table, column, row, format!("time {s:?}: {e}")))
    })
    .transpose()
}

/// Reads one value of a SQLite row as the PostgreSQL parameter it becomes.
fn value(t: &Table, i: usize, row_no: usize, row: &rusqlite::Row<'_>) -> Result<Param> {
    let (column, kind) = t.columns[i];
    Ok(match kind {
        Text => Box::new(row.get::<_, String>(i)?),
        OptText => Box::new(row.get::<_, Option<String>>(i)?),
        Int => Box::new(row.get::<_, i64>(i)?),
        OptInt => Box::new(row.get::<_, Option<i64>>(i)?),
        Int32 => Box::new(i32::try_from(row.get::<_, i64>(i)?).map_err(|e| bad(t.name, column, row_no, e))?),
        OptInt32 => Box::new(
            row.get::<_, Option<i64>>(i)?.map(i32::try_from).transpose().map_err(|e| bad(t.name, column, row_no, e))?,
        ),
        Bool => Box::new(row.get::<_, i64>(i)? != 0),
        Time => Box::new(
            time(t.name, column, row_no, Some(row.get(i)?))?.ok_or_else(|| bad(t.name, column, row_no, "no time"))?,
        ),
        OptTime => Box::new(time(t.name, column, row_no, row.get(i)?)?),
        Blob => Box::new(row.get::<_, Vec<u8>>(i)?),
        Vector => Box::new(vector_from_bytes(&row.get::<_, Vec<u8>>(i)?)?),
        Json => {
            let text: String = row.get(i)?;
            Box::new(serde_json::from_str::<serde_json::Value>(&text).map_err(|e| bad(t.name, column, row_no, e))?)
        }
        Real => Box::new(row.get::<_, f64>(i)? as f32),
    })
}

/// Copies every table of the SQLite database at `from` into the (empty) PostgreSQL
/// database at `to`, in one transaction, and counts the rows on both sides.
/// `progress(table, rows)` is called after each table.
pub fn sqlite_to_postgres(from: &Path, to: &str, mut progress: impl FnMut(&str, u64) + Send) -> Result<CopyReport> {
    if !from.exists() {
        return Err(StoreError::Corrupt(format!("no SQLite database at {}", from.display())));
    }
    // Bring the source's schema up to date first (a read-only copy could not).
    drop(crate::SqliteStore::open(from)?);
    let source = rusqlite::Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let target = PgStore::connect_with(to, 2)?;
    // One read transaction on the source: a consistent snapshot even while chorus writes.
    source.execute_batch("BEGIN")?;
    let source = std::sync::Mutex::new(source);
    let counts = target.with(|c| {
        let mut tx = c.transaction()?;
        for t in TABLES {
            let n: i64 = tx.query_one(&format!("SELECT COUNT(*) FROM {}", t.name), &[])?.try_get(0)?;
            if n > 0 {
                return Err(StoreError::Corrupt(format!(
                    "the target database is not empty ({} has {n} rows): migrate copies into an empty database only",
                    t.name
                )));
            }
        }
        let source = source.lock().unwrap_or_else(|p| p.into_inner());
        let mut counts = Vec::new();
        for t in TABLES {
            let names: Vec<&str> = t.columns.iter().map(|(c, _)| *c).collect();
            let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
            let override_ids = if t.identity.is_some() { " OVERRIDING SYSTEM VALUE" } else { "" };
            let insert = tx.prepare(&format!(
                "INSERT INTO {} ({}){override_ids} VALUES ({})",
                t.name,
                names.join(", "),
                placeholders.join(", ")
            ))?;
            let mut st = source.prepare(&format!("SELECT {} FROM {} ORDER BY {}", names.join(", "), t.name, t.order))?;
            let mut rows = st.query([])?;
            let mut copied = 0u64;
            while let Some(row) = rows.next()? {
                let params: Vec<Param> =
                    (0..names.len()).map(|i| value(t, i, copied as usize + 1, row)).collect::<Result<_>>()?;
                let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
                tx.execute(&insert, &refs)?;
                copied += 1;
            }
            if let Some(col) = t.identity {
                tx.execute(
                    &format!(
                        "SELECT setval(pg_get_serial_sequence('{0}', '{col}'), COALESCE((SELECT MAX({col}) FROM {0}), 0) + 1, false)",
                        t.name
                    ),
                    &[],
                )?;
            }
            let source_rows: i64 = source.query_row(&format!("SELECT COUNT(*) FROM {}", t.name), [], |r| r.get(0))?;
            let target_rows: i64 = tx.query_one(&format!("SELECT COUNT(*) FROM {}", t.name), &[])?.try_get(0)?;
            progress(t.name, copied);
            counts.push((t.name.to_string(), source_rows.max(0) as u64, target_rows.max(0) as u64));
        }
        let report = CopyReport { tables: counts };
        if !report.verified() {
            // Rolled back: nothing half-copied stays behind.
            return Err(StoreError::Corrupt(format!("row counts differ after the copy: {:?}", report.tables)));
        }
        tx.commit()?;
        Ok(report)
    })?;
    Ok(counts)
}

/// Backs up a PostgreSQL database with `pg_dump --format=custom` into `out` (which must
/// not exist) and returns how to restore it. PostgreSQL's own tool is the right one: it
/// takes a consistent snapshot while chorus keeps running, and `pg_restore` reads it.
pub fn pg_dump(address: &str, out: &Path) -> Result<String> {
    if out.exists() {
        return Err(StoreError::Corrupt(format!("{} exists: a backup never overwrites a file", out.display())));
    }
    let shown = crate::redact(address);
    let status = std::process::Command::new("pg_dump")
        .args(["--format=custom", "--no-owner", "--file"])
        .arg(out)
        .arg(address)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| {
            StoreError::Corrupt(format!(
                "running pg_dump: {e}. Install PostgreSQL's client tools (Debian: postgresql-client) or run \
                 `pg_dump --format=custom --file {} {shown}` where they are",
                out.display()
            ))
        })?;
    if !status.status.success() {
        return Err(StoreError::Corrupt(format!(
            "pg_dump of {shown} failed: {}",
            String::from_utf8_lossy(&status.stderr).trim()
        )));
    }
    Ok(format!(
        "restore into an empty database with: createdb NEWDB && pg_restore --no-owner --exit-on-error \
         --dbname postgres://USER@HOST/NEWDB {}",
        out.display()
    ))
}

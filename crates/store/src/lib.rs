//! chorus-store: where articles, vectors, stories and written articles are kept.
//!
//! Every other crate reaches storage through traits per aggregate ([`ArticleStore`],
//! [`StoryStore`], [`FeedStore`], [`WorkStore`], [`SiteStore`]; [`Store`] bundles all but
//! the site's, and [`prelude`] imports them), which two backends implement: [`SqliteStore`] (one file, the embedded default) and
//! [`PgStore`] (PostgreSQL, for several processes on several machines). What an editor
//! or reader expects of stored texts (revisions, drafts behind corrections, report
//! states, list summaries) is decided once in [`rules`]; backends only read and write rows.
//! Each backend keeps its own numbered SQL migrations (`migrations/`, `migrations/postgres/`),
//! applied in order when a store is opened. [`open`] picks the backend from a database
//! address. The same conformance suite (`tests/conformance.rs`) runs against both.

pub mod copy;
mod pg;
mod pg_site;
pub mod rules;
pub mod site;
mod sqlite;
mod sqlite_site;
pub mod testing;

pub use pg::{DEFAULT_POOL_SIZE, PgStore};
pub use site::{NewReport, REPORT_KINDS, Report, RevisionInfo, Session, SiteStore, StoryView};
pub use sqlite::SqliteStore;

use chorus_core::{Article, ArticleRecord, Outlet, StoryArticle, StoryDetail, StoryId, StorySummary};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// PostgreSQL reported an error.
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    /// No pooled PostgreSQL connection could be had.
    #[error("postgres connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// The PostgreSQL server could not be reached or refused the connection.
    #[error("connecting to {address}: {source}")]
    Connect {
        /// The address (passwords removed).
        address: String,
        /// What the client reported.
        source: postgres::Error,
    },
    /// The database address names no backend this build knows, or is malformed.
    #[error("database address {address:?}: {reason}")]
    Address {
        /// The address as given (passwords removed).
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Stored JSON could not be read back.
    #[error("stored JSON in {what}: {source}")]
    Json {
        /// What was being read.
        what: String,
        /// Underlying error.
        source: serde_json::Error,
    },
    /// The database file was written by a newer chorus.
    #[error("database schema version {found} is newer than this chorus understands ({known})")]
    TooNew {
        /// Version found in the file.
        found: i64,
        /// Latest version this build knows.
        known: i64,
    },
    /// Something stored is inconsistent.
    #[error("{0}")]
    Corrupt(String),
}

/// Result alias for storage calls.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Why storage refused a write when the fault is where it writes, not what: the caller
/// names the place and says what to do (free space, make the folder writable), and the
/// same work can simply run again once that is fixed (every write is one transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageTrouble {
    /// No space left on the disk (SQLite `SQLITE_FULL`, PostgreSQL `disk_full`, `ENOSPC`).
    Full,
    /// The place cannot be written: a read-only filesystem or file, or no permission.
    ReadOnly,
}

impl StorageTrouble {
    /// The trouble behind `error` or any error in its chain of sources, if any.
    pub fn of(error: &(dyn std::error::Error + 'static)) -> Option<StorageTrouble> {
        let mut next = Some(error);
        while let Some(e) = next {
            if let Some(found) = Self::of_one(e) {
                return Some(found);
            }
            next = e.source();
        }
        None
    }

    fn of_one(e: &(dyn std::error::Error + 'static)) -> Option<StorageTrouble> {
        if let Some(rusqlite::Error::SqliteFailure(failure, _)) = e.downcast_ref::<rusqlite::Error>() {
            return match failure.code {
                rusqlite::ErrorCode::DiskFull => Some(StorageTrouble::Full),
                rusqlite::ErrorCode::ReadOnly => Some(StorageTrouble::ReadOnly),
                _ => None,
            };
        }
        if let Some(code) = e.downcast_ref::<postgres::Error>().and_then(|pg| pg.code()) {
            return match code {
                c if *c == postgres::error::SqlState::DISK_FULL => Some(StorageTrouble::Full),
                c if *c == postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION => Some(StorageTrouble::ReadOnly),
                _ => None,
            };
        }
        match e.downcast_ref::<std::io::Error>().map(|io| io.kind()) {
            Some(std::io::ErrorKind::StorageFull) => Some(StorageTrouble::Full),
            Some(std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied) => {
                Some(StorageTrouble::ReadOnly)
            }
            _ => None,
        }
    }
}

/// What happened to an article offered to [`ArticleStore::insert_articles`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// It was new and is now stored.
    Inserted,
    /// The same id with the same content was already stored; nothing changed.
    Unchanged,
    /// The id is stored with different content; the stored version was kept.
    Conflict,
}

/// An article to insert, with what ingest derived from it.
#[derive(Debug, Clone)]
pub struct NewArticle<'a> {
    /// The article.
    pub article: &'a Article,
    /// Hash of its content, to tell re-ingestion from a conflicting edit.
    pub content_hash: String,
    /// Its dedup fingerprint, serialised.
    pub fingerprint: Vec<u8>,
    /// The earlier article it duplicates, if any.
    pub duplicate_of: Option<String>,
}

/// Counts of what is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStats {
    /// Articles stored.
    pub articles: usize,
    /// Articles that duplicate another.
    pub duplicates: usize,
    /// Stories.
    pub stories: usize,
    /// Written articles (story × edition language).
    pub story_texts: usize,
}

/// One clustered article's vector, used to rebuild the clusterer's state.
#[derive(Debug, Clone)]
pub struct ClusteredVector {
    /// Story it belongs to.
    pub story_id: StoryId,
    /// Its publication time.
    pub published: Option<DateTime<Utc>>,
    /// Its language.
    pub lang: String,
    /// Its headline and the start of its text (up to 1,000 characters).
    pub lead: String,
    /// Its vector.
    pub vector: Vec<f32>,
}

/// What the clustering leader has observed of one model's vectors, saved with each
/// round's assignments (see [`StoryStore::assign_observed`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterState {
    /// The embedding model.
    pub model: String,
    /// How many clustered articles the statistics cover (also inside `observed`; kept as a
    /// column so it can be read without decoding them). When the statistics cover a
    /// different number than [`ArticleStore::clustered_count`], they are rebuilt.
    pub articles: u64,
    /// The statistics (`chorus_cluster::OnlineClusterer::observed_bytes`).
    pub observed: Vec<u8>,
}

/// A story whose sources changed since it was last written, with the generation of its
/// dirty mark: writing it clears the mark only if no new mark was made meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirtyStory {
    /// The story.
    pub id: StoryId,
    /// Counts every mark; compared when the written texts are stored.
    pub generation: i64,
}

/// The database a database address names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address<'a> {
    /// A PostgreSQL server: `postgres://…` or `postgresql://…`.
    Postgres(&'a str),
    /// A SQLite file: `sqlite:PATH`, `sqlite://PATH` or a plain path.
    Sqlite(&'a std::path::Path),
}

impl<'a> Address<'a> {
    /// Reads a database address; anything else with a `scheme://` is refused.
    pub fn parse(address: &'a str) -> Result<Address<'a>> {
        if address.starts_with("postgres://") || address.starts_with("postgresql://") {
            return Ok(Address::Postgres(address));
        }
        let path = address.strip_prefix("sqlite://").or_else(|| address.strip_prefix("sqlite:")).unwrap_or(address);
        if path.is_empty() || path.contains("://") {
            return Err(StoreError::Address {
                address: redact(address),
                reason: "expected postgres://…, sqlite:PATH or a file path".into(),
            });
        }
        Ok(Address::Sqlite(std::path::Path::new(path)))
    }
}

/// Opens the store a database address names (see [`Address`]); a SQLite file is created
/// if missing.
pub fn open(address: &str) -> Result<std::sync::Arc<dyn SiteStore>> {
    Ok(match Address::parse(address)? {
        Address::Postgres(url) => std::sync::Arc::new(PgStore::connect(url)?),
        Address::Sqlite(path) => std::sync::Arc::new(SqliteStore::open(path)?),
    })
}

/// A database address with its password (if any) replaced by `***`, for messages.
pub fn redact(address: &str) -> String {
    match url::Url::parse(address) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => address.to_string(),
    }
}

/// The SQL condition (both backends) selecting articles of stories whose latest article
/// is not before parameter `latest` and whose earliest is not before parameter `earliest`
/// (undated stories always qualify); see [`ArticleStore::open_story_vectors`].
pub(crate) fn open_stories_condition(latest: &str, earliest: &str) -> String {
    format!(
        "a.story_id IN (SELECT story_id FROM articles WHERE story_id IS NOT NULL GROUP BY story_id \
         HAVING (max(published) IS NULL OR max(published) >= {latest}) \
         AND (min(published) IS NULL OR min(published) >= {earliest}))"
    )
}

/// Articles, their vectors and their re-checks: what ingest stores and embedding and
/// clustering read.
pub trait ArticleStore: Send + Sync {
    /// Inserts articles in one transaction, reporting per article what happened.
    fn insert_articles(&self, articles: &[NewArticle<'_>]) -> Result<Vec<InsertOutcome>>;
    /// The stored article with this id.
    fn article(&self, id: &str) -> Result<Option<ArticleRecord>>;
    /// `(id, fingerprint)` of every article, in arrival order (to rebuild the dedup index).
    fn fingerprints(&self) -> Result<Vec<(String, Vec<u8>)>>;
    /// Articles that have no vector from `model` yet, in arrival order.
    fn articles_without_vector(&self, model: &str) -> Result<Vec<ArticleRecord>>;
    /// Stores article vectors.
    fn put_article_vectors(&self, model: &str, vectors: &[(String, Vec<f32>)]) -> Result<()>;
    /// Articles not yet in a story, oldest publication first (arrival order breaks ties
    /// and places undated articles by arrival).
    fn unclustered_articles(&self) -> Result<Vec<ArticleRecord>>;
    /// Vectors from `model` of the given articles.
    fn article_vectors(&self, model: &str, ids: &[String]) -> Result<HashMap<String, Vec<f32>>>;
    /// Vectors from `model` of every clustered article, with story and time, in the order
    /// they were clustered (as [`unclustered_articles`](Self::unclustered_articles) lists them).
    fn clustered_vectors(&self, model: &str) -> Result<Vec<ClusteredVector>>;
    /// Vectors from `model` of the articles of stories still open at some time: those
    /// whose latest article is not before `latest_since` and whose earliest is not before
    /// `earliest_since` (undated stories are always open), in the order they were clustered.
    fn open_story_vectors(
        &self,
        model: &str,
        latest_since: DateTime<Utc>,
        earliest_since: DateTime<Utc>,
    ) -> Result<Vec<ClusteredVector>>;
    /// How many clustered articles have a vector from `model`.
    fn clustered_count(&self, model: &str) -> Result<u64>;
    /// The clustering statistics saved for `model`, if any.
    fn cluster_state(&self, model: &str) -> Result<Option<ClusterState>>;
    /// Cached sentence vectors by text key.
    fn sentence_vectors(&self, model: &str, keys: &[u64]) -> Result<HashMap<u64, Vec<f32>>>;
    /// Caches sentence vectors.
    fn put_sentence_vectors(&self, model: &str, vectors: &[(u64, Vec<f32>)]) -> Result<()>;
    /// Schedules a first re-check of these articles at `due` (articles already scheduled
    /// keep their schedule).
    fn schedule_rechecks(&self, ids: &[String], due: DateTime<Utc>) -> Result<()>;
    /// Articles whose re-check is due at `now`, oldest first, at most `limit`.
    fn due_rechecks(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Recheck>>;
    /// Records a re-check: an edit replaces the article's title and text (the old ones
    /// are kept in its revisions), an edit or a removal marks its story for rewriting;
    /// `next_due` schedules the next check (`None`: no more checks).
    fn record_recheck(
        &self,
        id: &str,
        outcome: &RecheckOutcome,
        checked_at: DateTime<Utc>,
        next_due: Option<DateTime<Utc>>,
    ) -> Result<()>;
    /// An article's recorded edits and removal, oldest first.
    fn article_revisions(&self, id: &str) -> Result<Vec<ArticleRevision>>;
}

/// Stories: which articles they hold, their written texts (through [`rules`]), related
/// stories, counts.
pub trait StoryStore: Send + Sync {
    /// Creates a story and assigns articles to stories in one transaction. `assignments`
    /// pairs an article id with either an existing story or the index of a story to
    /// create (`Err(k)`: the k-th new story). Returns the ids of the new stories.
    fn assign(
        &self,
        new_stories: usize,
        assignments: &[(String, std::result::Result<StoryId, usize>)],
    ) -> Result<Vec<StoryId>>;
    /// [`StoryStore::assign`] and saves the clustering statistics `state`, in one
    /// transaction, so the statistics always cover exactly the clustered articles.
    fn assign_observed(
        &self,
        new_stories: usize,
        assignments: &[(String, std::result::Result<StoryId, usize>)],
        state: &ClusterState,
    ) -> Result<Vec<StoryId>>;
    /// Stories whose sources changed since they were last written, by id.
    fn dirty_stories(&self) -> Result<Vec<DirtyStory>>;
    /// The articles of a story, oldest first.
    fn story_sources(&self, story: StoryId) -> Result<Vec<ArticleRecord>>;
    /// Replaces a story's written articles (following [`rules::plan_machine_text`]) and
    /// marks it clean if its mark still has `generation` (the one [`StoryStore::dirty_stories`]
    /// returned). Returns false when the story was marked again meanwhile: it stays dirty,
    /// so the next run writes it with the new sources.
    fn put_story_texts(&self, story: StoryId, generation: i64, texts: &[StoryArticle]) -> Result<bool>;
    /// All stories, most independently sourced first, then most recent.
    fn story_summaries(&self) -> Result<Vec<StorySummary>>;
    /// One story with its sources and written articles.
    fn story_detail(&self, id: StoryId) -> Result<Option<StoryDetail>>;
    /// Replaces a story's related stories (follow-ups on the same subject).
    fn put_related(&self, story: StoryId, related: &[(StoryId, f32)]) -> Result<()>;
    /// A story's related stories, most similar first.
    fn related(&self, story: StoryId) -> Result<Vec<(StoryId, f32)>>;
    /// Counts of what is stored.
    fn stats(&self) -> Result<StoreStats>;
}

/// The outlets chorus follows, their feeds and each feed's fetch state.
pub trait FeedStore: Send + Sync {
    /// Adds outlets or updates those with the same name (fields replaced, feeds added to
    /// the outlet's feeds; a feed already listed under another outlet moves). Returns
    /// `(added, updated)`.
    fn put_outlets(&self, outlets: &[Outlet]) -> Result<(usize, usize)>;
    /// Every outlet with its feeds, by name.
    fn outlets(&self) -> Result<Vec<Outlet>>;
    /// Feeds due for a poll at `now` (never polled, or their next check has come), the
    /// longest waiting first.
    fn due_feeds(&self, now: DateTime<Utc>) -> Result<Vec<FeedState>>;
    /// Records the result of polling a feed.
    fn record_feed_poll(&self, url: &str, update: &FeedUpdate) -> Result<()>;
}

/// Coordination of several processes on one database: work is claimed with a lease
/// (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: an immediate transaction), so two
/// workers never take the same item and a dead worker's items are taken again once its
/// lease has run out; one process leads clustering; web nodes hear of new texts.
pub trait WorkStore: Send + Sync {
    /// Claims up to `limit` articles without a vector from `model` that no live lease
    /// holds, in arrival order, for `lease`.
    fn claim_unembedded(&self, model: &str, worker: &str, lease: Duration, limit: usize) -> Result<Vec<ArticleRecord>>;
    /// Claims up to `limit` dirty stories that no live lease holds, by id, for `lease`.
    fn claim_dirty_stories(&self, worker: &str, lease: Duration, limit: usize) -> Result<Vec<DirtyStory>>;
    /// Claims up to `limit` sources whose re-check is due at `now` and that no live lease
    /// holds (the longest waiting first), for `lease`; [`ArticleStore::record_recheck`]
    /// then schedules the next check and [`WorkStore::release`] frees the claim.
    fn claim_due_rechecks(
        &self,
        now: DateTime<Utc>,
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Recheck>>;
    /// Claims up to `limit` feeds due at `now` that no live lease holds (the longest
    /// waiting first), for `lease`.
    fn claim_due_feeds(
        &self,
        now: DateTime<Utc>,
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<FeedState>>;
    /// Gives back `worker`'s claims on these items (done, or failed and to be retried).
    fn release(&self, work: Work, worker: &str, keys: &[String]) -> Result<()>;
    /// Becomes the one process doing `role` (clustering) if no live process is; the
    /// leadership lasts while the returned value lives (and the process with it).
    /// PostgreSQL: a session advisory lock; SQLite: an OS file lock beside the database.
    fn try_lead(&self, role: &str) -> Result<Option<Box<dyn Leadership>>>;
    /// Watches for written texts stored by any process (so a web node can refresh its
    /// page cache and search index). PostgreSQL: `LISTEN`/`NOTIFY`; SQLite: the file's
    /// data version and its texts; `None` where no other process can write (in memory).
    fn watch_texts(&self) -> Result<Option<Box<dyn TextWatch>>>;
}

/// Everything the pipeline needs from storage: every aggregate's trait. Implemented for
/// every type that implements them all (both backends); `use chorus_store::prelude::*`
/// brings the methods into scope.
pub trait Store: ArticleStore + StoryStore + FeedStore + WorkStore {}

impl<T: ArticleStore + StoryStore + FeedStore + WorkStore + ?Sized> Store for T {}

/// The storage traits, to call their methods on a `dyn Store` or `dyn SiteStore`.
pub mod prelude {
    pub use crate::{ArticleStore, FeedStore, SiteStore, Store, StoryStore, WorkStore};
}

/// Tells when written texts changed.
pub trait TextWatch: Send {
    /// Waits up to `timeout`; true when texts were stored meanwhile (by any process).
    fn wait(&mut self, timeout: std::time::Duration) -> Result<bool>;
}

/// Kinds of claimable work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// An article to embed (key: article id).
    Embed,
    /// A story to write (key: story id).
    Write,
    /// A feed to poll (key: feed URL).
    Fetch,
    /// A source to re-check (key: article id).
    Recheck,
}

impl Work {
    /// The name stored with the lease.
    pub fn as_str(self) -> &'static str {
        match self {
            Work::Embed => "embed",
            Work::Write => "write",
            Work::Fetch => "fetch",
            Work::Recheck => "recheck",
        }
    }
}

/// Held by the one process that leads a role; dropping it steps down.
pub trait Leadership: Send {
    /// False once the leadership is known to be lost (the database session ended).
    fn still_leading(&mut self) -> bool;
}

/// An article due for a re-check.
#[derive(Debug, Clone, PartialEq)]
pub struct Recheck {
    /// The stored article.
    pub record: ArticleRecord,
    /// Checks already done (0: this is the first).
    pub checks_done: u32,
}

/// What a re-check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecheckOutcome {
    /// The same text.
    Unchanged,
    /// Edited: the new title and text, with their content hash and fingerprint.
    Changed {
        /// New headline.
        title: String,
        /// New text.
        text: String,
        /// New content hash.
        content_hash: String,
        /// New dedup fingerprint.
        fingerprint: Vec<u8>,
        /// What changed, in words.
        detail: String,
    },
    /// The page is gone (404/410).
    Vanished {
        /// Why it counts as gone.
        reason: String,
    },
    /// The check itself failed (timeout, 5xx): nothing is recorded, the check is
    /// rescheduled and does not count.
    Failed {
        /// What went wrong.
        reason: String,
    },
}

/// A recorded edit or removal of a source article.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ArticleRevision {
    /// When it was found.
    pub checked_at: DateTime<Utc>,
    /// `changed` or `vanished`.
    pub status: String,
    /// What changed, or why it is gone.
    pub detail: String,
    /// The headline before.
    pub old_title: String,
    /// The text before.
    pub old_body: String,
}

/// A feed with its outlet and fetch state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedState {
    /// Feed URL.
    pub url: String,
    /// Its outlet's name.
    pub outlet: String,
    /// Its outlet's languages.
    pub outlet_languages: Vec<String>,
    /// `ETag` of the last response.
    pub etag: Option<String>,
    /// `Last-Modified` of the last response.
    pub last_modified: Option<String>,
    /// Consecutive failed polls.
    pub error_count: u32,
    /// The last failure, in words.
    pub last_error: Option<String>,
}

/// What one poll of a feed changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedUpdate {
    /// Validators for the next conditional GET (kept when `None`).
    pub etag: Option<String>,
    /// See `etag`.
    pub last_modified: Option<String>,
    /// When to poll next.
    pub next_check_at: DateTime<Utc>,
    /// When this poll happened.
    pub fetched_at: DateTime<Utc>,
    /// Consecutive failures including this poll (0 on success).
    pub error_count: u32,
    /// This poll's failure, or `None` on success.
    pub last_error: Option<String>,
    /// The feed's title, when read.
    pub title: Option<String>,
}

/// Encodes a vector as little-endian f32 bytes.
pub fn vector_to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Decodes little-endian f32 bytes.
pub fn vector_from_bytes(b: &[u8]) -> Result<Vec<f32>> {
    if !b.len().is_multiple_of(4) {
        return Err(StoreError::Corrupt(format!("vector blob of {} bytes is not a multiple of 4", b.len())));
    }
    Ok(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_trouble_is_found_through_the_error_chain() {
        // SQLite refuses to grow past max_page_count with SQLITE_FULL, as on a full disk.
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x BLOB); PRAGMA max_page_count = 8;").unwrap();
        let full = conn.execute("INSERT INTO t VALUES (zeroblob(100000))", []).map_err(StoreError::from).unwrap_err();
        assert_eq!(StorageTrouble::of(&full), Some(StorageTrouble::Full), "{full}");
        let wrapped = std::io::Error::other(full);
        assert_eq!(StorageTrouble::of(&wrapped), Some(StorageTrouble::Full));
        let read_only = std::io::Error::from(std::io::ErrorKind::ReadOnlyFilesystem);
        assert_eq!(StorageTrouble::of(&read_only), Some(StorageTrouble::ReadOnly));
        let other = conn.execute("INSERT INTO nowhere VALUES (1)", []).map_err(StoreError::from).unwrap_err();
        assert_eq!(StorageTrouble::of(&other), None);
    }
}

//! PostgreSQL implementation of the storage traits: pooled connections (r2d2), its own numbered
//! migrations (`migrations/postgres/`, recorded in `chorus_schema_migrations` and applied
//! under an advisory lock so processes starting together do not race), timestamps as
//! `timestamptz`, vectors as `real[]`, written articles as `jsonb`.
//!
//! The `postgres` client is synchronous (it drives its own small runtime), so every call
//! leaves the async runtime first ([`off_runtime`]); the web layer already calls the
//! store through `spawn_blocking`, so no request thread blocks on the database.

use crate::rules::{self, SourceFacts, TextPlan, WrittenFacts};
use crate::{
    ArticleRevision, ClusterState, ClusteredVector, DirtyStory, FeedState, FeedUpdate, InsertOutcome, Leadership,
    NewArticle, Recheck, RecheckOutcome, Result, StoreError, StoreStats, TextWatch, Work,
};
use crate::{ArticleStore, FeedStore, StoryStore, WorkStore};
use chorus_core::{Article, ArticleRecord, Outlet, OutletKind, StoryArticle, StoryDetail, StoryId, StorySummary};
use chrono::{DateTime, Duration as Span, Utc};
use postgres::{Client, NoTls, Row, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use std::collections::HashMap;
use std::time::Duration;

/// Numbered schema migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/postgres/0001_initial.sql"),
    include_str!("../migrations/postgres/0002_work_leases.sql"),
    include_str!("../migrations/postgres/0003_cluster_state.sql"),
    include_str!("../migrations/postgres/0004_article_authors.sql"),
];

/// Key of the advisory lock held while migrations run (any constant unique to chorus).
const MIGRATION_LOCK: i64 = 0x6368_6f72_7573_0001;

/// Connections a store keeps open at most, unless told otherwise.
pub const DEFAULT_POOL_SIZE: u32 = 8;

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// A [`crate::SiteStore`] in a PostgreSQL database, shared by any number of processes.
pub struct PgStore {
    /// `None` only while dropping (the pool is closed off the async runtime).
    pool: Option<Pool>,
    /// How to open a connection outside the pool (leadership holds its own session).
    config: postgres::Config,
}

/// Runs `f` where a blocking call is allowed: directly outside an async runtime or on a
/// blocking thread; via `block_in_place` on a multi-threaded runtime's worker; on a
/// scoped thread on a current-thread runtime (tests, small tools).
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Err(_) => f(),
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| match s.spawn(f).join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
    }
}

pub(crate) const ARTICLE_COLUMNS: &str =
    "id, url, outlet, lang, lang_detected, published, title, body, duplicate_of, story_id, authors";

/// [`ARTICLE_COLUMNS`] of the table aliased `a`.
const ARTICLE_COLUMNS_OF_A: &str = "a.id, a.url, a.outlet, a.lang, a.lang_detected, a.published, a.title, a.body, a.duplicate_of, a.story_id, \
     a.authors";

pub(crate) fn record_from_row(row: &Row) -> Result<ArticleRecord> {
    Ok(ArticleRecord {
        article: Article {
            id: row.try_get(0)?,
            url: row.try_get(1)?,
            outlet: row.try_get(2)?,
            lang: row.try_get(3)?,
            lang_detected: row.try_get(4)?,
            published: row.try_get(5)?,
            title: row.try_get(6)?,
            text: row.try_get(7)?,
            authors: serde_json::from_value(row.try_get::<_, serde_json::Value>(10)?).unwrap_or_default(),
        },
        duplicate_of: row.try_get(8)?,
        story_id: row.try_get(9)?,
    })
}

fn records(rows: Vec<Row>) -> Result<Vec<ArticleRecord>> {
    rows.iter().map(record_from_row).collect()
}

/// Marks a story for rewriting and counts up its generation.
pub(crate) const MARK_DIRTY: &str = "UPDATE stories SET dirty = TRUE, generation = generation + 1 WHERE id = $1";

impl PgStore {
    /// Assigns articles to stories (creating the new ones) and, with `state`, saves the
    /// clustering statistics, in one transaction.
    fn assign_with(
        &self,
        new_stories: usize,
        assignments: &[(String, std::result::Result<StoryId, usize>)],
        state: Option<&ClusterState>,
    ) -> Result<Vec<StoryId>> {
        self.tx(|tx| {
            let now = Utc::now();
            let mut created = Vec::with_capacity(new_stories);
            let mk =
                tx.prepare("INSERT INTO stories (created_at, dirty, generation) VALUES ($1, TRUE, 1) RETURNING id")?;
            for _ in 0..new_stories {
                created.push(tx.query_one(&mk, &[&now])?.try_get::<_, i64>(0)?);
            }
            let set = tx.prepare("UPDATE articles SET story_id = $1 WHERE id = $2")?;
            let mut touched: Vec<StoryId> = Vec::new();
            for (article, target) in assignments {
                let story = match target {
                    Ok(id) => *id,
                    Err(k) => *created.get(*k).ok_or_else(|| {
                        StoreError::Corrupt(format!("assignment names new story {k} of {new_stories}"))
                    })?,
                };
                if tx.execute(&set, &[&story, article])? != 1 {
                    return Err(StoreError::Corrupt(format!("no article {article} to assign")));
                }
                touched.push(story);
            }
            // Mark in id order, so two writers never wait on each other's story locks in turn.
            touched.sort_unstable();
            touched.dedup();
            for story in touched {
                tx.execute(MARK_DIRTY, &[&story])?;
            }
            if let Some(state) = state {
                let articles = i64::try_from(state.articles).unwrap_or(i64::MAX);
                tx.execute(
                    "INSERT INTO cluster_state (model, articles, observed, updated_at) VALUES ($1, $2, $3, now()) \
                     ON CONFLICT (model) DO UPDATE SET articles = excluded.articles, \
                     observed = excluded.observed, updated_at = excluded.updated_at",
                    &[&state.model, &articles, &state.observed],
                )?;
            }
            Ok(created)
        })
    }

    /// Vectors of `model` with story and time, for articles matching `condition` (which
    /// may use $2 and $3 from `times`), in arrival order.
    fn vectors_where(
        &self,
        model: &str,
        condition: &str,
        times: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Result<Vec<ClusteredVector>> {
        let sql = format!(
            "SELECT a.story_id, a.published, a.lang, substr(a.title || chr(10) || a.body, 1, 1000), v.vector \
             FROM articles a JOIN article_vectors v ON v.article_id = a.id AND v.model = $1 \
             WHERE {condition} ORDER BY COALESCE(a.published, a.ingested_at), a.seq"
        );
        self.with(|c| {
            let rows = match &times {
                Some((a, b)) => c.query(&sql, &[&model, a, b])?,
                None => c.query(&sql, &[&model])?,
            };
            rows.iter()
                .map(|r| {
                    Ok(ClusteredVector {
                        story_id: r.try_get(0)?,
                        published: r.try_get(1)?,
                        lang: r.try_get(2)?,
                        lead: r.try_get(3)?,
                        vector: r.try_get(4)?,
                    })
                })
                .collect()
        })
    }

    /// Connects to the database at `address` (`postgres://user@host:port/db`) with up to
    /// [`DEFAULT_POOL_SIZE`] connections and brings its schema up to date.
    pub fn connect(address: &str) -> Result<PgStore> {
        Self::connect_with(address, DEFAULT_POOL_SIZE)
    }

    /// As [`PgStore::connect`], with at most `pool_size` connections.
    pub fn connect_with(address: &str, pool_size: u32) -> Result<PgStore> {
        let config: postgres::Config = address.parse().map_err(|e: postgres::Error| StoreError::Address {
            address: crate::redact(address),
            reason: e.to_string(),
        })?;
        // One connection first, so an unreachable server is a clear error at once rather
        // than the pool's timeout.
        off_runtime(|| config.connect(NoTls).map(drop))
            .map_err(|source| StoreError::Connect { address: crate::redact(address), source })?;
        let manager = PostgresConnectionManager::new(config.clone(), NoTls);
        let pool = off_runtime(|| {
            r2d2::Pool::builder()
                .max_size(pool_size.max(1))
                .min_idle(Some(1))
                .connection_timeout(Duration::from_secs(10))
                .build(manager)
        })?;
        let store = PgStore { pool: Some(pool), config };
        store.with(migrate)?;
        Ok(store)
    }

    /// Runs `f` with a pooled connection, off the async runtime.
    pub(crate) fn with<T: Send>(&self, f: impl FnOnce(&mut Client) -> Result<T> + Send) -> Result<T> {
        let pool = self.pool.as_ref().ok_or_else(|| StoreError::Corrupt("store is closed".into()))?;
        off_runtime(|| {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
    }

    /// Runs `f` in one transaction (committed when `f` succeeds, rolled back otherwise).
    pub(crate) fn tx<T: Send>(&self, f: impl FnOnce(&mut Transaction<'_>) -> Result<T> + Send) -> Result<T> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let out = f(&mut tx)?;
            tx.commit()?;
            Ok(out)
        })
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64> {
        self.with(|c| {
            Ok(c.query_one("SELECT COALESCE(MAX(version), 0)::BIGINT FROM chorus_schema_migrations", &[])?
                .try_get(0)?)
        })
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Closing a connection blocks on the client's runtime: never on an async worker.
        if let Some(pool) = self.pool.take() {
            off_runtime(move || drop(pool));
        }
    }
}

/// The advisory-lock key of a role: a stable 64-bit hash of `chorus:<role>` (FNV-1a).
fn advisory_key(role: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("chorus:{role}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// Leadership held as a session advisory lock: PostgreSQL releases it when the session
/// ends, so a dead leader's role is free at once (its TCP connection closes) or after the
/// server notices the connection is gone.
struct PgLeadership {
    client: Option<Client>,
}

impl Leadership for PgLeadership {
    fn still_leading(&mut self) -> bool {
        let Some(client) = self.client.as_mut() else { return false };
        off_runtime(|| client.simple_query("SELECT 1").is_ok())
    }
}

impl Drop for PgLeadership {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            off_runtime(move || drop(client));
        }
    }
}

/// The channel on which every process hears that written texts changed.
pub(crate) const TEXTS_CHANNEL: &str = "chorus_texts";

/// Tells every listening process (web nodes) that a story's texts changed; delivered
/// when the transaction commits, not before.
pub(crate) fn notify_texts(tx: &mut Transaction<'_>, story: StoryId) -> Result<()> {
    tx.execute("SELECT pg_notify($1, $2)", &[&TEXTS_CHANNEL, &story.to_string()])?;
    Ok(())
}

/// A session that `LISTEN`s on [`TEXTS_CHANNEL`].
struct PgTextWatch {
    client: Option<Client>,
}

impl TextWatch for PgTextWatch {
    fn wait(&mut self, timeout: std::time::Duration) -> Result<bool> {
        let Some(client) = self.client.as_mut() else { return Ok(false) };
        off_runtime(|| {
            use postgres::fallible_iterator::FallibleIterator;
            let mut notes = client.notifications();
            let first = notes.timeout_iter(timeout).next()?;
            // Everything already queued belongs to the same change.
            while notes.iter().next()?.is_some() {}
            Ok(first.is_some())
        })
    }
}

impl Drop for PgTextWatch {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            off_runtime(move || drop(client));
        }
    }
}

/// Records `worker`'s lease on `keys` until `lease` from now (taking over expired ones).
fn take_leases(tx: &mut Transaction<'_>, work: Work, keys: &[String], worker: &str, lease: Span) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let millis = lease.num_milliseconds() as f64;
    tx.execute(
        "INSERT INTO work_leases (kind, key, owner, until) \
         SELECT $1, k, $2, now() + $3 * interval '1 millisecond' FROM unnest($4::TEXT[]) AS k \
         ON CONFLICT (kind, key) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until",
        &[&work.as_str(), &worker, &millis, &keys],
    )?;
    Ok(())
}

fn feed_from_row(r: &Row) -> Result<FeedState> {
    Ok(FeedState {
        url: r.try_get(0)?,
        outlet: r.try_get(1)?,
        outlet_languages: serde_json::from_value(r.try_get(2)?).unwrap_or_default(),
        etag: r.try_get(3)?,
        last_modified: r.try_get(4)?,
        error_count: u32::try_from(r.try_get::<_, i32>(5)?).unwrap_or(0),
        last_error: r.try_get(6)?,
    })
}

/// Applies the migrations the database lacks, one transaction each, under an advisory lock.
fn migrate(c: &mut Client) -> Result<()> {
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS chorus_schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)",
    )?;
    let version: i32 =
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM chorus_schema_migrations", &[])?.try_get(0)?;
    let known = MIGRATIONS.len() as i64;
    if i64::from(version) > known {
        return Err(StoreError::TooNew { found: i64::from(version), known });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql)?;
        let v = i as i32 + 1;
        tx.execute("INSERT INTO chorus_schema_migrations (version, applied_at) VALUES ($1, now())", &[&v])?;
    }
    tx.commit()?;
    Ok(())
}

fn json_value(a: &StoryArticle) -> Result<serde_json::Value> {
    serde_json::to_value(a).map_err(|source| StoreError::Json { what: format!("story {}", a.story_id), source })
}

pub(crate) fn article_from_value(v: serde_json::Value, story: StoryId) -> Result<StoryArticle> {
    serde_json::from_value(v).map_err(|source| StoreError::Json { what: format!("story {story}"), source })
}

/// The latest revision of a story's edition.
pub(crate) fn latest_revision(
    tx: &mut Transaction<'_>,
    story: StoryId,
    lang: &str,
) -> Result<Option<rules::LatestRevision>> {
    let row = tx.query_opt(
        "SELECT revision, by_editor, article FROM story_revisions WHERE story_id = $1 AND lang = $2 \
         ORDER BY revision DESC LIMIT 1",
        &[&story, &lang],
    )?;
    row.map(|r| {
        let number: i32 = r.try_get(0)?;
        Ok(rules::LatestRevision {
            number: u32::try_from(number).unwrap_or(0),
            by_editor: r.try_get(1)?,
            article: article_from_value(r.try_get(2)?, story)?,
        })
    })
    .transpose()
}

/// The latest revision the machine wrote (what an editor's correction started from).
pub(crate) fn latest_machine_revision(
    tx: &mut Transaction<'_>,
    story: StoryId,
    lang: &str,
) -> Result<Option<StoryArticle>> {
    let row = tx.query_opt(
        "SELECT article FROM story_revisions WHERE story_id = $1 AND lang = $2 AND NOT by_editor \
         ORDER BY revision DESC LIMIT 1",
        &[&story, &lang],
    )?;
    row.map(|r| article_from_value(r.try_get(0)?, story)).transpose()
}

/// Keeps the machine's rewrite of an edition an editor corrected, for review.
pub(crate) fn put_draft(tx: &mut Transaction<'_>, a: &StoryArticle) -> Result<()> {
    tx.execute(
        "INSERT INTO story_drafts (story_id, lang, written_at, article) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (story_id, lang) DO UPDATE SET written_at = EXCLUDED.written_at, article = EXCLUDED.article",
        &[&a.story_id, &a.lang, &a.written_at, &json_value(a)?],
    )?;
    Ok(())
}

/// Makes `a` the current text of its edition.
pub(crate) fn put_current_text(tx: &mut Transaction<'_>, a: &StoryArticle) -> Result<()> {
    tx.execute(
        "INSERT INTO story_texts (story_id, lang, written_at, article) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (story_id, lang) DO UPDATE SET written_at = EXCLUDED.written_at, article = EXCLUDED.article",
        &[&a.story_id, &a.lang, &a.written_at, &json_value(a)?],
    )?;
    Ok(())
}

/// Appends `a` as revision `a.revision` and makes it the current text of its edition.
pub(crate) fn append_revision(
    tx: &mut Transaction<'_>,
    a: &StoryArticle,
    editor: &str,
    note: &str,
    report_id: Option<&str>,
    by_editor: bool,
) -> Result<()> {
    let revision =
        i32::try_from(a.revision).map_err(|_| StoreError::Corrupt(format!("revision {} too large", a.revision)))?;
    tx.execute(
        "INSERT INTO story_revisions (story_id, lang, revision, written_at, edited_by, note, report_id, article, \
         by_editor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[&a.story_id, &a.lang, &revision, &a.written_at, &editor, &note, &report_id, &json_value(a)?, &by_editor],
    )?;
    put_current_text(tx, a)
}

/// Takes the story's row lock: revision numbers and dirty marks of one story are decided
/// by one writer at a time.
pub(crate) fn lock_story(tx: &mut Transaction<'_>, story: StoryId) -> Result<bool> {
    Ok(tx.query_opt("SELECT 1 FROM stories WHERE id = $1 FOR UPDATE", &[&story])?.is_some())
}

impl ArticleStore for PgStore {
    fn insert_articles(&self, articles: &[NewArticle<'_>]) -> Result<Vec<InsertOutcome>> {
        self.tx(|tx| {
            let insert = tx.prepare(
                "INSERT INTO articles (id, url, outlet, lang, lang_detected, published, title, body, content_hash, \
                 fingerprint, duplicate_of, ingested_at, authors) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (id) DO NOTHING RETURNING seq",
            )?;
            let find = tx.prepare("SELECT content_hash FROM articles WHERE id = $1")?;
            let now = Utc::now();
            let mut out = Vec::with_capacity(articles.len());
            for n in articles {
                let a = n.article;
                let inserted = tx.query_opt(
                    &insert,
                    &[
                        &a.id,
                        &a.url,
                        &a.outlet,
                        &a.lang,
                        &a.lang_detected,
                        &a.published,
                        &a.title,
                        &a.text,
                        &n.content_hash,
                        &n.fingerprint,
                        &n.duplicate_of,
                        &now,
                        &serde_json::json!(a.authors),
                    ],
                )?;
                out.push(if inserted.is_some() {
                    InsertOutcome::Inserted
                } else {
                    let stored: Option<String> = tx.query_opt(&find, &[&a.id])?.map(|r| r.try_get(0)).transpose()?;
                    if stored.as_deref() == Some(n.content_hash.as_str()) {
                        InsertOutcome::Unchanged
                    } else {
                        InsertOutcome::Conflict
                    }
                });
            }
            Ok(out)
        })
    }

    fn article(&self, id: &str) -> Result<Option<ArticleRecord>> {
        self.with(|c| {
            let row = c.query_opt(&format!("SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = $1"), &[&id])?;
            row.as_ref().map(record_from_row).transpose()
        })
    }

    fn fingerprints(&self) -> Result<Vec<(String, Vec<u8>)>> {
        self.with(|c| {
            let rows = c.query("SELECT id, fingerprint FROM articles ORDER BY seq", &[])?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
        })
    }

    fn articles_without_vector(&self, model: &str) -> Result<Vec<ArticleRecord>> {
        self.with(|c| {
            records(c.query(
                &format!(
                    "SELECT {ARTICLE_COLUMNS} FROM articles a WHERE NOT EXISTS \
                     (SELECT 1 FROM article_vectors v WHERE v.article_id = a.id AND v.model = $1) ORDER BY seq"
                ),
                &[&model],
            )?)
        })
    }

    fn put_article_vectors(&self, model: &str, vectors: &[(String, Vec<f32>)]) -> Result<()> {
        self.tx(|tx| {
            let st = tx.prepare(
                "INSERT INTO article_vectors (article_id, model, vector) VALUES ($1, $2, $3) \
                 ON CONFLICT (article_id, model) DO UPDATE SET vector = EXCLUDED.vector",
            )?;
            for (id, v) in vectors {
                tx.execute(&st, &[id, &model, v])?;
            }
            Ok(())
        })
    }

    fn unclustered_articles(&self) -> Result<Vec<ArticleRecord>> {
        self.with(|c| {
            records(c.query(
                &format!(
                    "SELECT {ARTICLE_COLUMNS} FROM articles WHERE story_id IS NULL \
                     ORDER BY COALESCE(published, ingested_at), seq"
                ),
                &[],
            )?)
        })
    }

    fn article_vectors(&self, model: &str, ids: &[String]) -> Result<HashMap<String, Vec<f32>>> {
        self.with(|c| {
            let rows = c.query(
                "SELECT article_id, vector FROM article_vectors WHERE model = $1 AND article_id = ANY($2)",
                &[&model, &ids],
            )?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
        })
    }

    fn clustered_vectors(&self, model: &str) -> Result<Vec<ClusteredVector>> {
        self.vectors_where(model, "a.story_id IS NOT NULL", None)
    }

    fn open_story_vectors(
        &self,
        model: &str,
        latest_since: DateTime<Utc>,
        earliest_since: DateTime<Utc>,
    ) -> Result<Vec<ClusteredVector>> {
        self.vectors_where(model, &crate::open_stories_condition("$2", "$3"), Some((latest_since, earliest_since)))
    }

    fn clustered_count(&self, model: &str) -> Result<u64> {
        self.with(|c| {
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM articles a JOIN article_vectors v ON v.article_id = a.id \
                     AND v.model = $1 WHERE a.story_id IS NOT NULL",
                    &[&model],
                )?
                .try_get(0)?;
            Ok(n.max(0) as u64)
        })
    }

    fn cluster_state(&self, model: &str) -> Result<Option<ClusterState>> {
        self.with(|c| {
            let row = c.query_opt("SELECT articles, observed FROM cluster_state WHERE model = $1", &[&model])?;
            row.map(|r| {
                Ok(ClusterState {
                    model: model.to_string(),
                    articles: r.try_get::<_, i64>(0)?.max(0) as u64,
                    observed: r.try_get(1)?,
                })
            })
            .transpose()
        })
    }

    fn sentence_vectors(&self, model: &str, keys: &[u64]) -> Result<HashMap<u64, Vec<f32>>> {
        let signed: Vec<i64> = keys.iter().map(|&k| k as i64).collect();
        self.with(|c| {
            let rows = c.query(
                "SELECT text_key, vector FROM sentence_vectors WHERE model = $1 AND text_key = ANY($2)",
                &[&model, &signed],
            )?;
            rows.iter().map(|r| Ok((r.try_get::<_, i64>(0)? as u64, r.try_get(1)?))).collect()
        })
    }

    fn put_sentence_vectors(&self, model: &str, vectors: &[(u64, Vec<f32>)]) -> Result<()> {
        self.tx(|tx| {
            let st = tx.prepare(
                "INSERT INTO sentence_vectors (model, text_key, vector) VALUES ($1, $2, $3) \
                 ON CONFLICT (model, text_key) DO UPDATE SET vector = EXCLUDED.vector",
            )?;
            for (k, v) in vectors {
                tx.execute(&st, &[&model, &(*k as i64), v])?;
            }
            Ok(())
        })
    }

    fn schedule_rechecks(&self, ids: &[String], due: DateTime<Utc>) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO article_rechecks (article_id, due_at) SELECT id, $2 FROM articles WHERE id = ANY($1) \
                 ON CONFLICT (article_id) DO NOTHING",
                &[&ids, &due],
            )?;
            Ok(())
        })
    }

    fn due_rechecks(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Recheck>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {ARTICLE_COLUMNS_OF_A}, r.checks_done FROM article_rechecks r JOIN articles a \
                     ON a.id = r.article_id WHERE r.due_at IS NOT NULL AND r.due_at <= $1 ORDER BY r.due_at, a.seq LIMIT $2"
                ),
                &[&now, &limit],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(Recheck {
                        record: record_from_row(r)?,
                        checks_done: u32::try_from(r.try_get::<_, i32>(11)?).unwrap_or(0),
                    })
                })
                .collect()
        })
    }

    fn record_recheck(
        &self,
        id: &str,
        outcome: &RecheckOutcome,
        checked_at: DateTime<Utc>,
        next_due: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.tx(|tx| {
            let row = tx
                .query_opt("SELECT title, body, story_id FROM articles WHERE id = $1 FOR UPDATE", &[&id])?
                .ok_or_else(|| StoreError::Corrupt(format!("no article {id} to record a re-check of")))?;
            let (old_title, old_body, story): (String, String, Option<StoryId>) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            let revision = |tx: &mut Transaction<'_>, status: &str, detail: &str| {
                tx.execute(
                    "INSERT INTO article_revisions (article_id, checked_at, status, detail, old_title, old_body) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&id, &checked_at, &status, &detail, &old_title, &old_body],
                )
            };
            match outcome {
                RecheckOutcome::Unchanged | RecheckOutcome::Failed { .. } => {}
                RecheckOutcome::Changed { title, text, content_hash, fingerprint, detail } => {
                    revision(tx, "changed", detail)?;
                    tx.execute(
                        "UPDATE articles SET title = $2, body = $3, content_hash = $4, fingerprint = $5 WHERE id = $1",
                        &[&id, title, text, content_hash, fingerprint],
                    )?;
                }
                RecheckOutcome::Vanished { reason } => {
                    revision(tx, "vanished", reason)?;
                }
            }
            let counts = !matches!(outcome, RecheckOutcome::Failed { .. });
            if counts
                && outcome != &RecheckOutcome::Unchanged
                && let Some(story) = story
            {
                tx.execute(MARK_DIRTY, &[&story])?;
            }
            tx.execute(
                "UPDATE article_rechecks SET due_at = $2, checks_done = checks_done + $3 WHERE article_id = $1",
                &[&id, &next_due, &i32::from(counts)],
            )?;
            Ok(())
        })
    }

    fn article_revisions(&self, id: &str) -> Result<Vec<ArticleRevision>> {
        self.with(|c| {
            let rows = c.query(
                "SELECT checked_at, status, detail, old_title, old_body FROM article_revisions \
                 WHERE article_id = $1 ORDER BY checked_at, seq",
                &[&id],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(ArticleRevision {
                        checked_at: r.try_get(0)?,
                        status: r.try_get(1)?,
                        detail: r.try_get(2)?,
                        old_title: r.try_get(3)?,
                        old_body: r.try_get(4)?,
                    })
                })
                .collect()
        })
    }
}

impl StoryStore for PgStore {
    fn assign(
        &self,
        new_stories: usize,
        assignments: &[(String, std::result::Result<StoryId, usize>)],
    ) -> Result<Vec<StoryId>> {
        self.assign_with(new_stories, assignments, None)
    }

    fn assign_observed(
        &self,
        new_stories: usize,
        assignments: &[(String, std::result::Result<StoryId, usize>)],
        state: &ClusterState,
    ) -> Result<Vec<StoryId>> {
        self.assign_with(new_stories, assignments, Some(state))
    }

    fn dirty_stories(&self) -> Result<Vec<DirtyStory>> {
        self.with(|c| {
            let rows = c.query("SELECT id, generation FROM stories WHERE dirty ORDER BY id", &[])?;
            rows.iter().map(|r| Ok(DirtyStory { id: r.try_get(0)?, generation: r.try_get(1)? })).collect()
        })
    }

    fn story_sources(&self, story: StoryId) -> Result<Vec<ArticleRecord>> {
        self.with(|c| {
            records(c.query(
                &format!(
                    "SELECT {ARTICLE_COLUMNS} FROM articles WHERE story_id = $1 \
                     ORDER BY COALESCE(published, ingested_at), seq"
                ),
                &[&story],
            )?)
        })
    }

    fn put_story_texts(&self, story: StoryId, generation: i64, texts: &[StoryArticle]) -> Result<bool> {
        self.tx(|tx| {
            if !lock_story(tx, story)? {
                return Err(StoreError::Corrupt(format!("no story {story} to write")));
            }
            tx.execute("DELETE FROM story_texts WHERE story_id = $1", &[&story])?;
            for t in texts {
                let latest = latest_revision(tx, story, &t.lang)?;
                match rules::plan_machine_text(latest, || latest_machine_revision(tx, story, &t.lang), t)? {
                    TextPlan::KeepCorrection { current, draft } => {
                        if let Some(draft) = draft {
                            put_draft(tx, &draft)?;
                        }
                        put_current_text(tx, &current)?;
                    }
                    TextPlan::Refresh(t) => put_current_text(tx, &t)?,
                    TextPlan::Append { article, note } => {
                        append_revision(tx, &article, &article.edited_by, note, None, false)?
                    }
                }
            }
            let cleared = tx.execute(
                "UPDATE stories SET dirty = FALSE WHERE id = $1 AND generation = $2",
                &[&story, &generation],
            )?;
            notify_texts(tx, story)?;
            Ok(cleared > 0)
        })
    }

    fn story_summaries(&self) -> Result<Vec<StorySummary>> {
        self.with(|c| {
            let mut titles: HashMap<StoryId, Vec<WrittenFacts>> = HashMap::new();
            for r in c.query(
                "SELECT story_id, lang, article->>'title', written_at, \
                 (article->'coverage'->>'independent')::BIGINT FROM story_texts",
                &[],
            )? {
                let independent: Option<i64> = r.try_get(4)?;
                titles.entry(r.try_get(0)?).or_default().push(WrittenFacts {
                    lang: r.try_get(1)?,
                    title: r.try_get::<_, Option<String>>(2)?.unwrap_or_default(),
                    written_at: r.try_get(3)?,
                    independent: independent.and_then(|n| usize::try_from(n).ok()),
                });
            }
            let rows = c.query(
                "SELECT story_id, lang, outlet, COALESCE(duplicate_of, id), published, title FROM articles \
                 WHERE story_id IS NOT NULL ORDER BY story_id, COALESCE(published, ingested_at), seq",
                &[],
            )?;
            let sources = rows
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get::<_, StoryId>(0)?,
                        SourceFacts {
                            lang: r.try_get(1)?,
                            outlet: r.try_get(2)?,
                            report: r.try_get(3)?,
                            published: r.try_get(4)?,
                            title: r.try_get(5)?,
                        },
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(rules::summaries(sources, &titles))
        })
    }

    fn story_detail(&self, id: StoryId) -> Result<Option<StoryDetail>> {
        let sources = self.story_sources(id)?;
        if sources.is_empty() {
            return Ok(None);
        }
        let articles = self.with(|c| {
            let rows = c.query("SELECT article FROM story_texts WHERE story_id = $1 ORDER BY lang", &[&id])?;
            rows.into_iter().map(|r| article_from_value(r.try_get(0)?, id)).collect::<Result<Vec<_>>>()
        })?;
        Ok(Some(rules::detail(id, sources, articles)))
    }

    fn put_related(&self, story: StoryId, related: &[(StoryId, f32)]) -> Result<()> {
        self.tx(|tx| {
            tx.execute("DELETE FROM story_related WHERE story_id = $1", &[&story])?;
            for (other, sim) in related {
                tx.execute(
                    "INSERT INTO story_related (story_id, related_id, similarity) VALUES ($1, $2, $3) \
                     ON CONFLICT (story_id, related_id) DO UPDATE SET similarity = EXCLUDED.similarity",
                    &[&story, other, sim],
                )?;
            }
            Ok(())
        })
    }

    fn related(&self, story: StoryId) -> Result<Vec<(StoryId, f32)>> {
        self.with(|c| {
            let rows = c.query(
                "SELECT related_id, similarity FROM story_related WHERE story_id = $1 ORDER BY similarity DESC",
                &[&story],
            )?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
        })
    }

    fn stats(&self) -> Result<StoreStats> {
        self.with(|c| {
            let r = c.query_one(
                "SELECT (SELECT COUNT(*) FROM articles), (SELECT COUNT(*) FROM articles WHERE duplicate_of IS NOT NULL), \
                 (SELECT COUNT(*) FROM stories), (SELECT COUNT(*) FROM story_texts)",
                &[],
            )?;
            let n = |i: usize| -> Result<usize> { Ok(usize::try_from(r.try_get::<_, i64>(i)?).unwrap_or(0)) };
            Ok(StoreStats { articles: n(0)?, duplicates: n(1)?, stories: n(2)?, story_texts: n(3)? })
        })
    }
}

impl FeedStore for PgStore {
    fn put_outlets(&self, outlets: &[Outlet]) -> Result<(usize, usize)> {
        self.tx(|tx| {
            let (mut added, mut updated) = (0, 0);
            let now = Utc::now();
            for o in outlets {
                let languages = serde_json::to_value(&o.languages)
                    .map_err(|source| StoreError::Json { what: format!("outlet {}", o.name), source })?;
                // `xmax = 0` only on a row this statement inserted.
                let row = tx.query_one(
                    "INSERT INTO outlets (name, homepage, country, languages, kind, added_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET homepage = EXCLUDED.homepage, \
                     country = EXCLUDED.country, languages = EXCLUDED.languages, kind = EXCLUDED.kind \
                     RETURNING id, (xmax = 0)",
                    &[&o.name, &o.homepage, &o.country, &languages, &o.kind.as_str(), &now],
                )?;
                let id: i64 = row.try_get(0)?;
                if row.try_get::<_, bool>(1)? {
                    added += 1;
                } else {
                    updated += 1;
                }
                for f in &o.feeds {
                    tx.execute(
                        "INSERT INTO feeds (url, outlet_id) VALUES ($1, $2) \
                         ON CONFLICT (url) DO UPDATE SET outlet_id = EXCLUDED.outlet_id",
                        &[f, &id],
                    )?;
                }
            }
            Ok((added, updated))
        })
    }

    fn outlets(&self) -> Result<Vec<Outlet>> {
        self.with(|c| {
            let mut feeds: HashMap<i64, Vec<String>> = HashMap::new();
            for r in c.query("SELECT outlet_id, url FROM feeds ORDER BY url", &[])? {
                feeds.entry(r.try_get(0)?).or_default().push(r.try_get(1)?);
            }
            let mut out = Vec::new();
            for r in c.query("SELECT id, name, homepage, country, languages, kind FROM outlets ORDER BY name", &[])? {
                let id: i64 = r.try_get(0)?;
                let name: String = r.try_get(1)?;
                let kind: String = r.try_get(5)?;
                out.push(Outlet {
                    languages: serde_json::from_value(r.try_get(4)?)
                        .map_err(|source| StoreError::Json { what: format!("outlet {name}"), source })?,
                    kind: kind.parse::<OutletKind>().unwrap_or_default(),
                    feeds: feeds.remove(&id).unwrap_or_default(),
                    homepage: r.try_get(2)?,
                    country: r.try_get(3)?,
                    name,
                });
            }
            Ok(out)
        })
    }

    fn due_feeds(&self, now: DateTime<Utc>) -> Result<Vec<FeedState>> {
        self.with(|c| {
            let rows = c.query(
                "SELECT f.url, o.name, o.languages, f.etag, f.last_modified, f.error_count, f.last_error \
                 FROM feeds f JOIN outlets o ON o.id = f.outlet_id \
                 WHERE f.next_check_at IS NULL OR f.next_check_at <= $1 \
                 ORDER BY f.next_check_at NULLS FIRST, f.url",
                &[&now],
            )?;
            rows.iter().map(feed_from_row).collect()
        })
    }

    fn record_feed_poll(&self, url: &str, u: &FeedUpdate) -> Result<()> {
        let errors = i32::try_from(u.error_count).unwrap_or(i32::MAX);
        self.with(|c| {
            c.execute(
                "UPDATE feeds SET etag = COALESCE($2, etag), last_modified = COALESCE($3, last_modified), \
                 next_check_at = $4, last_fetch_at = $5, error_count = $6, last_error = $7, \
                 title = COALESCE($8, title) WHERE url = $1",
                &[&url, &u.etag, &u.last_modified, &u.next_check_at, &u.fetched_at, &errors, &u.last_error, &u.title],
            )?;
            Ok(())
        })
    }
}

impl WorkStore for PgStore {
    fn claim_unembedded(&self, model: &str, worker: &str, lease: Span, limit: usize) -> Result<Vec<ArticleRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.tx(|tx| {
            let rows = tx.query(
                &format!(
                    "SELECT {ARTICLE_COLUMNS} FROM articles a WHERE NOT EXISTS \
                     (SELECT 1 FROM article_vectors v WHERE v.article_id = a.id AND v.model = $1) \
                     AND NOT EXISTS (SELECT 1 FROM work_leases l WHERE l.kind = 'embed' AND l.key = a.id \
                     AND l.until > now()) ORDER BY a.seq LIMIT $2 FOR UPDATE OF a SKIP LOCKED"
                ),
                &[&model, &limit],
            )?;
            let records = records(rows)?;
            let keys: Vec<String> = records.iter().map(|r| r.article.id.clone()).collect();
            take_leases(tx, Work::Embed, &keys, worker, lease)?;
            Ok(records)
        })
    }

    fn claim_dirty_stories(&self, worker: &str, lease: Span, limit: usize) -> Result<Vec<DirtyStory>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.tx(|tx| {
            let rows = tx.query(
                "SELECT id, generation FROM stories s WHERE dirty AND NOT EXISTS (SELECT 1 FROM work_leases l \
                 WHERE l.kind = 'write' AND l.key = s.id::TEXT AND l.until > now()) \
                 ORDER BY id LIMIT $1 FOR UPDATE OF s SKIP LOCKED",
                &[&limit],
            )?;
            let stories: Vec<DirtyStory> = rows
                .iter()
                .map(|r| Ok(DirtyStory { id: r.try_get(0)?, generation: r.try_get(1)? }))
                .collect::<Result<_>>()?;
            let keys: Vec<String> = stories.iter().map(|d| d.id.to_string()).collect();
            take_leases(tx, Work::Write, &keys, worker, lease)?;
            Ok(stories)
        })
    }

    fn claim_due_feeds(&self, now: DateTime<Utc>, worker: &str, lease: Span, limit: usize) -> Result<Vec<FeedState>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.tx(|tx| {
            let rows = tx.query(
                "SELECT f.url, o.name, o.languages, f.etag, f.last_modified, f.error_count, f.last_error \
                 FROM feeds f JOIN outlets o ON o.id = f.outlet_id \
                 WHERE (f.next_check_at IS NULL OR f.next_check_at <= $1) AND NOT EXISTS (SELECT 1 FROM work_leases l \
                 WHERE l.kind = 'fetch' AND l.key = f.url AND l.until > now() AND l.owner <> $2) \
                 ORDER BY f.next_check_at NULLS FIRST, f.url LIMIT $3 FOR UPDATE OF f SKIP LOCKED",
                &[&now, &worker, &limit],
            )?;
            let feeds: Vec<FeedState> = rows.iter().map(feed_from_row).collect::<Result<_>>()?;
            let keys: Vec<String> = feeds.iter().map(|f| f.url.clone()).collect();
            take_leases(tx, Work::Fetch, &keys, worker, lease)?;
            Ok(feeds)
        })
    }

    fn claim_due_rechecks(&self, now: DateTime<Utc>, worker: &str, lease: Span, limit: usize) -> Result<Vec<Recheck>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.tx(|tx| {
            let rows = tx.query(
                &format!(
                    "SELECT {ARTICLE_COLUMNS_OF_A}, r.checks_done FROM article_rechecks r JOIN articles a \
                     ON a.id = r.article_id WHERE r.due_at IS NOT NULL AND r.due_at <= $1 \
                     AND NOT EXISTS (SELECT 1 FROM work_leases l WHERE l.kind = 'recheck' \
                     AND l.key = r.article_id AND l.until > now() AND l.owner <> $2) \
                     ORDER BY r.due_at, a.seq LIMIT $3 FOR UPDATE OF r SKIP LOCKED"
                ),
                &[&now, &worker, &limit],
            )?;
            let due: Vec<Recheck> = rows
                .iter()
                .map(|r| {
                    Ok(Recheck {
                        record: record_from_row(r)?,
                        checks_done: u32::try_from(r.try_get::<_, i32>(11)?).unwrap_or(0),
                    })
                })
                .collect::<Result<_>>()?;
            let keys: Vec<String> = due.iter().map(|r| r.record.article.id.clone()).collect();
            take_leases(tx, Work::Recheck, &keys, worker, lease)?;
            Ok(due)
        })
    }

    fn release(&self, work: Work, worker: &str, keys: &[String]) -> Result<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM work_leases WHERE kind = $1 AND owner = $2 AND key = ANY($3)",
                &[&work.as_str(), &worker, &keys],
            )?;
            Ok(())
        })
    }

    fn watch_texts(&self) -> Result<Option<Box<dyn TextWatch>>> {
        let config = self.config.clone();
        off_runtime(move || {
            let mut client = config.connect(NoTls)?;
            client.batch_execute(&format!("LISTEN {TEXTS_CHANNEL}"))?;
            Ok(Some(Box::new(PgTextWatch { client: Some(client) }) as Box<dyn TextWatch>))
        })
    }

    fn try_lead(&self, role: &str) -> Result<Option<Box<dyn Leadership>>> {
        let key = advisory_key(role);
        let config = self.config.clone();
        off_runtime(move || {
            // Its own session, outside the pool: the lock lives exactly as long as it.
            let mut client = config.connect(NoTls)?;
            let got: bool = client.query_one("SELECT pg_try_advisory_lock($1)", &[&key])?.try_get(0)?;
            Ok(if got { Some(Box::new(PgLeadership { client: Some(client) }) as Box<dyn Leadership>) } else { None })
        })
    }
}

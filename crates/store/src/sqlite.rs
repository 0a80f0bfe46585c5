//! SQLite implementation of the storage traits (bundled SQLite, WAL mode).

use crate::rules::{self, SourceFacts, TextPlan, WrittenFacts};
use crate::{
    ArticleRevision, ClusterState, ClusteredVector, DirtyStory, FeedState, FeedUpdate, InsertOutcome, Leadership,
    NewArticle, Recheck, RecheckOutcome, Result, StoreError, StoreStats, TextWatch, Work, vector_from_bytes,
    vector_to_bytes,
};
use crate::{ArticleStore, FeedStore, StoryStore, WorkStore};
use chorus_core::{Article, ArticleRecord, Outlet, OutletKind, StoryArticle, StoryDetail, StoryId, StorySummary};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Numbered schema migrations, applied in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_outlets_feeds.sql"),
    include_str!("../migrations/0003_article_rechecks.sql"),
    include_str!("../migrations/0004_site.sql"),
    include_str!("../migrations/0005_story_drafts.sql"),
    include_str!("../migrations/0006_story_generation.sql"),
    include_str!("../migrations/0007_work_leases.sql"),
    include_str!("../migrations/0008_cluster_state.sql"),
    include_str!("../migrations/0009_article_authors.sql"),
];

/// A [`crate::SiteStore`] in one SQLite file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// The database file (`None` in memory): leadership locks live beside it.
    path: Option<std::path::PathBuf>,
}

const ARTICLE_COLUMNS: &str =
    "id, url, outlet, lang, lang_detected, published, title, body, duplicate_of, story_id, authors";

/// Authors stored as a JSON array; anything else reads as none (never fails a read).
pub(crate) fn authors_from_json(raw: &str) -> Vec<String> {
    serde_json::from_str(raw).unwrap_or_default()
}

pub(crate) fn parse_time(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok()).map(|t| t.with_timezone(&Utc))
}

pub(crate) fn fmt_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn record_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ArticleRecord> {
    Ok(ArticleRecord {
        article: Article {
            id: row.get(0)?,
            url: row.get(1)?,
            outlet: row.get(2)?,
            lang: row.get(3)?,
            lang_detected: row.get(4)?,
            published: parse_time(row.get(5)?),
            title: row.get(6)?,
            text: row.get(7)?,
            authors: authors_from_json(&row.get::<_, String>(10)?),
        },
        duplicate_of: row.get(8)?,
        story_id: row.get(9)?,
    })
}

impl SqliteStore {
    /// Assigns articles to stories (creating the new ones) and, with `state`, saves the
    /// clustering statistics, in one transaction.
    fn assign_with(
        &self,
        new_stories: usize,
        assignments: &[(String, std::result::Result<StoryId, usize>)],
        state: Option<&ClusterState>,
    ) -> Result<Vec<StoryId>> {
        let mut conn = self.conn();

        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut created = Vec::with_capacity(new_stories);
        {
            let now = fmt_time(&Utc::now());
            let mut mk = tx.prepare_cached("INSERT INTO stories (created_at, dirty, generation) VALUES (?1, 1, 1)")?;
            for _ in 0..new_stories {
                mk.execute([&now])?;
                created.push(tx.last_insert_rowid());
            }
            let mut set = tx.prepare_cached("UPDATE articles SET story_id = ?1 WHERE id = ?2")?;
            let mut dirty = tx.prepare_cached(MARK_DIRTY)?;
            for (article, target) in assignments {
                let story = match target {
                    Ok(id) => *id,
                    Err(k) => *created.get(*k).ok_or_else(|| {
                        StoreError::Corrupt(format!("assignment names new story {k} of {new_stories}"))
                    })?,
                };
                if set.execute(params![story, article])? != 1 {
                    return Err(StoreError::Corrupt(format!("no article {article} to assign")));
                }
                dirty.execute([story])?;
            }
        }
        if let Some(state) = state {
            tx.execute(
                "INSERT INTO cluster_state (model, articles, observed, updated_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (model) DO UPDATE SET articles = excluded.articles, observed = excluded.observed, \
                 updated_at = excluded.updated_at",
                params![state.model, state.articles as i64, state.observed, fmt_time(&Utc::now())],
            )?;
        }
        tx.commit()?;
        Ok(created)
    }

    /// Vectors of `model` with story and time, for articles matching `condition` (which
    /// may use ?2 and ?3 from `times`), in arrival order.
    fn vectors_where(
        &self,
        model: &str,
        condition: &str,
        times: Option<(String, String)>,
    ) -> Result<Vec<ClusteredVector>> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT a.story_id, a.published, a.lang, substr(a.title || char(10) || a.body, 1, 1000), v.vector \
             FROM articles a JOIN article_vectors v \
             ON v.article_id = a.id AND v.model = ?1 WHERE {condition} \
             ORDER BY COALESCE(a.published, a.ingested_at), a.seq"
        ))?;
        let map = |r: &rusqlite::Row<'_>| {
            Ok((
                r.get::<_, Option<StoryId>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        };
        let rows: Vec<_> = match times {
            Some((a, b)) => st.query_map(params![model, a, b], map)?.collect::<rusqlite::Result<_>>()?,
            None => st.query_map([model], map)?.collect::<rusqlite::Result<_>>()?,
        };
        let mut out = Vec::with_capacity(rows.len());
        for (story_id, published, lang, lead, blob) in rows {
            out.push(ClusteredVector {
                story_id: story_id.ok_or_else(|| StoreError::Corrupt("clustered article without story".into()))?,
                published: parse_time(published),
                lang,
                lead,
                vector: vector_from_bytes(&blob)?,
            });
        }
        Ok(out)
    }

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let conn = Connection::open(path)?;
        let mut store = Self::init(conn)?;
        store.path = Some(path.to_path_buf());
        Ok(store)
    }

    /// An in-memory database, for tests and throw-away runs.
    pub fn open_in_memory() -> Result<SqliteStore> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<SqliteStore> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew { found: version, known });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(SqliteStore { conn: Mutex::new(conn), path: None })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions
        // roll back on drop), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes a consistent copy of the whole database to `to` (which must not exist) while
    /// the store stays in use (`VACUUM INTO`: an online backup, compacted). The copy is a
    /// complete chorus database: restore it by using it as the data folder's `chorus.db`.
    pub fn backup(&self, to: &Path) -> Result<()> {
        if to.exists() {
            return Err(StoreError::Corrupt(format!("{} exists: a backup never overwrites a file", to.display())));
        }
        let target = to.to_str().ok_or_else(|| StoreError::Corrupt(format!("{} is not UTF-8", to.display())))?;
        self.conn().execute("VACUUM INTO ?1", [target])?;
        Ok(())
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn().pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}

impl ArticleStore for SqliteStore {
    fn insert_articles(&self, articles: &[NewArticle<'_>]) -> Result<Vec<InsertOutcome>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut out = Vec::with_capacity(articles.len());
        {
            let mut find = tx.prepare_cached("SELECT content_hash FROM articles WHERE id = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO articles (id, url, outlet, lang, lang_detected, published, title, body, content_hash, \
                 fingerprint, duplicate_of, ingested_at, authors) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            let now = fmt_time(&Utc::now());
            for n in articles {
                let a = n.article;
                let stored: Option<String> = find.query_row([&a.id], |r| r.get(0)).optional()?;
                out.push(match stored {
                    Some(h) if h == n.content_hash => InsertOutcome::Unchanged,
                    Some(_) => InsertOutcome::Conflict,
                    None => {
                        insert.execute(params![
                            a.id,
                            a.url,
                            a.outlet,
                            a.lang,
                            a.lang_detected,
                            a.published.as_ref().map(fmt_time),
                            a.title,
                            a.text,
                            n.content_hash,
                            n.fingerprint,
                            n.duplicate_of,
                            now,
                            serde_json::to_string(&a.authors).unwrap_or_else(|_| "[]".into())
                        ])?;
                        InsertOutcome::Inserted
                    }
                });
            }
        }
        tx.commit()?;
        Ok(out)
    }

    fn article(&self, id: &str) -> Result<Option<ArticleRecord>> {
        let conn = self.conn();
        let sql = format!("SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ?1");
        Ok(conn.query_row(&sql, [id], record_from_row).optional()?)
    }

    fn fingerprints(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT id, fingerprint FROM articles ORDER BY seq")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn articles_without_vector(&self, model: &str) -> Result<Vec<ArticleRecord>> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {ARTICLE_COLUMNS} FROM articles a WHERE NOT EXISTS \
             (SELECT 1 FROM article_vectors v WHERE v.article_id = a.id AND v.model = ?1) ORDER BY seq"
        );
        let mut st = conn.prepare(&sql)?;
        let rows = st.query_map([model], record_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn put_article_vectors(&self, model: &str, vectors: &[(String, Vec<f32>)]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut st = tx.prepare_cached(
                "INSERT OR REPLACE INTO article_vectors (article_id, model, vector) VALUES (?1, ?2, ?3)",
            )?;
            for (id, v) in vectors {
                st.execute(params![id, model, vector_to_bytes(v)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn unclustered_articles(&self) -> Result<Vec<ArticleRecord>> {
        let conn = self.conn();
        // An undated article counts as published when it arrived.
        let sql = format!(
            "SELECT {ARTICLE_COLUMNS} FROM articles WHERE story_id IS NULL \
             ORDER BY COALESCE(published, ingested_at), seq"
        );
        let mut st = conn.prepare(&sql)?;
        let rows = st.query_map([], record_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn article_vectors(&self, model: &str, ids: &[String]) -> Result<HashMap<String, Vec<f32>>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached("SELECT vector FROM article_vectors WHERE article_id = ?1 AND model = ?2")?;
        let mut out = HashMap::with_capacity(ids.len());
        for id in ids {
            let blob: Option<Vec<u8>> = st.query_row(params![id, model], |r| r.get(0)).optional()?;
            if let Some(b) = blob {
                out.insert(id.clone(), vector_from_bytes(&b)?);
            }
        }
        Ok(out)
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
        self.vectors_where(
            model,
            &crate::open_stories_condition("?2", "?3"),
            Some((fmt_time(&latest_since), fmt_time(&earliest_since))),
        )
    }

    fn clustered_count(&self, model: &str) -> Result<u64> {
        let n: i64 = self.conn().query_row(
            "SELECT count(*) FROM articles a JOIN article_vectors v ON v.article_id = a.id AND v.model = ?1 \
             WHERE a.story_id IS NOT NULL",
            [model],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as u64)
    }

    fn cluster_state(&self, model: &str) -> Result<Option<ClusterState>> {
        Ok(self
            .conn()
            .query_row("SELECT articles, observed FROM cluster_state WHERE model = ?1", [model], |r| {
                Ok(ClusterState {
                    model: model.to_string(),
                    articles: r.get::<_, i64>(0)?.max(0) as u64,
                    observed: r.get(1)?,
                })
            })
            .optional()?)
    }

    fn sentence_vectors(&self, model: &str, keys: &[u64]) -> Result<HashMap<u64, Vec<f32>>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached("SELECT vector FROM sentence_vectors WHERE model = ?1 AND text_key = ?2")?;
        let mut out = HashMap::new();
        for &k in keys {
            let blob: Option<Vec<u8>> = st.query_row(params![model, k as i64], |r| r.get(0)).optional()?;
            if let Some(b) = blob {
                out.insert(k, vector_from_bytes(&b)?);
            }
        }
        Ok(out)
    }

    fn put_sentence_vectors(&self, model: &str, vectors: &[(u64, Vec<f32>)]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut st = tx.prepare_cached(
                "INSERT OR REPLACE INTO sentence_vectors (model, text_key, vector) VALUES (?1, ?2, ?3)",
            )?;
            for (k, v) in vectors {
                st.execute(params![model, *k as i64, vector_to_bytes(v)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn schedule_rechecks(&self, ids: &[String], due: DateTime<Utc>) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut st = tx.prepare_cached(
                "INSERT OR IGNORE INTO article_rechecks (article_id, due_at) \
                 SELECT id, ?2 FROM articles WHERE id = ?1",
            )?;
            for id in ids {
                st.execute(params![id, fmt_time(&due)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn due_rechecks(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Recheck>> {
        let due: Vec<(String, i64)> = {
            let conn = self.conn();
            let mut st = conn.prepare(
                "SELECT article_id, checks_done FROM article_rechecks \
                 WHERE due_at IS NOT NULL AND due_at <= ?1 ORDER BY due_at LIMIT ?2",
            )?;
            let rows = st.query_map(params![fmt_time(&now), limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::new();
        for (id, done) in due {
            if let Some(record) = self.article(&id)? {
                out.push(Recheck { record, checks_done: u32::try_from(done).unwrap_or(0) });
            }
        }
        Ok(out)
    }

    fn record_recheck(
        &self,
        id: &str,
        outcome: &RecheckOutcome,
        checked_at: DateTime<Utc>,
        next_due: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (old_title, old_body, story): (String, String, Option<StoryId>) =
            tx.query_row("SELECT title, body, story_id FROM articles WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        let revision = |status: &str, detail: &str| {
            tx.execute(
                "INSERT INTO article_revisions (article_id, checked_at, status, detail, old_title, old_body) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, fmt_time(&checked_at), status, detail, old_title, old_body],
            )
        };
        match outcome {
            RecheckOutcome::Unchanged => {}
            RecheckOutcome::Changed { title, text, content_hash, fingerprint, detail } => {
                revision("changed", detail)?;
                tx.execute(
                    "UPDATE articles SET title = ?2, body = ?3, content_hash = ?4, fingerprint = ?5 WHERE id = ?1",
                    params![id, title, text, content_hash, fingerprint],
                )?;
            }
            RecheckOutcome::Vanished { reason } => {
                revision("vanished", reason)?;
            }
            RecheckOutcome::Failed { .. } => {}
        }
        let counts = !matches!(outcome, RecheckOutcome::Failed { .. });
        if counts
            && outcome != &RecheckOutcome::Unchanged
            && let Some(story) = story
        {
            tx.execute(MARK_DIRTY, [story])?;
        }
        tx.execute(
            "UPDATE article_rechecks SET due_at = ?2, checks_done = checks_done + ?3 WHERE article_id = ?1",
            params![id, next_due.map(|d| fmt_time(&d)), i64::from(counts)],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn article_revisions(&self, id: &str) -> Result<Vec<ArticleRevision>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT checked_at, status, detail, old_title, old_body FROM article_revisions \
             WHERE article_id = ?1 ORDER BY checked_at, rowid",
        )?;
        let rows = st.query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (at, status, detail, old_title, old_body) = row?;
            out.push(ArticleRevision {
                checked_at: parse_time(Some(at)).unwrap_or_default(),
                status,
                detail,
                old_title,
                old_body,
            });
        }
        Ok(out)
    }
}

impl StoryStore for SqliteStore {
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
        let conn = self.conn();
        let mut st = conn.prepare("SELECT id, generation FROM stories WHERE dirty = 1 ORDER BY id")?;
        let rows = st.query_map([], |r| Ok(DirtyStory { id: r.get(0)?, generation: r.get(1)? }))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn story_sources(&self, story: StoryId) -> Result<Vec<ArticleRecord>> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {ARTICLE_COLUMNS} FROM articles WHERE story_id = ?1 ORDER BY COALESCE(published, ingested_at), seq"
        );
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map([story], record_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn put_story_texts(&self, story: StoryId, generation: i64, texts: &[StoryArticle]) -> Result<bool> {
        use crate::sqlite_site::{
            append_revision, latest_machine_revision, latest_revision, put_current_text, put_draft,
        };
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM story_texts WHERE story_id = ?1", [story])?;
        for t in texts {
            let latest = latest_revision(&tx, story, &t.lang)?;
            match rules::plan_machine_text(latest, || latest_machine_revision(&tx, story, &t.lang), t)? {
                TextPlan::KeepCorrection { current, draft } => {
                    if let Some(draft) = draft {
                        put_draft(&tx, &draft)?;
                    }
                    put_current_text(&tx, &current, &rules::to_json(&current)?)?;
                }
                TextPlan::Refresh(t) => put_current_text(&tx, &t, &rules::to_json(&t)?)?,
                TextPlan::Append { article, note } => {
                    append_revision(&tx, &article, &article.edited_by, note, None, false)?
                }
            }
        }
        let cleared =
            tx.execute("UPDATE stories SET dirty = 0 WHERE id = ?1 AND generation = ?2", params![story, generation])?;
        tx.commit()?;
        Ok(cleared > 0)
    }

    fn story_summaries(&self) -> Result<Vec<StorySummary>> {
        let conn = self.conn();
        let mut titles: HashMap<StoryId, Vec<WrittenFacts>> = HashMap::new();
        {
            let mut st = conn.prepare(
                "SELECT story_id, lang, json_extract(article, '$.title'), written_at, \
                 json_extract(article, '$.coverage.independent') FROM story_texts",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, StoryId>(0)?,
                    WrittenFacts {
                        lang: r.get(1)?,
                        title: r.get(2)?,
                        written_at: parse_time(r.get(3)?),
                        independent: r.get::<_, Option<i64>>(4)?.and_then(|n| usize::try_from(n).ok()),
                    },
                ))
            })?;
            for row in rows {
                let (id, facts) = row?;
                titles.entry(id).or_default().push(facts);
            }
        }
        let mut st = conn.prepare(
            "SELECT story_id, lang, outlet, COALESCE(duplicate_of, id), published, title FROM articles \
             WHERE story_id IS NOT NULL ORDER BY story_id, COALESCE(published, ingested_at), seq",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, StoryId>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut sources = Vec::new();
        for row in rows {
            let (id, lang, outlet, report, published, title) = row?;
            sources.push((id, SourceFacts { lang, outlet, report, published: parse_time(published), title }));
        }
        Ok(rules::summaries(sources, &titles))
    }

    fn story_detail(&self, id: StoryId) -> Result<Option<StoryDetail>> {
        let sources = self.story_sources(id)?;
        if sources.is_empty() {
            return Ok(None);
        }
        let articles: Vec<StoryArticle> = {
            let conn = self.conn();
            let mut st = conn.prepare_cached("SELECT article FROM story_texts WHERE story_id = ?1 ORDER BY lang")?;
            let rows = st.query_map([id], |r| r.get::<_, String>(0))?;
            let mut v = Vec::new();
            for json in rows {
                let json = json?;
                v.push(
                    serde_json::from_str(&json)
                        .map_err(|source| StoreError::Json { what: format!("story {id}"), source })?,
                );
            }
            v
        };
        Ok(Some(rules::detail(id, sources, articles)))
    }

    fn put_related(&self, story: StoryId, related: &[(StoryId, f32)]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM story_related WHERE story_id = ?1", [story])?;
        for (other, sim) in related {
            tx.execute(
                "INSERT OR REPLACE INTO story_related (story_id, related_id, similarity) VALUES (?1, ?2, ?3)",
                params![story, other, *sim as f64],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn related(&self, story: StoryId) -> Result<Vec<(StoryId, f32)>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT related_id, similarity FROM story_related WHERE story_id = ?1 ORDER BY similarity DESC",
        )?;
        let rows = st.query_map([story], |r| Ok((r.get::<_, StoryId>(0)?, r.get::<_, f64>(1)? as f32)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn stats(&self) -> Result<StoreStats> {
        let conn = self.conn();
        let count = |sql: &str| -> Result<usize> { Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as usize) };
        Ok(StoreStats {
            articles: count("SELECT COUNT(*) FROM articles")?,
            duplicates: count("SELECT COUNT(*) FROM articles WHERE duplicate_of IS NOT NULL")?,
            stories: count("SELECT COUNT(*) FROM stories")?,
            story_texts: count("SELECT COUNT(*) FROM story_texts")?,
        })
    }
}

impl FeedStore for SqliteStore {
    fn put_outlets(&self, outlets: &[Outlet]) -> Result<(usize, usize)> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (mut added, mut updated) = (0, 0);
        let now = fmt_time(&Utc::now());
        for o in outlets {
            let languages = serde_json::to_string(&o.languages)
                .map_err(|source| StoreError::Json { what: format!("outlet {}", o.name), source })?;
            let existing: Option<i64> =
                tx.query_row("SELECT id FROM outlets WHERE name = ?1", [&o.name], |r| r.get(0)).optional()?;
            let id = match existing {
                Some(id) => {
                    tx.execute(
                        "UPDATE outlets SET homepage = ?2, country = ?3, languages = ?4, kind = ?5 WHERE id = ?1",
                        params![id, o.homepage, o.country, languages, o.kind.as_str()],
                    )?;
                    updated += 1;
                    id
                }
                None => {
                    tx.execute(
                        "INSERT INTO outlets (name, homepage, country, languages, kind, added_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![o.name, o.homepage, o.country, languages, o.kind.as_str(), now],
                    )?;
                    added += 1;
                    tx.last_insert_rowid()
                }
            };
            for f in &o.feeds {
                tx.execute(
                    "INSERT INTO feeds (url, outlet_id) VALUES (?1, ?2) ON CONFLICT(url) DO UPDATE SET outlet_id = ?2",
                    params![f, id],
                )?;
            }
        }
        tx.commit()?;
        Ok((added, updated))
    }

    fn outlets(&self) -> Result<Vec<Outlet>> {
        let conn = self.conn();
        let mut feeds: HashMap<i64, Vec<String>> = HashMap::new();
        {
            let mut st = conn.prepare("SELECT outlet_id, url FROM feeds ORDER BY url")?;
            for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
                let (id, url) = row?;
                feeds.entry(id).or_default().push(url);
            }
        }
        let mut st = conn.prepare("SELECT id, name, homepage, country, languages, kind FROM outlets ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, homepage, country, languages, kind) = row?;
            out.push(Outlet {
                languages: serde_json::from_str(&languages)
                    .map_err(|source| StoreError::Json { what: format!("outlet {name}"), source })?,
                kind: kind.parse::<OutletKind>().unwrap_or_default(),
                feeds: feeds.remove(&id).unwrap_or_default(),
                name,
                homepage,
                country,
            });
        }
        Ok(out)
    }

    fn due_feeds(&self, now: DateTime<Utc>) -> Result<Vec<FeedState>> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT {FEED_COLUMNS} FROM feeds f JOIN outlets o ON o.id = f.outlet_id \
             WHERE f.next_check_at IS NULL OR f.next_check_at <= ?1 \
             ORDER BY COALESCE(f.next_check_at, ''), f.url"
        ))?;
        let rows = st.query_map([fmt_time(&now)], feed_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn record_feed_poll(&self, url: &str, u: &FeedUpdate) -> Result<()> {
        self.conn().execute(
            "UPDATE feeds SET etag = COALESCE(?2, etag), last_modified = COALESCE(?3, last_modified), \
             next_check_at = ?4, last_fetch_at = ?5, error_count = ?6, last_error = ?7, \
             title = COALESCE(?8, title) WHERE url = ?1",
            params![
                url,
                u.etag,
                u.last_modified,
                fmt_time(&u.next_check_at),
                fmt_time(&u.fetched_at),
                u.error_count,
                u.last_error,
                u.title
            ],
        )?;
        Ok(())
    }
}

impl WorkStore for SqliteStore {
    fn claim_unembedded(&self, model: &str, worker: &str, lease: Duration, limit: usize) -> Result<Vec<ArticleRecord>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now = fmt_time(&Utc::now());
        let records = {
            let mut st = tx.prepare_cached(&format!(
                "SELECT {ARTICLE_COLUMNS} FROM articles a WHERE NOT EXISTS \
                 (SELECT 1 FROM article_vectors v WHERE v.article_id = a.id AND v.model = ?1) \
                 AND NOT EXISTS (SELECT 1 FROM work_leases l WHERE l.kind = 'embed' AND l.key = a.id AND l.until > ?2) \
                 ORDER BY seq LIMIT ?3"
            ))?;
            let rows = st.query_map(params![model, now, limit as i64], record_from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let keys: Vec<String> = records.iter().map(|r| r.article.id.clone()).collect();
        take_leases(&tx, Work::Embed, &keys, worker, lease)?;
        tx.commit()?;
        Ok(records)
    }

    fn claim_dirty_stories(&self, worker: &str, lease: Duration, limit: usize) -> Result<Vec<DirtyStory>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now = fmt_time(&Utc::now());
        let stories = {
            let mut st = tx.prepare_cached(
                "SELECT id, generation FROM stories s WHERE dirty = 1 AND NOT EXISTS (SELECT 1 FROM work_leases l \
                 WHERE l.kind = 'write' AND l.key = CAST(s.id AS TEXT) AND l.until > ?1) ORDER BY id LIMIT ?2",
            )?;
            let rows =
                st.query_map(params![now, limit as i64], |r| Ok(DirtyStory { id: r.get(0)?, generation: r.get(1)? }))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let keys: Vec<String> = stories.iter().map(|d| d.id.to_string()).collect();
        take_leases(&tx, Work::Write, &keys, worker, lease)?;
        tx.commit()?;
        Ok(stories)
    }

    fn claim_due_feeds(
        &self,
        now: DateTime<Utc>,
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<FeedState>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let claimed = {
            let mut st = tx.prepare_cached(&format!(
                "SELECT {FEED_COLUMNS} FROM feeds f JOIN outlets o ON o.id = f.outlet_id \
                 WHERE (f.next_check_at IS NULL OR f.next_check_at <= ?1) AND NOT EXISTS (SELECT 1 FROM work_leases l \
                 WHERE l.kind = 'fetch' AND l.key = f.url AND l.until > ?2 AND l.owner <> ?3) \
                 ORDER BY COALESCE(f.next_check_at, ''), f.url LIMIT ?4"
            ))?;
            let rows = st.query_map(
                params![fmt_time(&now), fmt_time(&Utc::now()), worker, i64::try_from(limit).unwrap_or(i64::MAX)],
                feed_from_row,
            )?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let keys: Vec<String> = claimed.iter().map(|f| f.url.clone()).collect();
        take_leases(&tx, Work::Fetch, &keys, worker, lease)?;
        tx.commit()?;
        Ok(claimed)
    }

    fn claim_due_rechecks(
        &self,
        now: DateTime<Utc>,
        worker: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Recheck>> {
        let due: Vec<(String, i64)> = {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let due: Vec<(String, i64)> = {
                let mut st = tx.prepare_cached(
                    "SELECT r.article_id, r.checks_done FROM article_rechecks r \
                     WHERE r.due_at IS NOT NULL AND r.due_at <= ?1 AND NOT EXISTS (SELECT 1 FROM work_leases l \
                     WHERE l.kind = 'recheck' AND l.key = r.article_id AND l.until > ?2 AND l.owner <> ?3) \
                     ORDER BY r.due_at LIMIT ?4",
                )?;
                let rows = st.query_map(
                    params![fmt_time(&now), fmt_time(&Utc::now()), worker, i64::try_from(limit).unwrap_or(i64::MAX)],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let keys: Vec<String> = due.iter().map(|(id, _)| id.clone()).collect();
            take_leases(&tx, Work::Recheck, &keys, worker, lease)?;
            tx.commit()?;
            due
        };
        let mut out = Vec::new();
        for (id, done) in due {
            if let Some(record) = self.article(&id)? {
                out.push(Recheck { record, checks_done: u32::try_from(done).unwrap_or(0) });
            }
        }
        Ok(out)
    }

    fn release(&self, work: Work, worker: &str, keys: &[String]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut st = tx.prepare_cached("DELETE FROM work_leases WHERE kind = ?1 AND key = ?2 AND owner = ?3")?;
            for k in keys {
                st.execute(params![work.as_str(), k, worker])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn watch_texts(&self) -> Result<Option<Box<dyn TextWatch>>> {
        let Some(path) = &self.path else { return Ok(None) };
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mut watch = SqliteTextWatch { conn, version: 0, texts: String::new() };
        watch.changed()?;
        Ok(Some(Box::new(watch)))
    }

    fn try_lead(&self, role: &str) -> Result<Option<Box<dyn Leadership>>> {
        let Some(path) = &self.path else {
            // An in-memory database has one process by definition.
            return Ok(Some(Box::new(FileLeadership(None))));
        };
        let lock_path = path.with_extension(format!("{role}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::Corrupt(format!("opening {}: {e}", lock_path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Box::new(FileLeadership(Some(file))))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(StoreError::Corrupt(format!("locking {}: {e}", lock_path.display())))
            }
        }
    }
}

/// Leadership held through an OS lock on a file beside the database (released by the OS
/// when the process ends, however it ends).
struct FileLeadership(#[allow(dead_code)] Option<std::fs::File>);

impl Leadership for FileLeadership {
    fn still_leading(&mut self) -> bool {
        true
    }
}

/// Watches a SQLite file from its own connection: `PRAGMA data_version` changes when
/// another connection commits; only then are the texts' count and latest time compared.
struct SqliteTextWatch {
    conn: Connection,
    version: i64,
    texts: String,
}

impl SqliteTextWatch {
    fn changed(&mut self) -> Result<bool> {
        let version: i64 = self.conn.pragma_query_value(None, "data_version", |r| r.get(0))?;
        if version == self.version {
            return Ok(false);
        }
        self.version = version;
        let texts: String = self.conn.query_row(
            "SELECT COUNT(*) || ' ' || COALESCE(MAX(written_at), '') || ' ' || \
             (SELECT COUNT(*) FROM story_revisions) FROM story_texts",
            [],
            |r| r.get(0),
        )?;
        let changed = texts != self.texts;
        self.texts = texts;
        Ok(changed)
    }
}

impl TextWatch for SqliteTextWatch {
    fn wait(&mut self, timeout: std::time::Duration) -> Result<bool> {
        let end = std::time::Instant::now() + timeout;
        loop {
            if self.changed()? {
                return Ok(true);
            }
            let left = end.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            std::thread::sleep(left.min(std::time::Duration::from_millis(100)));
        }
    }
}

/// Records `worker`'s lease on `keys` until `lease` from now (taking over expired ones).
fn take_leases(
    tx: &rusqlite::Transaction<'_>,
    work: Work,
    keys: &[String],
    worker: &str,
    lease: Duration,
) -> Result<()> {
    let until = fmt_time(&(Utc::now() + lease));
    let mut st = tx.prepare_cached(
        "INSERT INTO work_leases (kind, key, owner, until) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (kind, key) DO UPDATE SET owner = excluded.owner, until = excluded.until",
    )?;
    for k in keys {
        st.execute(params![work.as_str(), k, worker, until])?;
    }
    Ok(())
}

/// The columns [`feed_from_row`] reads (`f`: feeds, `o`: outlets).
const FEED_COLUMNS: &str = "f.url, o.name, o.languages, f.etag, f.last_modified, f.error_count, f.last_error";

fn feed_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FeedState> {
    let languages: String = r.get(2)?;
    Ok(FeedState {
        url: r.get(0)?,
        outlet: r.get(1)?,
        outlet_languages: serde_json::from_str(&languages).unwrap_or_default(),
        etag: r.get(3)?,
        last_modified: r.get(4)?,
        error_count: u32::try_from(r.get::<_, i64>(5)?).unwrap_or(u32::MAX),
        last_error: r.get(6)?,
    })
}

/// Marks a story for rewriting and counts up its generation.
pub(crate) const MARK_DIRTY: &str = "UPDATE stories SET dirty = 1, generation = generation + 1 WHERE id = ?1";

#[cfg(test)]
mod tests {
    use super::*;

    fn article(id: &str, text: &str) -> Article {
        Article {
            id: id.into(),
            url: "https://example.org/a".into(),
            outlet: "Example".into(),
            lang: "en".into(),
            lang_detected: false,
            published: DateTime::parse_from_rfc3339("2026-01-06T10:00:00Z").ok().map(|t| t.with_timezone(&Utc)),
            title: "Title".into(),
            text: text.into(),
            authors: Vec::new(),
        }
    }

    fn new<'a>(a: &'a Article, hash: &str, dup: Option<&str>) -> NewArticle<'a> {
        NewArticle {
            article: a,
            content_hash: hash.into(),
            fingerprint: vec![1, 2, 3],
            duplicate_of: dup.map(Into::into),
        }
    }

    #[test]
    fn migrations_apply_once_and_reopen_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let a = article("a", "text");
        s.insert_articles(&[new(&a, "h", None)]).unwrap();
        drop(s);
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.stats().unwrap().articles, 1);
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        {
            let c = Connection::open(&path).unwrap();
            c.pragma_update(None, "user_version", 99).unwrap();
        }
        match SqliteStore::open(&path) {
            Err(StoreError::TooNew { found: 99, .. }) => {}
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("opened a newer schema"),
        }
    }
}

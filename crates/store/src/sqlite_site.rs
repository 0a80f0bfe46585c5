//! SQLite implementation of [`SiteStore`].

use crate::rules::{self, LatestRevision, from_json, to_json};
use crate::site::{NewReport, Report, RevisionInfo, Session, SiteStore, StoryView};
use crate::sqlite::{MARK_DIRTY, fmt_time, parse_time};
use crate::{Result, SqliteStore};
use chorus_core::{StoryArticle, StoryId};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

/// The latest revision of a story's edition.
pub(crate) fn latest_revision(tx: &Transaction<'_>, story: StoryId, lang: &str) -> Result<Option<LatestRevision>> {
    let row: Option<(u32, bool, String)> = tx
        .query_row(
            "SELECT revision, by_editor, article FROM story_revisions WHERE story_id = ?1 AND lang = ?2 \
             ORDER BY revision DESC LIMIT 1",
            params![story, lang],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    row.map(|(number, by_editor, json)| Ok(LatestRevision { number, by_editor, article: from_json(&json, story)? }))
        .transpose()
}

/// The latest revision the machine wrote (what an editor's correction started from).
pub(crate) fn latest_machine_revision(
    tx: &Transaction<'_>,
    story: StoryId,
    lang: &str,
) -> Result<Option<StoryArticle>> {
    let json: Option<String> = tx
        .query_row(
            "SELECT article FROM story_revisions WHERE story_id = ?1 AND lang = ?2 AND by_editor = 0 \
             ORDER BY revision DESC LIMIT 1",
            params![story, lang],
            |r| r.get(0),
        )
        .optional()?;
    json.map(|j| from_json(&j, story)).transpose()
}

/// Keeps the machine's rewrite of an edition an editor corrected, for review.
pub(crate) fn put_draft(tx: &Transaction<'_>, article: &StoryArticle) -> Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO story_drafts (story_id, lang, written_at, article) VALUES (?1, ?2, ?3, ?4)",
        params![article.story_id, article.lang, fmt_time(&article.written_at), to_json(article)?],
    )?;
    Ok(())
}

/// Appends `article` as revision `revision` and makes it the current text of its edition.
pub(crate) fn append_revision(
    tx: &Transaction<'_>,
    article: &StoryArticle,
    editor: &str,
    note: &str,
    report_id: Option<&str>,
    by_editor: bool,
) -> Result<()> {
    let json = to_json(article)?;
    tx.execute(
        "INSERT INTO story_revisions (story_id, lang, revision, written_at, edited_by, note, report_id, article, \
         by_editor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            article.story_id,
            article.lang,
            article.revision,
            fmt_time(&article.written_at),
            editor,
            note,
            report_id,
            json,
            by_editor
        ],
    )?;
    put_current_text(tx, article, &json)
}

/// Makes `article` (serialised as `json`) the current text of its edition.
pub(crate) fn put_current_text(tx: &Transaction<'_>, article: &StoryArticle, json: &str) -> Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO story_texts (story_id, lang, written_at, article) VALUES (?1, ?2, ?3, ?4)",
        params![article.story_id, article.lang, fmt_time(&article.written_at), json],
    )?;
    Ok(())
}

/// A report's status, reason, decider and time of decision, as stored.
type ReportDecision = (String, Option<String>, Option<String>, Option<String>);

const REPORT_COLUMNS: &str =
    "id, story_id, lang, kind, body, source_url, created_at, status, reason, resolved_by, resolved_at, revision";

fn report_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Report> {
    Ok(Report {
        id: r.get(0)?,
        story_id: r.get(1)?,
        lang: r.get(2)?,
        kind: r.get(3)?,
        body: r.get(4)?,
        source_url: r.get(5)?,
        created_at: parse_time(r.get(6)?).unwrap_or_default(),
        status: r.get(7)?,
        reason: r.get(8)?,
        resolved_by: r.get(9)?,
        resolved_at: parse_time(r.get(10)?),
        revision: r.get(11)?,
    })
}

fn revision_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RevisionInfo> {
    Ok(RevisionInfo {
        story_id: r.get(0)?,
        lang: r.get(1)?,
        revision: r.get(2)?,
        written_at: parse_time(r.get(3)?).unwrap_or_default(),
        edited_by: r.get(4)?,
        note: r.get(5)?,
        report_id: r.get(6)?,
    })
}

const REVISION_COLUMNS: &str = "story_id, lang, revision, written_at, edited_by, note, report_id";

impl SiteStore for SqliteStore {
    fn story_revisions(&self, story: StoryId, lang: &str) -> Result<Vec<RevisionInfo>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT {REVISION_COLUMNS} FROM story_revisions WHERE story_id = ?1 AND lang = ?2 ORDER BY revision"
        ))?;
        let rows = st.query_map(params![story, lang], revision_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn story_revision(
        &self,
        story: StoryId,
        lang: &str,
        revision: u32,
    ) -> Result<Option<(RevisionInfo, StoryArticle)>> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!(
                    "SELECT {REVISION_COLUMNS}, article FROM story_revisions \
                     WHERE story_id = ?1 AND lang = ?2 AND revision = ?3"
                ),
                params![story, lang, revision],
                |r| Ok((revision_from_row(r)?, r.get::<_, String>(7)?)),
            )
            .optional()?;
        row.map(|(info, json)| Ok((info, from_json(&json, story)?))).transpose()
    }

    fn publish_revision(
        &self,
        article: &StoryArticle,
        editor: &str,
        note: &str,
        report_id: Option<&str>,
    ) -> Result<u32> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let next = rules::next_revision(latest_revision(&tx, article.story_id, &article.lang)?.map(|l| l.number));
        let article = rules::editor_revision(article, editor, next);
        append_revision(&tx, &article, editor, note, report_id, true)?;
        // The editor has now seen the story: a waiting machine rewrite is superseded.
        tx.execute(
            "DELETE FROM story_drafts WHERE story_id = ?1 AND lang = ?2",
            params![article.story_id, article.lang],
        )?;
        if let Some(id) = report_id {
            let decided: Option<ReportDecision> = tx
                .query_row("SELECT status, reason, resolved_by, resolved_at FROM reports WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            if let Some((status, reason, by, at)) = decided {
                let a = rules::answer_report(&status, reason, by, parse_time(at), note, editor, article.written_at);
                tx.execute(
                    "UPDATE reports SET revision = ?2, status = ?3, reason = ?4, resolved_by = ?5, resolved_at = ?6 \
                     WHERE id = ?1",
                    params![id, next, a.status, a.reason, a.resolved_by, a.resolved_at.as_ref().map(fmt_time)],
                )?;
            }
        }
        tx.commit()?;
        Ok(next)
    }

    fn drafts(&self) -> Result<Vec<(StoryId, String, DateTime<Utc>)>> {
        let conn = self.conn();
        let mut st =
            conn.prepare_cached("SELECT story_id, lang, written_at FROM story_drafts ORDER BY written_at DESC")?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, StoryId>(0)?, r.get::<_, String>(1)?, parse_time(r.get(2)?).unwrap_or_default()))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn draft(&self, story: StoryId, lang: &str) -> Result<Option<StoryArticle>> {
        let json: Option<String> = self
            .conn()
            .query_row(
                "SELECT article FROM story_drafts WHERE story_id = ?1 AND lang = ?2",
                params![story, lang],
                |r| r.get(0),
            )
            .optional()?;
        json.map(|j| from_json(&j, story)).transpose()
    }

    fn accept_draft(&self, story: StoryId, lang: &str, editor: &str) -> Result<Option<u32>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let json: Option<String> = tx
            .query_row(
                "SELECT article FROM story_drafts WHERE story_id = ?1 AND lang = ?2",
                params![story, lang],
                |r| r.get(0),
            )
            .optional()?;
        let Some(json) = json else { return Ok(None) };
        let draft = from_json(&json, story)?;
        let next = rules::next_revision(latest_revision(&tx, story, lang)?.map(|l| l.number));
        let article = StoryArticle { revision: next, ..draft };
        let note = rules::accepted_draft_note(editor);
        append_revision(&tx, &article, &article.edited_by.clone(), &note, None, false)?;
        tx.execute("DELETE FROM story_drafts WHERE story_id = ?1 AND lang = ?2", params![story, lang])?;
        tx.commit()?;
        Ok(Some(next))
    }

    fn discard_draft(&self, story: StoryId, lang: &str) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM story_drafts WHERE story_id = ?1 AND lang = ?2", params![story, lang])? > 0)
    }

    fn mark_dirty(&self, story: StoryId) -> Result<bool> {
        Ok(self.conn().execute(MARK_DIRTY, [story])? > 0)
    }

    fn add_report(&self, r: &NewReport) -> Result<()> {
        self.conn().execute(
            "INSERT INTO reports (id, story_id, lang, kind, body, source_url, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![r.id, r.story_id, r.lang, r.kind, r.body, r.source_url, fmt_time(&r.created_at)],
        )?;
        Ok(())
    }

    fn report(&self, id: &str) -> Result<Option<Report>> {
        let conn = self.conn();
        Ok(conn
            .query_row(&format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = ?1"), [id], report_from_row)
            .optional()?)
    }

    fn reports(&self, status: Option<&str>, limit: usize) -> Result<Vec<Report>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE ?1 IS NULL OR status = ?1 \
             ORDER BY created_at DESC, rowid DESC LIMIT ?2"
        ))?;
        let rows = st.query_map(params![status, limit as i64], report_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn story_reports(&self, story: StoryId) -> Result<Vec<Report>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE story_id = ?1 ORDER BY created_at DESC, rowid DESC"
        ))?;
        let rows = st.query_map([story], report_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn resolve_report(&self, id: &str, status: &str, reason: &str, editor: &str, at: DateTime<Utc>) -> Result<bool> {
        Ok(self.conn().execute(
            "UPDATE reports SET status = ?2, reason = ?3, resolved_by = ?4, resolved_at = ?5 WHERE id = ?1",
            params![id, status, reason, editor, fmt_time(&at)],
        )? > 0)
    }

    fn put_user(&self, name: &str, password_hash: &str, at: DateTime<Utc>) -> Result<bool> {
        let conn = self.conn();
        let updated =
            conn.execute("UPDATE users SET password_hash = ?2 WHERE name = ?1", params![name, password_hash])?;
        if updated > 0 {
            // A new password ends every session of the old one.
            conn.execute("DELETE FROM sessions WHERE user_name = ?1", [name])?;
            return Ok(false);
        }
        conn.execute(
            "INSERT INTO users (name, password_hash, created_at) VALUES (?1, ?2, ?3)",
            params![name, password_hash, fmt_time(&at)],
        )?;
        Ok(true)
    }

    fn user_password_hash(&self, name: &str) -> Result<Option<String>> {
        Ok(self.conn().query_row("SELECT password_hash FROM users WHERE name = ?1", [name], |r| r.get(0)).optional()?)
    }

    fn create_session(&self, token_hash: &str, s: &Session) -> Result<()> {
        self.conn().execute(
            "INSERT INTO sessions (token_hash, user_name, csrf, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token_hash, s.user, s.csrf, fmt_time(&s.expires_at)],
        )?;
        Ok(())
    }

    fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Session>> {
        let conn = self.conn();
        let row: Option<(String, String, String)> = conn
            .query_row("SELECT user_name, csrf, expires_at FROM sessions WHERE token_hash = ?1", [token_hash], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        Ok(row.and_then(|(user, csrf, expires)| {
            let expires_at = parse_time(Some(expires))?;
            (expires_at > now).then_some(Session { user, csrf, expires_at })
        }))
    }

    fn delete_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        self.conn().execute(
            "DELETE FROM sessions WHERE token_hash = ?1 OR expires_at <= ?2",
            params![token_hash, fmt_time(&now)],
        )?;
        Ok(())
    }

    fn record_view(&self, story: StoryId, day: &str, visitor: &[u8], keep_from: &str) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let new = tx.execute(
            "INSERT OR IGNORE INTO story_views (story_id, day, visitor) VALUES (?1, ?2, ?3)",
            params![story, day, visitor],
        )? > 0;
        if new {
            tx.execute(
                "INSERT INTO story_view_totals (story_id, views) VALUES (?1, 1) \
                 ON CONFLICT(story_id) DO UPDATE SET views = views + 1",
                [story],
            )?;
            tx.execute("DELETE FROM story_views WHERE day < ?1", [keep_from])?;
        }
        tx.commit()?;
        Ok(new)
    }

    fn record_views(&self, views: &[StoryView], keep_from: &str) -> Result<Vec<bool>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut counted = Vec::with_capacity(views.len());
        {
            let mut insert =
                tx.prepare_cached("INSERT OR IGNORE INTO story_views (story_id, day, visitor) VALUES (?1, ?2, ?3)")?;
            let mut total = tx.prepare_cached(
                "INSERT INTO story_view_totals (story_id, views) VALUES (?1, 1) \
                 ON CONFLICT(story_id) DO UPDATE SET views = views + 1",
            )?;
            for v in views {
                let new = insert.execute(params![v.story, v.day, v.visitor])? > 0;
                if new {
                    total.execute([v.story])?;
                }
                counted.push(new);
            }
        }
        if counted.iter().any(|n| *n) {
            tx.execute("DELETE FROM story_views WHERE day < ?1", [keep_from])?;
        }
        tx.commit()?;
        Ok(counted)
    }

    fn story_views(&self, story: StoryId) -> Result<u64> {
        Ok(self
            .conn()
            .query_row("SELECT views FROM story_view_totals WHERE story_id = ?1", [story], |r| r.get::<_, i64>(0))
            .optional()?
            .map_or(0, |n| n.max(0) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoryStore;

    #[test]
    fn hashes_of_old_days_are_deleted_and_totals_kept() {
        let s = SqliteStore::open_in_memory().unwrap();
        let id = s.assign(1, &[]).unwrap()[0];
        assert!(s.record_view(id, "2026-11-27", b"v1", "2026-11-26").unwrap());
        assert!(s.record_view(id, "2026-11-29", b"v1", "2026-11-28").unwrap());
        let rows: i64 = s.conn().query_row("SELECT COUNT(*) FROM story_views", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 1, "hashes of days before yesterday are deleted, totals kept");
        assert_eq!(s.story_views(id).unwrap(), 2);
    }
}

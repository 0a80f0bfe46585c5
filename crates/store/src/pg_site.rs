//! PostgreSQL implementation of [`SiteStore`]. Revision numbers are taken under the
//! story's row lock, so two editors (or an editor and the pipeline) on different web
//! nodes never publish the same number.

use crate::pg::{MARK_DIRTY, append_revision, article_from_value, latest_revision, lock_story, notify_texts};
use crate::rules;
use crate::site::{NewReport, Report, RevisionInfo, Session, SiteStore, StoryView};
use crate::{PgStore, Result, StoreError};
use chorus_core::{StoryArticle, StoryId};
use chrono::{DateTime, Utc};
use postgres::Row;

const REPORT_COLUMNS: &str =
    "id, story_id, lang, kind, body, source_url, created_at, status, reason, resolved_by, resolved_at, revision";

fn report_from_row(r: &Row) -> Result<Report> {
    Ok(Report {
        id: r.try_get(0)?,
        story_id: r.try_get(1)?,
        lang: r.try_get(2)?,
        kind: r.try_get(3)?,
        body: r.try_get(4)?,
        source_url: r.try_get(5)?,
        created_at: r.try_get(6)?,
        status: r.try_get(7)?,
        reason: r.try_get(8)?,
        resolved_by: r.try_get(9)?,
        resolved_at: r.try_get(10)?,
        revision: r.try_get::<_, Option<i32>>(11)?.and_then(|n| u32::try_from(n).ok()),
    })
}

const REVISION_COLUMNS: &str = "story_id, lang, revision, written_at, edited_by, note, report_id";

fn revision_from_row(r: &Row) -> Result<RevisionInfo> {
    Ok(RevisionInfo {
        story_id: r.try_get(0)?,
        lang: r.try_get(1)?,
        revision: u32::try_from(r.try_get::<_, i32>(2)?).unwrap_or(0),
        written_at: r.try_get(3)?,
        edited_by: r.try_get(4)?,
        note: r.try_get(5)?,
        report_id: r.try_get(6)?,
    })
}

fn to_i32(n: u32) -> Result<i32> {
    i32::try_from(n).map_err(|_| StoreError::Corrupt(format!("revision {n} too large")))
}

impl SiteStore for PgStore {
    fn story_revisions(&self, story: StoryId, lang: &str) -> Result<Vec<RevisionInfo>> {
        self.with(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {REVISION_COLUMNS} FROM story_revisions WHERE story_id = $1 AND lang = $2 ORDER BY revision"
                ),
                &[&story, &lang],
            )?;
            rows.iter().map(revision_from_row).collect()
        })
    }

    fn story_revision(
        &self,
        story: StoryId,
        lang: &str,
        revision: u32,
    ) -> Result<Option<(RevisionInfo, StoryArticle)>> {
        let number = to_i32(revision)?;
        self.with(|c| {
            let row = c.query_opt(
                &format!(
                    "SELECT {REVISION_COLUMNS}, article FROM story_revisions \
                     WHERE story_id = $1 AND lang = $2 AND revision = $3"
                ),
                &[&story, &lang, &number],
            )?;
            row.map(|r| Ok((revision_from_row(&r)?, article_from_value(r.try_get(7)?, story)?))).transpose()
        })
    }

    fn publish_revision(
        &self,
        article: &StoryArticle,
        editor: &str,
        note: &str,
        report_id: Option<&str>,
    ) -> Result<u32> {
        self.tx(|tx| {
            if !lock_story(tx, article.story_id)? {
                return Err(StoreError::Corrupt(format!("no story {} to publish", article.story_id)));
            }
            let next = rules::next_revision(latest_revision(tx, article.story_id, &article.lang)?.map(|l| l.number));
            let article = rules::editor_revision(article, editor, next);
            append_revision(tx, &article, editor, note, report_id, true)?;
            // The editor has now seen the story: a waiting machine rewrite is superseded.
            tx.execute(
                "DELETE FROM story_drafts WHERE story_id = $1 AND lang = $2",
                &[&article.story_id, &article.lang],
            )?;
            if let Some(id) = report_id {
                let decided = tx.query_opt(
                    "SELECT status, reason, resolved_by, resolved_at FROM reports WHERE id = $1 FOR UPDATE",
                    &[&id],
                )?;
                if let Some(r) = decided {
                    let status: String = r.try_get(0)?;
                    let a = rules::answer_report(
                        &status,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        r.try_get(3)?,
                        note,
                        editor,
                        article.written_at,
                    );
                    tx.execute(
                        "UPDATE reports SET revision = $2, status = $3, reason = $4, resolved_by = $5, resolved_at = $6 \
                         WHERE id = $1",
                        &[&id, &to_i32(next)?, &a.status, &a.reason, &a.resolved_by, &a.resolved_at],
                    )?;
                }
            }
            notify_texts(tx, article.story_id)?;
            Ok(next)
        })
    }

    fn drafts(&self) -> Result<Vec<(StoryId, String, DateTime<Utc>)>> {
        self.with(|c| {
            let rows = c.query("SELECT story_id, lang, written_at FROM story_drafts ORDER BY written_at DESC", &[])?;
            rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
        })
    }

    fn draft(&self, story: StoryId, lang: &str) -> Result<Option<StoryArticle>> {
        self.with(|c| {
            let row =
                c.query_opt("SELECT article FROM story_drafts WHERE story_id = $1 AND lang = $2", &[&story, &lang])?;
            row.map(|r| article_from_value(r.try_get(0)?, story)).transpose()
        })
    }

    fn accept_draft(&self, story: StoryId, lang: &str, editor: &str) -> Result<Option<u32>> {
        self.tx(|tx| {
            if !lock_story(tx, story)? {
                return Ok(None);
            }
            let row = tx.query_opt(
                "DELETE FROM story_drafts WHERE story_id = $1 AND lang = $2 RETURNING article",
                &[&story, &lang],
            )?;
            let Some(row) = row else { return Ok(None) };
            let draft = article_from_value(row.try_get(0)?, story)?;
            let next = rules::next_revision(latest_revision(tx, story, lang)?.map(|l| l.number));
            let article = StoryArticle { revision: next, ..draft };
            append_revision(tx, &article, &article.edited_by, &rules::accepted_draft_note(editor), None, false)?;
            notify_texts(tx, story)?;
            Ok(Some(next))
        })
    }

    fn discard_draft(&self, story: StoryId, lang: &str) -> Result<bool> {
        self.with(
            |c| Ok(c.execute("DELETE FROM story_drafts WHERE story_id = $1 AND lang = $2", &[&story, &lang])? > 0),
        )
    }

    fn mark_dirty(&self, story: StoryId) -> Result<bool> {
        self.with(|c| Ok(c.execute(MARK_DIRTY, &[&story])? > 0))
    }

    fn add_report(&self, r: &NewReport) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO reports (id, story_id, lang, kind, body, source_url, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&r.id, &r.story_id, &r.lang, &r.kind, &r.body, &r.source_url, &r.created_at],
            )?;
            Ok(())
        })
    }

    fn report(&self, id: &str) -> Result<Option<Report>> {
        self.with(|c| {
            let row = c.query_opt(&format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"), &[&id])?;
            row.as_ref().map(report_from_row).transpose()
        })
    }

    fn reports(&self, status: Option<&str>, limit: usize) -> Result<Vec<Report>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {REPORT_COLUMNS} FROM reports WHERE $1::TEXT IS NULL OR status = $1 \
                     ORDER BY created_at DESC, seq DESC LIMIT $2"
                ),
                &[&status, &limit],
            )?;
            rows.iter().map(report_from_row).collect()
        })
    }

    fn story_reports(&self, story: StoryId) -> Result<Vec<Report>> {
        self.with(|c| {
            let rows = c.query(
                &format!("SELECT {REPORT_COLUMNS} FROM reports WHERE story_id = $1 ORDER BY created_at DESC, seq DESC"),
                &[&story],
            )?;
            rows.iter().map(report_from_row).collect()
        })
    }

    fn resolve_report(&self, id: &str, status: &str, reason: &str, editor: &str, at: DateTime<Utc>) -> Result<bool> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE reports SET status = $2, reason = $3, resolved_by = $4, resolved_at = $5 WHERE id = $1",
                &[&id, &status, &reason, &editor, &at],
            )? > 0)
        })
    }

    fn put_user(&self, name: &str, password_hash: &str, at: DateTime<Utc>) -> Result<bool> {
        self.tx(|tx| {
            // `xmax = 0` only on a row this statement inserted.
            let created: bool = tx
                .query_one(
                    "INSERT INTO users (name, password_hash, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET password_hash = EXCLUDED.password_hash RETURNING (xmax = 0)",
                    &[&name, &password_hash, &at],
                )?
                .try_get(0)?;
            if !created {
                // A new password ends every session of the old one.
                tx.execute("DELETE FROM sessions WHERE user_name = $1", &[&name])?;
            }
            Ok(created)
        })
    }

    fn user_password_hash(&self, name: &str) -> Result<Option<String>> {
        self.with(|c| {
            Ok(c.query_opt("SELECT password_hash FROM users WHERE name = $1", &[&name])?
                .map(|r| r.try_get(0))
                .transpose()?)
        })
    }

    fn create_session(&self, token_hash: &str, s: &Session) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO sessions (token_hash, user_name, csrf, expires_at) VALUES ($1, $2, $3, $4)",
                &[&token_hash, &s.user, &s.csrf, &s.expires_at],
            )?;
            Ok(())
        })
    }

    fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Session>> {
        self.with(|c| {
            let row = c.query_opt(
                "SELECT user_name, csrf, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
                &[&token_hash, &now],
            )?;
            row.map(|r| Ok(Session { user: r.try_get(0)?, csrf: r.try_get(1)?, expires_at: r.try_get(2)? })).transpose()
        })
    }

    fn delete_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM sessions WHERE token_hash = $1 OR expires_at <= $2", &[&token_hash, &now])?;
            Ok(())
        })
    }

    fn record_view(&self, story: StoryId, day: &str, visitor: &[u8], keep_from: &str) -> Result<bool> {
        self.tx(|tx| {
            let new = tx.execute(
                "INSERT INTO story_views (story_id, day, visitor) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&story, &day, &visitor],
            )? > 0;
            if new {
                tx.execute(
                    "INSERT INTO story_view_totals (story_id, views) VALUES ($1, 1) \
                     ON CONFLICT (story_id) DO UPDATE SET views = story_view_totals.views + 1",
                    &[&story],
                )?;
                tx.execute("DELETE FROM story_views WHERE day < $1", &[&keep_from])?;
            }
            Ok(new)
        })
    }

    fn record_views(&self, views: &[StoryView], keep_from: &str) -> Result<Vec<bool>> {
        self.tx(|tx| {
            let insert = tx.prepare(
                "INSERT INTO story_views (story_id, day, visitor) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )?;
            let total = tx.prepare(
                "INSERT INTO story_view_totals (story_id, views) VALUES ($1, 1) \
                 ON CONFLICT (story_id) DO UPDATE SET views = story_view_totals.views + 1",
            )?;
            let mut counted = Vec::with_capacity(views.len());
            for v in views {
                let new = tx.execute(&insert, &[&v.story, &v.day, &v.visitor])? > 0;
                if new {
                    tx.execute(&total, &[&v.story])?;
                }
                counted.push(new);
            }
            if counted.iter().any(|n| *n) {
                tx.execute("DELETE FROM story_views WHERE day < $1", &[&keep_from])?;
            }
            Ok(counted)
        })
    }

    fn story_views(&self, story: StoryId) -> Result<u64> {
        self.with(|c| {
            let n: Option<i64> = c
                .query_opt("SELECT views FROM story_view_totals WHERE story_id = $1", &[&story])?
                .map(|r| r.try_get(0))
                .transpose()?;
            Ok(n.map_or(0, |n| n.max(0) as u64))
        })
    }
}

//! What the reader's site and its editors keep: revisions of written articles, reader
//! error reports, editor accounts and sessions, view counts and related stories.

use crate::{Result, Store};
use chorus_core::{StoryArticle, StoryId};
use chrono::{DateTime, Utc};

/// One revision of a written article, without its text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RevisionInfo {
    /// The story.
    pub story_id: StoryId,
    /// The edition.
    pub lang: String,
    /// 1, 2, … per story and edition.
    pub revision: u32,
    /// When it was published.
    pub written_at: DateTime<Utc>,
    /// `chorus` for machine rewrites, else the editor's name.
    pub edited_by: String,
    /// What changed, in words.
    pub note: String,
    /// The reader report this revision answers.
    pub report_id: Option<String>,
}

/// The kinds of error a reader can report.
pub const REPORT_KINDS: [&str; 5] = ["factual", "misleading", "outdated", "translation", "other"];

/// A reader's error report and what the editors did with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Report {
    /// Random id the reader can look the report up by.
    pub id: String,
    /// The story reported.
    pub story_id: StoryId,
    /// The edition the reader was reading.
    pub lang: String,
    /// One of [`REPORT_KINDS`].
    pub kind: String,
    /// What the reader wrote.
    pub body: String,
    /// A source the reader points to.
    pub source_url: Option<String>,
    /// When it was filed.
    pub created_at: DateTime<Utc>,
    /// `open`, `accepted` or `rejected`.
    pub status: String,
    /// The editor's reason for accepting or rejecting it.
    pub reason: Option<String>,
    /// The editor who decided.
    pub resolved_by: Option<String>,
    /// When it was decided.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The revision that made the change it asked for.
    pub revision: Option<u32>,
}

/// A reader's report as filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    /// The random id to store it under.
    pub id: String,
    /// The story reported.
    pub story_id: StoryId,
    /// The edition.
    pub lang: String,
    /// One of [`REPORT_KINDS`].
    pub kind: String,
    /// What the reader wrote.
    pub body: String,
    /// A source the reader points to.
    pub source_url: Option<String>,
    /// When it was filed.
    pub created_at: DateTime<Utc>,
}

/// One view to store: a visitor hash of a story on a day (see
/// [`SiteStore::record_views`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryView {
    /// The story.
    pub story: StoryId,
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// The visitor's hash for that day.
    pub visitor: Vec<u8>,
}

/// A logged-in editor's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The editor.
    pub user: String,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// Storage of the site: revisions, reports, editors, sessions, views, related stories.
pub trait SiteStore: Store {
    /// Revisions of a story's edition, oldest first.
    fn story_revisions(&self, story: StoryId, lang: &str) -> Result<Vec<RevisionInfo>>;
    /// One revision with its article.
    fn story_revision(&self, story: StoryId, lang: &str, revision: u32)
    -> Result<Option<(RevisionInfo, StoryArticle)>>;
    /// Publishes an editor's version of a written article as the next revision, replacing
    /// the current text; when `report_id` is given the report is linked to the revision
    /// (and accepted if still open). Returns the new revision number.
    fn publish_revision(
        &self,
        article: &StoryArticle,
        editor: &str,
        note: &str,
        report_id: Option<&str>,
    ) -> Result<u32>;
    /// Machine rewrites waiting for an editor (the edition's current text is an editor's
    /// correction): story, edition, when written; newest first.
    fn drafts(&self) -> Result<Vec<(StoryId, String, DateTime<Utc>)>>;
    /// A waiting machine rewrite.
    fn draft(&self, story: StoryId, lang: &str) -> Result<Option<StoryArticle>>;
    /// Publishes a waiting machine rewrite as the next revision; `None` when there is none.
    fn accept_draft(&self, story: StoryId, lang: &str, editor: &str) -> Result<Option<u32>>;
    /// Drops a waiting machine rewrite (the correction stands); false when there was none.
    fn discard_draft(&self, story: StoryId, lang: &str) -> Result<bool>;
    /// Marks a story to be written again by the next pipeline run.
    fn mark_dirty(&self, story: StoryId) -> Result<bool>;
    /// Stores a reader report.
    fn add_report(&self, report: &NewReport) -> Result<()>;
    /// A report by id.
    fn report(&self, id: &str) -> Result<Option<Report>>;
    /// Reports with this status (all when `None`), newest first, at most `limit`.
    fn reports(&self, status: Option<&str>, limit: usize) -> Result<Vec<Report>>;
    /// Reports about one story, newest first.
    fn story_reports(&self, story: StoryId) -> Result<Vec<Report>>;
    /// Accepts or rejects a report with a reason. Returns false when there is no such report.
    fn resolve_report(&self, id: &str, status: &str, reason: &str, editor: &str, at: DateTime<Utc>) -> Result<bool>;
    /// Creates an editor or replaces their password hash; true when created.
    fn put_user(&self, name: &str, password_hash: &str, at: DateTime<Utc>) -> Result<bool>;
    /// An editor's password hash.
    fn user_password_hash(&self, name: &str) -> Result<Option<String>>;
    /// Starts a session.
    fn create_session(&self, token_hash: &str, session: &Session) -> Result<()>;
    /// The session with this token hash, if it has not expired at `now`.
    fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Session>>;
    /// Ends a session (and every expired one).
    fn delete_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<()>;
    /// Counts a view unless this visitor hash already viewed the story that day; true when
    /// counted. Rows of days before `keep_from` are deleted (their totals stay).
    fn record_view(&self, story: StoryId, day: &str, visitor: &[u8], keep_from: &str) -> Result<bool>;
    /// [`SiteStore::record_view`] for many views in one transaction (the site batches
    /// them off the request path); one answer per view, true when it was counted.
    fn record_views(&self, views: &[StoryView], keep_from: &str) -> Result<Vec<bool>>;
    /// Views of a story.
    fn story_views(&self, story: StoryId) -> Result<u64>;
}

-- chorus schema, version 3: sources change after publication. Articles fetched from the
-- web are checked again (24 hours and 7 days after they were stored); edits and removals
-- are recorded and the story is written again.
CREATE TABLE article_rechecks (
    article_id  TEXT PRIMARY KEY REFERENCES articles(id),
    due_at      TEXT,                      -- NULL when no check is left
    checks_done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX article_rechecks_due ON article_rechecks(due_at);

CREATE TABLE article_revisions (
    article_id TEXT NOT NULL REFERENCES articles(id),
    checked_at TEXT NOT NULL,
    status     TEXT NOT NULL,              -- changed | vanished
    detail     TEXT NOT NULL,              -- what changed, or why it is gone
    old_title  TEXT NOT NULL,
    old_body   TEXT NOT NULL
);
CREATE INDEX article_revisions_article ON article_revisions(article_id);

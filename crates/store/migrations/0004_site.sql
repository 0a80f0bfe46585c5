-- chorus schema, version 4: the reader's site and its editors. Every written article is
-- kept as a numbered revision; readers report errors; editors review the reports and
-- publish corrected revisions; views are counted per visitor per day without storing who.
CREATE TABLE story_revisions (
    story_id   INTEGER NOT NULL REFERENCES stories(id),
    lang       TEXT NOT NULL,
    revision   INTEGER NOT NULL,          -- 1, 2, … per story and edition
    written_at TEXT NOT NULL,
    edited_by  TEXT NOT NULL,             -- "chorus" or the editor's name
    note       TEXT NOT NULL,             -- the change note
    report_id  TEXT,                      -- the reader report this revision answers
    article    TEXT NOT NULL,             -- the StoryArticle as JSON
    PRIMARY KEY (story_id, lang, revision)
);

CREATE TABLE reports (
    id          TEXT PRIMARY KEY,         -- random, given to the reader to look it up
    story_id    INTEGER NOT NULL REFERENCES stories(id),
    lang        TEXT NOT NULL,            -- the edition the reader was reading
    kind        TEXT NOT NULL,            -- factual | misleading | outdated | translation | other
    body        TEXT NOT NULL,
    source_url  TEXT,
    created_at  TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'open',  -- open | accepted | rejected
    reason      TEXT,                     -- the editor's reason
    resolved_by TEXT,
    resolved_at TEXT,
    revision    INTEGER                   -- the revision that made the change
);
CREATE INDEX reports_status ON reports(status, created_at);

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,          -- argon2id PHC string
    created_at    TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,          -- sha256 of the cookie value
    user_name  TEXT NOT NULL REFERENCES users(name),
    csrf       TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- One row per (story, day, visitor hash); the hash is salted with a secret that changes
-- every day and is never stored, so rows cannot be linked across days or to a person.
CREATE TABLE story_views (
    story_id INTEGER NOT NULL,
    day      TEXT NOT NULL,
    visitor  BLOB NOT NULL,
    PRIMARY KEY (story_id, day, visitor)
) WITHOUT ROWID;
CREATE TABLE story_view_totals (
    story_id INTEGER PRIMARY KEY,
    views    INTEGER NOT NULL
);

-- Follow-ups: other stories on the same subject (vector similarity of their articles).
CREATE TABLE story_related (
    story_id   INTEGER NOT NULL,
    related_id INTEGER NOT NULL,
    similarity REAL NOT NULL,
    PRIMARY KEY (story_id, related_id)
);

-- Revision 1 of everything already written.
INSERT INTO story_revisions (story_id, lang, revision, written_at, edited_by, note, article)
SELECT story_id, lang, 1, written_at, 'chorus', 'first version', article FROM story_texts;

-- chorus schema, version 1.
CREATE TABLE articles (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,   -- arrival order
    id            TEXT NOT NULL UNIQUE,
    url           TEXT NOT NULL,
    outlet        TEXT NOT NULL,
    lang          TEXT NOT NULL,
    lang_detected INTEGER NOT NULL,
    published     TEXT,                                -- RFC 3339, UTC
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    content_hash  TEXT NOT NULL,                       -- hex xxh3 of url|outlet|lang|published|title|text
    fingerprint   BLOB NOT NULL,                       -- chorus-text dedup fingerprint (versioned)
    duplicate_of  TEXT REFERENCES articles(id),
    story_id      INTEGER REFERENCES stories(id),
    ingested_at   TEXT NOT NULL
);
CREATE INDEX articles_story ON articles(story_id);
CREATE INDEX articles_published ON articles(published);

CREATE TABLE article_vectors (
    article_id TEXT NOT NULL REFERENCES articles(id),
    model      TEXT NOT NULL,
    vector     BLOB NOT NULL,                          -- little-endian f32
    PRIMARY KEY (article_id, model)
);

-- Sentence vectors, keyed by a hash of the embedded text, so re-synthesis never re-embeds.
CREATE TABLE sentence_vectors (
    model    TEXT NOT NULL,
    text_key INTEGER NOT NULL,
    vector   BLOB NOT NULL,
    PRIMARY KEY (model, text_key)
);

CREATE TABLE stories (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    dirty      INTEGER NOT NULL DEFAULT 1              -- sources changed since last synthesis
);

CREATE TABLE story_texts (
    story_id   INTEGER NOT NULL REFERENCES stories(id),
    lang       TEXT NOT NULL,
    written_at TEXT NOT NULL,
    article    TEXT NOT NULL,                          -- JSON of chorus_core::StoryArticle
    PRIMARY KEY (story_id, lang)
);

-- chorus schema, version 2: the outlets chorus follows and their feeds.
CREATE TABLE outlets (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    name      TEXT NOT NULL UNIQUE,
    homepage  TEXT NOT NULL,
    country   TEXT NOT NULL,                 -- ISO 3166-1 alpha-2
    languages TEXT NOT NULL,                 -- JSON array of ISO 639 codes
    kind      TEXT NOT NULL,                 -- state | public | private | wire
    added_at  TEXT NOT NULL
);

-- One row per feed URL. The fetch state (validators, schedule, errors) lives here so a
-- restart continues where the last run stopped.
CREATE TABLE feeds (
    url            TEXT PRIMARY KEY,
    outlet_id      INTEGER NOT NULL REFERENCES outlets(id) ON DELETE CASCADE,
    title          TEXT NOT NULL DEFAULT '',
    etag           TEXT,
    last_modified  TEXT,
    next_check_at  TEXT,
    last_fetch_at  TEXT,
    error_count    INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT
);
CREATE INDEX feeds_outlet ON feeds(outlet_id);

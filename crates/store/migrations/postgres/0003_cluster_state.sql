-- chorus schema for PostgreSQL, version 3: what the clustering leader has observed (the
-- running means behind centring and the terms' document frequencies), saved with each
-- round's assignments, so the next round restores only the stories still open.
CREATE TABLE cluster_state (
    model      TEXT PRIMARY KEY,
    articles   BIGINT NOT NULL,
    observed   BYTEA NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

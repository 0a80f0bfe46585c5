-- chorus schema for PostgreSQL, version 2: work claimed by a worker process (an article to
-- embed, a story to write, a feed to poll) carries a lease, taken with FOR UPDATE SKIP
-- LOCKED; when the worker dies, the lease runs out and another process takes the work.
CREATE TABLE work_leases (
    kind  TEXT NOT NULL,
    key   TEXT NOT NULL,
    owner TEXT NOT NULL,
    until TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, key)
);

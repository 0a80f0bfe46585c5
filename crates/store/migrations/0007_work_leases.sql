-- chorus schema, version 7: work claimed by a worker process (an article to embed, a story
-- to write, a feed to poll) carries a lease; when the worker dies, the lease runs out and
-- another process takes the work.
CREATE TABLE work_leases (
    kind  TEXT NOT NULL,                   -- embed | write | fetch
    key   TEXT NOT NULL,                   -- article id, story id, feed URL
    owner TEXT NOT NULL,                   -- the worker that claimed it
    until TEXT NOT NULL,                   -- RFC 3339; expired leases are free to take
    PRIMARY KEY (kind, key)
);

-- chorus schema, version 8: what the clustering leader has observed (the running means
-- behind centring and the terms' document frequencies), saved with each round's
-- assignments, so the next round — in this process or the next leader — restores only
-- the stories still open instead of every vector ever clustered.
CREATE TABLE cluster_state (
    model      TEXT PRIMARY KEY,
    articles   INTEGER NOT NULL,   -- clustered articles the statistics cover
    observed   BLOB NOT NULL,      -- chorus_cluster::OnlineClusterer::observed_bytes
    updated_at TEXT NOT NULL
);

-- Authors of an article as the source names them (JSON array of strings).
ALTER TABLE articles ADD COLUMN authors TEXT NOT NULL DEFAULT '[]';

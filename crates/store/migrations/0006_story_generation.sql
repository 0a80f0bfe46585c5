-- chorus schema, version 6: every dirty mark counts up a story's generation, so a writer
-- that read generation N clears the mark only if no new mark was made while it wrote.
ALTER TABLE stories ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;

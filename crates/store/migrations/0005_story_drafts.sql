-- chorus schema, version 5: an editor's correction is not overwritten by the machine.
-- When the pipeline rewrites an edition whose current revision an editor published, the
-- machine's text waits here until an editor publishes or discards it.
ALTER TABLE story_revisions ADD COLUMN by_editor INTEGER NOT NULL DEFAULT 0;
CREATE TABLE story_drafts (
    story_id   INTEGER NOT NULL REFERENCES stories(id),
    lang       TEXT NOT NULL,
    written_at TEXT NOT NULL,
    article    TEXT NOT NULL,             -- the StoryArticle as JSON
    PRIMARY KEY (story_id, lang)
);
UPDATE story_revisions SET by_editor = 1
 WHERE edited_by <> 'chorus' AND edited_by NOT LIKE 'chorus with %';

-- Full-text index over chunk text (FTS5, porter stemming over unicode61 tokens), an external-content
-- table keyed by chunks.seq and kept in sync by triggers, so inserts and deletes of chunks (including
-- cascades from documents and collections) update it in the same statement. drizzle-kit cannot
-- express virtual tables, so this migration was written with `drizzle-kit generate --custom`.
CREATE VIRTUAL TABLE `chunks_fts` USING fts5(
	`title`, `heading`, `text`,
	content='chunks', content_rowid='seq', tokenize='porter unicode61'
);
--> statement-breakpoint
CREATE TRIGGER `chunks_fts_after_insert` AFTER INSERT ON `chunks` BEGIN
	INSERT INTO `chunks_fts` (rowid, `title`, `heading`, `text`) VALUES (new.`seq`, new.`title`, new.`heading`, new.`text`);
END;
--> statement-breakpoint
CREATE TRIGGER `chunks_fts_after_delete` AFTER DELETE ON `chunks` BEGIN
	INSERT INTO `chunks_fts` (`chunks_fts`, rowid, `title`, `heading`, `text`) VALUES ('delete', old.`seq`, old.`title`, old.`heading`, old.`text`);
END;
--> statement-breakpoint
CREATE TRIGGER `chunks_fts_after_update` AFTER UPDATE ON `chunks` BEGIN
	INSERT INTO `chunks_fts` (`chunks_fts`, rowid, `title`, `heading`, `text`) VALUES ('delete', old.`seq`, old.`title`, old.`heading`, old.`text`);
	INSERT INTO `chunks_fts` (rowid, `title`, `heading`, `text`) VALUES (new.`seq`, new.`title`, new.`heading`, new.`text`);
END;

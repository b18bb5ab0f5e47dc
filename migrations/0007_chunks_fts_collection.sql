-- The chunk index gains the collection id as a fourth column, so keyword search can restrict a
-- query to the caller's collections inside FTS5 (doclist intersection) and rank only those
-- matches, instead of ranking every match in the index and joining each one to filter it.
-- The exact SQL filter on chunks.collection_id stays: this column narrows, it never decides.
DROP TABLE IF EXISTS `chunks_fts_vocab`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `chunks_fts_after_insert`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `chunks_fts_after_delete`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `chunks_fts_after_update`;
--> statement-breakpoint
DROP TABLE IF EXISTS `chunks_fts`;
--> statement-breakpoint
CREATE VIRTUAL TABLE `chunks_fts` USING fts5(
	`title`, `heading`, `text`, `collection_id`,
	content='chunks', content_rowid='seq', tokenize='porter unicode61'
);
--> statement-breakpoint
INSERT INTO `chunks_fts` (`chunks_fts`) VALUES ('rebuild');
--> statement-breakpoint
CREATE TRIGGER `chunks_fts_after_insert` AFTER INSERT ON `chunks` BEGIN
	INSERT INTO `chunks_fts` (rowid, `title`, `heading`, `text`, `collection_id`) VALUES (new.`seq`, new.`title`, new.`heading`, new.`text`, new.`collection_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `chunks_fts_after_delete` AFTER DELETE ON `chunks` BEGIN
	INSERT INTO `chunks_fts` (`chunks_fts`, rowid, `title`, `heading`, `text`, `collection_id`) VALUES ('delete', old.`seq`, old.`title`, old.`heading`, old.`text`, old.`collection_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `chunks_fts_after_update` AFTER UPDATE ON `chunks` BEGIN
	INSERT INTO `chunks_fts` (`chunks_fts`, rowid, `title`, `heading`, `text`, `collection_id`) VALUES ('delete', old.`seq`, old.`title`, old.`heading`, old.`text`, old.`collection_id`);
	INSERT INTO `chunks_fts` (rowid, `title`, `heading`, `text`, `collection_id`) VALUES (new.`seq`, new.`title`, new.`heading`, new.`text`, new.`collection_id`);
END;
--> statement-breakpoint
CREATE VIRTUAL TABLE `chunks_fts_vocab` USING fts5vocab(`chunks_fts`, 'row');

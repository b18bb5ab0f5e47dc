-- Per-term document counts of the chunk index (read-only view maintained by FTS5 itself). Keyword
-- search uses it to leave out terms so common that scoring them costs more than they tell.
CREATE VIRTUAL TABLE `chunks_fts_vocab` USING fts5vocab(`chunks_fts`, 'row');

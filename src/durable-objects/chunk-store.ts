/**
 * A collection's chunks and their FTS5 index, in its shard's own SQLite storage (the same schema
 * D1 had: an external-content FTS5 table, porter over unicode61, kept in sync by triggers, and an
 * fts5vocab view). bm25 and the common-term pruning read this collection's statistics only, so
 * another collection's or tenant's documents cannot move a score here.
 */
import { ftsQuery, porter } from "../lib/terms";

export interface ShardChunk {
  id: string;
  document_id: string;
  ordinal: number;
  title: string;
  heading: string | null;
  text: string;
  page: number | null;
  token_estimate: number;
  char_start: number;
  char_end: number;
}

type Row = ShardChunk & Record<string, SqlStorageValue>;

export interface ShardHit extends ShardChunk {
  /** Higher is better (bm25 negated). */
  score: number;
}

export interface KeywordOptions {
  terms: string[];
  documentIds?: string[] | undefined;
  limit: number;
  /** Terms in more than this share of the collection's chunks are left out (unless all are). */
  commonTermRatio: number;
  /** Below this many chunks every term is scored. */
  pruneFromChunks: number;
  weights: { title: number; heading: number; text: number };
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS chunks (
     seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, document_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
     title TEXT NOT NULL, heading TEXT, text TEXT NOT NULL, page INTEGER,
     token_estimate INTEGER NOT NULL, char_start INTEGER NOT NULL, char_end INTEGER NOT NULL)`,
  "CREATE INDEX IF NOT EXISTS chunks_document ON chunks (document_id, ordinal)",
  `CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(title, heading, text,
     content='chunks', content_rowid='seq', tokenize='porter unicode61')`,
  `CREATE TRIGGER IF NOT EXISTS chunks_fts_after_insert AFTER INSERT ON chunks BEGIN
     INSERT INTO chunks_fts (rowid, title, heading, text) VALUES (new.seq, new.title, new.heading, new.text);
   END`,
  `CREATE TRIGGER IF NOT EXISTS chunks_fts_after_delete AFTER DELETE ON chunks BEGIN
     INSERT INTO chunks_fts (chunks_fts, rowid, title, heading, text) VALUES ('delete', old.seq, old.title, old.heading, old.text);
   END`,
  "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts_vocab USING fts5vocab(chunks_fts, 'row')",
];

const COLUMNS = "id, document_id, ordinal, title, heading, text, page, token_estimate, char_start, char_end";

export class ChunkStore {
  constructor(private readonly sql: SqlStorage) {
    for (const statement of SCHEMA) {
      sql.exec(statement);
    }
  }

  /** Replaces the chunks of `documentIds` with `rows`; returns the ids that are gone. */
  replace(documentIds: string[], rows: ShardChunk[]): string[] {
    const before = this.idsOf(documentIds);
    this.deleteDocuments(documentIds);
    for (const r of rows) {
      this.sql.exec(
        `INSERT INTO chunks (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        r.id,
        r.document_id,
        r.ordinal,
        r.title,
        r.heading,
        r.text,
        r.page,
        r.token_estimate,
        r.char_start,
        r.char_end,
      );
    }
    const kept = new Set(rows.map((r) => r.id));
    return before.filter((id) => !kept.has(id));
  }

  idsOf(documentIds: string[]): string[] {
    if (documentIds.length === 0) {
      return [];
    }
    return this.sql
      .exec<{ id: string }>(
        "SELECT id FROM chunks WHERE document_id IN (SELECT value FROM json_each(?))",
        JSON.stringify(documentIds),
      )
      .toArray()
      .map((r) => r.id);
  }

  deleteDocuments(documentIds: string[]): void {
    if (documentIds.length > 0) {
      this.sql.exec(
        "DELETE FROM chunks WHERE document_id IN (SELECT value FROM json_each(?))",
        JSON.stringify(documentIds),
      );
    }
  }

  allIds(): string[] {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM chunks")
      .toArray()
      .map((r) => r.id);
  }

  deleteAll(): void {
    this.sql.exec("DELETE FROM chunks");
  }

  get(ids: string[]): ShardChunk[] {
    if (ids.length === 0) {
      return [];
    }
    return this.sql
      .exec<Row>(`SELECT ${COLUMNS} FROM chunks WHERE id IN (SELECT value FROM json_each(?))`, JSON.stringify(ids))
      .toArray() as ShardChunk[];
  }

  ofDocuments(documentIds: string[]): ShardChunk[] {
    return this.sql
      .exec<Row>(
        `SELECT ${COLUMNS} FROM chunks WHERE document_id IN (SELECT value FROM json_each(?)) ORDER BY document_id, ordinal`,
        JSON.stringify(documentIds),
      )
      .toArray() as ShardChunk[];
  }

  /** The documents among `documentIds` this store holds chunks of. */
  documentsAmong(documentIds: string[]): string[] {
    if (documentIds.length === 0) {
      return [];
    }
    return this.sql
      .exec<{ document_id: string }>(
        "SELECT DISTINCT document_id FROM chunks WHERE document_id IN (SELECT value FROM json_each(?))",
        JSON.stringify(documentIds),
      )
      .toArray()
      .map((r) => r.document_id);
  }

  ofDocument(documentId: string): ShardChunk[] {
    return this.sql
      .exec<Row>(`SELECT ${COLUMNS} FROM chunks WHERE document_id = ? ORDER BY ordinal`, documentId)
      .toArray() as ShardChunk[];
  }

  count(): { chunks: number; documents: number } {
    return this.sql
      .exec<{ chunks: number; documents: number }>(
        "SELECT COUNT(*) AS chunks, COUNT(DISTINCT document_id) AS documents FROM chunks",
      )
      .one();
  }

  /**
   * The query terms worth scoring in this collection: a term in more than `ratio` of its chunks
   * adds little to bm25 yet makes FTS5 score most of the index, so it is left out — unless every
   * term is that common (SciFact-tuned; see the README).
   */
  informative(terms: string[], ratio: number, pruneFromChunks: number): string[] {
    if (ratio >= 1 || terms.length < 2) {
      return terms;
    }
    const total = this.count().chunks;
    if (total < pruneFromChunks) {
      return terms;
    }
    const stems = terms.map(porter);
    const df = new Map(
      this.sql
        .exec<{ term: string; doc: number }>(
          "SELECT term, doc FROM chunks_fts_vocab WHERE term IN (SELECT value FROM json_each(?))",
          JSON.stringify(stems),
        )
        .toArray()
        .map((r) => [r.term, r.doc]),
    );
    const kept = terms.filter((_, i) => (df.get(stems[i] ?? "") ?? 0) <= ratio * total);
    return kept.some((term) => (df.get(porter(term)) ?? 0) > 0) ? kept : terms;
  }

  /** bm25 over title, heading and text (weighted), the best `limit`, with this collection's statistics. */
  keyword(options: KeywordOptions): ShardHit[] {
    const terms = this.informative(options.terms, options.commonTermRatio, options.pruneFromChunks);
    const { title, heading, text } = options.weights;
    const match = `{title heading text} : (${ftsQuery(terms)})`;
    const columns = COLUMNS.split(", ")
      .map((c) => `c.${c}`)
      .join(", ");
    const rows =
      options.documentIds && options.documentIds.length > 0
        ? this.sql.exec<Row & { rank: number }>(
            `SELECT ${columns}, bm25(chunks_fts, ?, ?, ?) AS rank
             FROM chunks_fts JOIN chunks c ON c.seq = chunks_fts.rowid
             WHERE chunks_fts MATCH ? AND c.document_id IN (SELECT value FROM json_each(?))
             ORDER BY rank LIMIT ?`,
            title,
            heading,
            text,
            match,
            JSON.stringify(options.documentIds),
            options.limit,
          )
        : this.sql.exec<Row & { rank: number }>(
            `SELECT ${columns}, f.rank AS rank
             FROM (SELECT rowid, bm25(chunks_fts, ?, ?, ?) AS rank FROM chunks_fts WHERE chunks_fts MATCH ?
                   ORDER BY rank LIMIT ?) AS f
             JOIN chunks c ON c.seq = f.rowid ORDER BY f.rank`,
            title,
            heading,
            text,
            match,
            options.limit,
          );
    return rows.toArray().map(({ rank, ...chunk }) => ({ ...(chunk as ShardChunk), score: -rank }));
  }
}

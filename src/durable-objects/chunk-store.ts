/**
 * A collection's chunks and their FTS5 index, in its shard's own SQLite storage: a contentless
 * FTS5 table (porter over unicode61) fed with `indexText` — CJK runs as character bigrams, see
 * lib/terms.ts — written and deleted beside each chunk row, and an fts5vocab view. bm25 and the
 * common-term pruning read this collection's statistics only, so another collection's or tenant's
 * documents cannot move a score here.
 */
import type { TermStats } from "../lib/evidence";
import { compileFilter, type IndexedValue, type MetadataFilter } from "../lib/metadata-filter";
import { ftsQuery, indexText, porter } from "../lib/terms";

export type { TermStats };

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

/** A collection's statistics over its shards: chunk counts and term frequencies add up. */
export function sumStats(parts: TermStats[]): TermStats {
  const df: Record<string, number> = {};
  let chunks = 0;
  for (const part of parts) {
    chunks += part.chunks;
    for (const [term, n] of Object.entries(part.df)) {
      df[term] = (df[term] ?? 0) + n;
    }
  }
  return { chunks, df };
}

export interface KeywordResult {
  hits: ShardHit[];
  stats: TermStats;
}

/** A version of an external id being written (see `replaceVersion`). */
export interface VersionWrite {
  documentId: string;
  externalId: string;
  version: number;
}

export type ExternalEntry = {
  external_id: string;
  document_id: string;
  version: number;
};

/** Documents' filterable metadata values (`indexedFields`), by document id. */
export type DocumentFields = Record<string, IndexedValue[]>;

export interface KeywordOptions {
  terms: string[];
  documentIds?: string[] | undefined;
  /** Only chunks of documents whose metadata matches (evaluated here, before ranking). */
  filter?: MetadataFilter | undefined;
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
  // Documents whose metadata this shard knows (written with their chunks since metadata filters
  // exist; older ones are filled in by the Worker, see `unindexed`), and their filterable values.
  "CREATE TABLE IF NOT EXISTS shard_docs (document_id TEXT PRIMARY KEY) WITHOUT ROWID",
  "CREATE TABLE IF NOT EXISTS doc_fields (document_id TEXT NOT NULL, field TEXT NOT NULL, kind TEXT NOT NULL, value ANY)",
  "CREATE INDEX IF NOT EXISTS doc_fields_value ON doc_fields (field, kind, value, document_id)",
  "CREATE INDEX IF NOT EXISTS doc_fields_document ON doc_fields (document_id)",
  // The current document of each external id (PUT …/documents/external/{id}) in this shard: every
  // version of one external id is homed here (their ids are siblings), so the swap is one write.
  "CREATE TABLE IF NOT EXISTS shard_external (external_id TEXT PRIMARY KEY, document_id TEXT NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID",
  "CREATE INDEX IF NOT EXISTS shard_external_document ON shard_external (document_id)",
];

/**
 * The index holds no copy of the text (`content=''`); rows are deleted by rowid
 * (`contentless_delete`, SQLite ≥ 3.43). It is written from JavaScript because what it indexes
 * (`indexText`) is not the stored text: a trigger could not compute it.
 */
const FTS = [
  `CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(title, heading, text,
     content='', contentless_delete=1, tokenize='porter unicode61')`,
  "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts_vocab USING fts5vocab(chunks_fts, 'row')",
];

/** The first layout: an external-content index kept by triggers, which indexed CJK runs whole. */
const LEGACY_FTS = [
  "DROP TRIGGER IF EXISTS chunks_fts_after_insert",
  "DROP TRIGGER IF EXISTS chunks_fts_after_delete",
  "DROP TABLE IF EXISTS chunks_fts_vocab",
  "DROP TABLE IF EXISTS chunks_fts",
];

/**
 * A filter matching at least this share of a shard's documents is applied to the unfiltered
 * ranking read further (see `keyword`): building its set of chunk rowids in SQL on every query
 * would cost more than reading a few more ranked rows (`bench:search`, 50 % of 50k chunks).
 */
const BROAD_FILTER_SHARE = 0.2;

/** Filters whose matching documents a store remembers (until its next write). */
const MATCHING_SETS = 16;

/** Rows re-indexed per statement batch when the index is rebuilt. */
const REINDEX_BATCH = 500;

const COLUMNS = "id, document_id, ordinal, title, heading, text, page, token_estimate, char_start, char_end";

export class ChunkStore {
  /** Chunks held, while known (every write through this store keeps or drops it). */
  private total: number | undefined;
  /** Documents whose metadata is recorded here, while known (cleared with `matchingSets`). */
  private documents: number | undefined;
  /** True once every document with chunks here is known to have its metadata here too. */
  private fieldsComplete = false;
  /** The documents matching recent filters (a key's mandatory filter repeats on every request); any write clears it. */
  private readonly matchingSets = new Map<string, ReadonlySet<string>>();

  /**
   * Creates the tables; a shard written by an earlier version (trigger-fed index) has its index
   * rebuilt from its chunk rows, in the caller's transaction, before the first request is served.
   */
  constructor(
    private readonly sql: SqlStorage,
    transaction: <T>(work: () => T) => T = (work) => work(),
  ) {
    for (const statement of SCHEMA) {
      sql.exec(statement);
    }
    const legacy = sql
      .exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'")
      .toArray()
      .some((r) => r.sql.includes("content='chunks'"));
    transaction(() => {
      if (legacy) {
        for (const statement of LEGACY_FTS) {
          sql.exec(statement);
        }
      }
      for (const statement of FTS) {
        sql.exec(statement);
      }
      if (legacy) {
        this.reindex();
      }
    });
  }

  /** Writes every chunk row into the (empty) keyword index. */
  private reindex(): void {
    let after = 0;
    for (;;) {
      const rows = this.sql
        .exec<{ seq: number; title: string; heading: string | null; text: string }>(
          "SELECT seq, title, heading, text FROM chunks WHERE seq > ? ORDER BY seq LIMIT ?",
          after,
          REINDEX_BATCH,
        )
        .toArray();
      for (const r of rows) {
        this.index(r.seq, r);
      }
      const last = rows.at(-1);
      if (!last || rows.length < REINDEX_BATCH) {
        return;
      }
      after = last.seq;
    }
  }

  private index(seq: number, row: { title: string; heading: string | null; text: string }): void {
    this.sql.exec(
      "INSERT INTO chunks_fts (rowid, title, heading, text) VALUES (?, ?, ?, ?)",
      seq,
      indexText(row.title),
      row.heading === null ? null : indexText(row.heading),
      indexText(row.text),
    );
  }

  /**
   * Replaces the chunks of `documentIds` with `rows`, and their filterable metadata with
   * `fields` (documents `fields` does not name are left for `unindexed` to report); returns the
   * chunk ids that are gone.
   */
  replace(documentIds: string[], rows: ShardChunk[], fields?: DocumentFields): string[] {
    this.forgetSets();
    const before = this.idsOf(documentIds);
    this.deleteDocuments(documentIds);
    if (fields) {
      this.setFields(fields);
    }
    if (!fields || documentIds.some((id) => !(id in fields))) {
      this.fieldsComplete = false;
    }
    for (const r of rows) {
      const { seq } = this.sql
        .exec<{ seq: number }>(
          `INSERT INTO chunks (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
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
        )
        .one();
      this.index(seq, r);
    }
    this.total = undefined;
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
      this.forgetSets();
      const ids = JSON.stringify(documentIds);
      this.sql.exec("DELETE FROM doc_fields WHERE document_id IN (SELECT value FROM json_each(?))", ids);
      this.sql.exec("DELETE FROM shard_docs WHERE document_id IN (SELECT value FROM json_each(?))", ids);
      this.sql.exec("DELETE FROM shard_external WHERE document_id IN (SELECT value FROM json_each(?))", ids);
      this.sql.exec(
        "DELETE FROM chunks_fts WHERE rowid IN (SELECT seq FROM chunks WHERE document_id IN (SELECT value FROM json_each(?)))",
        ids,
      );
      this.sql.exec("DELETE FROM chunks WHERE document_id IN (SELECT value FROM json_each(?))", ids);
      this.total = undefined;
    }
  }

  allIds(): string[] {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM chunks")
      .toArray()
      .map((r) => r.id);
  }

  deleteAll(): void {
    this.forgetSets();
    this.sql.exec("DELETE FROM shard_external");
    this.sql.exec("DELETE FROM doc_fields");
    this.sql.exec("DELETE FROM shard_docs");
    this.sql.exec("DELETE FROM chunks_fts");
    this.sql.exec("DELETE FROM chunks");
    this.total = undefined;
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

  /**
   * Writes `version` of an external id in one step: its chunks replace those of the version this
   * shard holds (whatever its document id), unless this shard already holds a later version
   * (`stale`: a later PUT won). Returns the chunk ids that are gone. The caller's transaction.
   */
  replaceVersion(
    version: VersionWrite,
    rows: ShardChunk[],
    fields: DocumentFields,
  ): { gone: string[]; replaced: string | null } | { stale: true } {
    const current = this.sql
      .exec<{ document_id: string; version: number }>(
        "SELECT document_id, version FROM shard_external WHERE external_id = ?",
        version.externalId,
      )
      .toArray()[0];
    if (current && current.version > version.version) {
      return { stale: true };
    }
    const replaced = current && current.document_id !== version.documentId ? current.document_id : null;
    const gone = this.replace(replaced ? [version.documentId, replaced] : [version.documentId], rows, fields);
    this.sql.exec(
      "INSERT OR REPLACE INTO shard_external (external_id, document_id, version) VALUES (?, ?, ?)",
      version.externalId,
      version.documentId,
      version.version,
    );
    return { gone, replaced };
  }

  /** The external ids of documents, as recorded here (a split moves them with the documents). */
  externalsOf(documentIds: string[]): ExternalEntry[] {
    return this.sql
      .exec<ExternalEntry>(
        "SELECT external_id, document_id, version FROM shard_external WHERE document_id IN (SELECT value FROM json_each(?))",
        JSON.stringify(documentIds),
      )
      .toArray()
      .map((r) => ({ ...r }));
  }

  /** Records external ids a split moved here (unless a later version is already here). */
  importExternals(entries: ExternalEntry[]): void {
    for (const e of entries) {
      this.sql.exec(
        `INSERT INTO shard_external (external_id, document_id, version) VALUES (?, ?, ?)
         ON CONFLICT (external_id) DO UPDATE SET document_id = excluded.document_id, version = excluded.version
         WHERE excluded.version > shard_external.version`,
        e.external_id,
        e.document_id,
        e.version,
      );
    }
  }

  /** Records documents' filterable metadata (replacing what was known of them). */
  setFields(fields: DocumentFields): void {
    this.forgetSets();
    const ids = JSON.stringify(Object.keys(fields));
    this.sql.exec("DELETE FROM doc_fields WHERE document_id IN (SELECT value FROM json_each(?))", ids);
    this.sql.exec("INSERT OR IGNORE INTO shard_docs (document_id) SELECT value FROM json_each(?)", ids);
    for (const [documentId, values] of Object.entries(fields)) {
      for (const v of values) {
        this.sql.exec(
          "INSERT INTO doc_fields (document_id, field, kind, value) VALUES (?, ?, ?, ?)",
          documentId,
          v.field,
          v.kind,
          v.value,
        );
      }
    }
  }

  /** Documents' filterable metadata as recorded here (a split moves it with them). */
  fieldsOf(documentIds: string[]): DocumentFields {
    const out: DocumentFields = {};
    const ids = JSON.stringify(documentIds);
    for (const { document_id } of this.sql.exec<{ document_id: string }>(
      "SELECT document_id FROM shard_docs WHERE document_id IN (SELECT value FROM json_each(?))",
      ids,
    )) {
      out[document_id] = [];
    }
    for (const r of this.sql.exec<{
      document_id: string;
      field: string;
      kind: IndexedValue["kind"];
      value: string | number;
    }>(
      "SELECT document_id, field, kind, value FROM doc_fields WHERE document_id IN (SELECT value FROM json_each(?))",
      ids,
    )) {
      out[r.document_id]?.push({ field: r.field, kind: r.kind, value: r.value });
    }
    return out;
  }

  /**
   * Up to `limit` documents with chunks here whose metadata is not (written before metadata
   * filters existed): the Worker reads theirs from D1 and records it before it filters here.
   */
  unindexed(limit: number): string[] {
    if (this.fieldsComplete) {
      return [];
    }
    const ids = this.sql
      .exec<{ document_id: string }>(
        `SELECT DISTINCT document_id FROM chunks
         WHERE document_id NOT IN (SELECT document_id FROM shard_docs) LIMIT ?`,
        limit,
      )
      .toArray()
      .map((r) => r.document_id);
    this.fieldsComplete = ids.length === 0;
    return ids;
  }

  /** The documents (with chunks here) whose metadata matches, at most `limit` (and whether there are more). */
  matching(filter: MetadataFilter, limit: number): { ids: string[]; more: boolean } {
    const { sql, params } = compileFilter(filter);
    const ids = this.sql
      .exec<{ document_id: string }>(
        `SELECT document_id FROM (${sql}) WHERE document_id IN (SELECT document_id FROM chunks) LIMIT ?2`,
        params,
        limit + 1,
      )
      .toArray()
      .map((r) => r.document_id);
    return { ids: ids.slice(0, limit), more: ids.length > limit };
  }

  /** Any write: what was remembered about documents and filters may be wrong now. */
  private forgetSets(): void {
    this.matchingSets.clear();
    this.documents = undefined;
  }

  private documentTotal(): number {
    this.documents ??= this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM shard_docs").one().n;
    return this.documents;
  }

  /** Every document (with chunks here) whose metadata matches, remembered until the next write. */
  matchingSet(filter: MetadataFilter): ReadonlySet<string> {
    const key = JSON.stringify(filter);
    let set = this.matchingSets.get(key);
    if (!set) {
      set = new Set(this.matching(filter, Number.MAX_SAFE_INTEGER).ids);
      if (this.matchingSets.size >= MATCHING_SETS) {
        this.matchingSets.delete(this.matchingSets.keys().next().value as string);
      }
      this.matchingSets.set(key, set);
    }
    return set;
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
   * term is that common (SciFact-tuned; see docs/benchmarks.md).
   */
  private chunkTotal(): number {
    this.total ??= this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM chunks").one().n;
    return this.total;
  }

  /** The collection's chunk count and how many of its chunks hold each term (its stem, as FTS5 indexed it). */
  termStats(terms: string[]): TermStats {
    const stems = terms.map(porter);
    const byStem = new Map(
      this.sql
        .exec<{ term: string; doc: number }>(
          "SELECT term, doc FROM chunks_fts_vocab WHERE term IN (SELECT value FROM json_each(?))",
          JSON.stringify(stems),
        )
        .toArray()
        .map((r) => [r.term, r.doc]),
    );
    return {
      chunks: this.chunkTotal(),
      df: Object.fromEntries(terms.map((term, i) => [term, byStem.get(stems[i] ?? "") ?? 0])),
    };
  }

  informative(
    terms: string[],
    ratio: number,
    pruneFromChunks: number,
    stats: TermStats = this.termStats(terms),
  ): string[] {
    if (ratio >= 1 || terms.length < 2 || stats.chunks < pruneFromChunks) {
      return terms;
    }
    const kept = terms.filter((term) => (stats.df[term] ?? 0) <= ratio * stats.chunks);
    return kept.some((term) => (stats.df[term] ?? 0) > 0) ? kept : terms;
  }

  /**
   * bm25 over title, heading and text (weighted), the best `limit`, with this collection's
   * statistics; and those statistics for the query's terms (the answer's evidence weights).
   */
  keyword(options: KeywordOptions): KeywordResult {
    const stats = this.termStats(options.terms);
    const terms = this.informative(options.terms, options.commonTermRatio, options.pruneFromChunks, stats);
    const { title, heading, text } = options.weights;
    const match = `{title heading text} : (${ftsQuery(terms)})`;
    const columns = COLUMNS.split(", ")
      .map((c) => `c.${c}`)
      .join(", ");
    const only = options.documentIds && options.documentIds.length > 0 ? options.documentIds : undefined;
    const ranked = (allowed: string[], limit: number, params: Array<string | null>) =>
      this.sql
        .exec<Row & { rank: number }>(
          `SELECT ${columns}, f.rank AS rank
           FROM (SELECT rowid, bm25(chunks_fts, ?2, ?3, ?4) AS rank FROM chunks_fts WHERE chunks_fts MATCH ?5
                 ${allowed.length > 0 ? `AND +rowid IN (SELECT seq FROM chunks WHERE ${allowed.join(" AND ")})` : ""}
                 ORDER BY rank LIMIT ?6) AS f
           JOIN chunks c ON c.seq = f.rowid ORDER BY f.rank`,
          params[0] ?? null,
          title,
          heading,
          text,
          match,
          limit,
          ...params.slice(1),
        )
        .toArray()
        .map(({ rank, ...chunk }) => ({ ...(chunk as ShardChunk), score: -rank }));
    if (options.filter && !only) {
      // A broad filter: the unfiltered ranking read a little further, then the matching documents
      // kept, from the filter's set this store remembers. Exact, not a post-filter: the best
      // `limit` matching chunks are the first `limit` matching ones of the full ranking, so when
      // that many are among the rows read — or every match was read — they are the answer.
      const matching = this.matchingSet(options.filter);
      const share = matching.size / Math.max(1, this.documentTotal());
      if (share >= BROAD_FILTER_SHARE) {
        const read = Math.ceil((2 * options.limit) / share) + 10;
        const rows = ranked([], read, []);
        const kept = rows.filter((hit) => matching.has(hit.document_id)).slice(0, options.limit);
        if (kept.length === options.limit || rows.length < read) {
          return { hits: kept, stats };
        }
      }
    }
    // Otherwise the filter narrows the documents before ranking: the allowed chunks' rowids are one
    // set, built once per statement, that FTS5's matches are checked against (`+rowid`: a check,
    // not a lookup per rowid) before bm25 sorts them; only the best `limit` are joined to their
    // rows. Numbered parameters: the filter's values are ?1.
    const filter = options.filter ? compileFilter(options.filter) : undefined;
    const allowed = [
      only ? "document_id IN (SELECT value FROM json_each(?7))" : "",
      filter ? `document_id IN (${filter.sql})` : "",
    ].filter(Boolean);
    const hits = ranked(allowed, options.limit, [filter?.params ?? null, ...(only ? [JSON.stringify(only)] : [])]);
    return { hits, stats };
  }
}

import { DurableObject } from "cloudflare:workers";
import type { VectorMatch, VectorRecord, VectorStats } from "../adapters/vector/interface";
import { getConfig } from "../config";
import type { MetadataFilter } from "../lib/metadata-filter";
import {
  ChunkStore,
  type DocumentFields,
  type ExternalEntry,
  type KeywordOptions,
  type KeywordResult,
  type ShardChunk,
  type VersionWrite,
} from "./chunk-store";
import {
  byHome,
  FIRST_VIEW,
  homeOf,
  homingCount,
  owns,
  type ShardAnswer,
  type ShardView,
  shardName,
} from "./shard-layout";
import { type MovedVector, type VectorRefusal, VectorStore } from "./vector-store";

export type { MovedVector } from "./vector-store";

/**
 * An expected refusal, returned rather than thrown: an error's class does not survive the RPC
 * boundary, and callers must not have to match message text to tell it apart. `moved`: a write
 * named documents that live in another shard now (a split ran); `view` says where.
 */
export type ShardRefusal = VectorRefusal | { refused: "moved"; message: string; view: ShardView };

/** Documents a split is moving, with their chunks and (with the Durable Object index) vectors. */
export interface MovingDocuments {
  documentIds: string[];
  chunks: ShardChunk[];
  vectors: MovedVector[];
  fields: DocumentFields;
  externals: ExternalEntry[];
}

/** A failed split step is tried again this much later (the split resumes where it stopped). */
const SPLIT_RETRY_MS = 30_000;

/**
 * One search shard of a tenant+collection: its chunks with their FTS5 index (chunk-store.ts: the
 * source of truth for search; D1 keeps documents' metadata), and its vectors when the vector index
 * is the Durable Object one (vector-store.ts: rows in SQLite storage and an in-memory matrix).
 *
 * A collection that outgrows one shard splits (shard-layout.ts): shard 0 runs the split in its
 * alarm, moving documents to their new shards in steps that are each safe to repeat; every answer
 * carries the shard's view of the layout so readers and writers find the rest
 * (adapters/shards/router.ts), and a write of a document that lives elsewhere now is refused
 * (`moved`), so no document is ever written to a shard it has left.
 */
export class VectorShard extends DurableObject<Env> {
  private readonly chunks: ChunkStore;
  private readonly vectors: VectorStore;
  private readonly moveChunks: number;
  private current: ShardView;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // The Worker's own parse (cached per isolate): a bad value is one of its config problems, and
    // the schema's default applies here as it does there.
    const config = getConfig(env);
    this.moveChunks = config.shardMoveChunks;
    this.vectors = new VectorStore(ctx.storage.sql, config.vectorShardMaxBytes);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS shard_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    this.chunks = new ChunkStore(ctx.storage.sql, (work) => ctx.storage.transactionSync(work));
    this.current = this.meta<ShardView>("view") ?? FIRST_VIEW;
  }

  private meta<T>(key: string): T | undefined {
    const row = this.ctx.storage.sql
      .exec<{ value: string }>("SELECT value FROM shard_meta WHERE key = ?", key)
      .toArray()[0];
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  private setMeta(key: string, value: unknown): void {
    this.ctx.storage.sql.exec(
      "INSERT INTO shard_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      JSON.stringify(value),
    );
  }

  private answer<T>(value: T): ShardAnswer<T> {
    return { view: this.current, value };
  }

  /** `moved` when any of the documents lives in another shard now. */
  private fence(documentIds: Iterable<string>): ShardRefusal | undefined {
    for (const id of documentIds) {
      if (!owns(this.current, id)) {
        return {
          refused: "moved",
          message: `document ${id} lives in shard ${homeOf(id, homingCount(this.current))} now`,
          view: this.current,
        };
      }
    }
    return undefined;
  }

  /** This shard's view of the collection's layout. */
  view(): ShardView {
    return this.current;
  }

  /**
   * Replaces the chunks of `documentIds` (one transaction); returns the chunk ids that are gone
   * and how many chunks the shard holds now.
   */
  writeChunks(
    documentIds: string[],
    rows: ShardChunk[],
    fields?: DocumentFields,
  ): ShardAnswer<{ gone: string[]; chunks: number }> | ShardRefusal {
    const refusal = this.fence([...documentIds, ...rows.map((r) => r.document_id)]);
    if (refusal) {
      return refusal;
    }
    return this.ctx.storage.transactionSync(() => {
      const gone = this.chunks.replace(documentIds, rows, fields);
      return this.answer({ gone, chunks: this.chunks.count().chunks });
    });
  }

  /** Removes documents' chunks; returns their ids (for a vector index elsewhere). */
  removeDocuments(documentIds: string[]): ShardAnswer<string[]> {
    return this.ctx.storage.transactionSync(() => {
      const ids = this.chunks.idsOf(documentIds);
      this.chunks.deleteDocuments(documentIds);
      return this.answer(ids);
    });
  }

  keyword(options: KeywordOptions): ShardAnswer<KeywordResult> {
    return this.answer(this.chunks.keyword(options));
  }

  /**
   * Writes a version of an external id, replacing the version this shard holds in one transaction
   * (searches see the old chunks or the new, never both or neither); `stale` when a later version
   * is already here.
   */
  writeVersion(
    version: VersionWrite,
    rows: ShardChunk[],
    fields: DocumentFields,
  ): ShardAnswer<{ gone: string[]; replaced: string | null; chunks: number } | { stale: true }> | ShardRefusal {
    const refusal = this.fence([version.documentId]);
    if (refusal) {
      return refusal;
    }
    return this.ctx.storage.transactionSync(() => {
      const result = this.chunks.replaceVersion(version, rows, fields);
      return this.answer("stale" in result ? result : { ...result, chunks: this.chunks.count().chunks });
    });
  }

  /** Records the filterable metadata of those of the documents whose chunks are here. */
  setFields(fields: DocumentFields): ShardAnswer<null> {
    this.ctx.storage.transactionSync(() => {
      const here = this.chunks.documentsAmong(Object.keys(fields));
      this.chunks.setFields(Object.fromEntries(here.map((id) => [id, fields[id] ?? []])));
    });
    return this.answer(null);
  }

  /** Up to `limit` documents here whose metadata is not recorded yet. */
  unindexed(limit: number): ShardAnswer<string[]> {
    return this.answer(this.chunks.unindexed(limit));
  }

  /** The documents here whose metadata matches, at most `limit`. */
  matching(filter: MetadataFilter, limit: number): ShardAnswer<{ ids: string[]; more: boolean }> {
    return this.answer(this.chunks.matching(filter, limit));
  }

  getChunks(ids: string[]): ShardAnswer<ShardChunk[]> {
    return this.answer(this.chunks.get(ids));
  }

  documentChunks(documentId: string): ShardAnswer<ShardChunk[]> {
    return this.answer(this.chunks.ofDocument(documentId));
  }

  chunkIds(): ShardAnswer<string[]> {
    return this.answer(this.chunks.allIds());
  }

  chunkStats(): ShardAnswer<{ chunks: number; documents: number }> {
    return this.answer(this.chunks.count());
  }

  /** Removes every chunk (its collection was deleted); the vectors go with `drop`. */
  dropChunks(): ShardAnswer<null> {
    this.chunks.deleteAll();
    return this.answer(null);
  }

  upsert(records: VectorRecord[]): ShardAnswer<null> | ShardRefusal {
    const moved = this.fence(records.map((r) => r.documentId));
    if (moved) {
      return moved;
    }
    return this.ctx.storage.transactionSync(() => this.vectors.upsert(records)) ?? this.answer(null);
  }

  delete(ids: string[]): ShardAnswer<null> {
    this.ctx.storage.transactionSync(() => this.vectors.delete(ids));
    return this.answer(null);
  }

  query(
    vector: Float32Array,
    topK: number,
    documentIds?: string[],
    filter?: MetadataFilter,
  ): ShardAnswer<VectorMatch[]> | ShardRefusal {
    let allowed: ReadonlySet<string> | undefined = documentIds ? new Set(documentIds) : undefined;
    if (filter) {
      // Every matching document of this shard: the vectors are scored among them only.
      const matching = this.chunks.matchingSet(filter);
      allowed = allowed ? new Set([...allowed].filter((id) => matching.has(id))) : matching;
    }
    const matches = this.vectors.query(vector, topK, allowed);
    return Array.isArray(matches) ? this.answer(matches) : matches;
  }

  vectorStats(): ShardAnswer<VectorStats & { vectors: number }> {
    return this.answer(this.vectors.stats());
  }

  /** Wipes the shard's vectors (its collection was deleted). */
  drop(): ShardAnswer<null> {
    this.vectors.drop();
    return this.answer(null);
  }

  // ---- Splitting -------------------------------------------------------------------------

  /**
   * Asks shard 0 to double the collection's shards, because a shard of the layout the caller saw
   * (`seenCount` shards) holds too much. Nothing happens if the layout has moved on since, or
   * `maxCount` shards exist; a split already running has its alarm checked. Returns the view.
   */
  async requestSplit(ns: string, seenCount: number, maxCount: number): Promise<ShardView> {
    if (this.current.index !== 0) {
      throw new Error("only a collection's shard 0 runs its splits");
    }
    if (this.current.splitTo === null && this.current.count === seenCount && seenCount * 2 <= maxCount) {
      this.current = { ...this.current, splitTo: seenCount * 2 };
      this.ctx.storage.transactionSync(() => {
        this.setMeta("ns", ns);
        this.setMeta("view", this.current);
      });
    }
    if (this.current.splitTo !== null && (await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Date.now());
    }
    return this.current;
  }

  /** Runs (or resumes) the split shard 0 recorded; after a failure, again in SPLIT_RETRY_MS. */
  override async alarm(): Promise<void> {
    try {
      await this.split();
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "shard split failed; will resume", error: String(error) }));
      await this.ctx.storage.setAlarm(Date.now() + SPLIT_RETRY_MS);
    }
  }

  /**
   * Doubles the collection's shards: the new ones learn their place, the old ones learn that
   * documents leave them, then each old shard's leaving documents move in steps (copied, checked,
   * then deleted: a repeated step changes nothing), and last every shard learns the new count.
   */
  private async split(): Promise<void> {
    const ns = this.meta<string>("ns");
    const { count, splitTo } = this.current;
    if (this.current.index !== 0 || splitTo === null || ns === undefined) {
      return;
    }
    const shard = (index: number) =>
      index === 0 ? this : this.env.VECTOR_SHARD.get(this.env.VECTOR_SHARD.idFromName(shardName(ns, index)));
    // The new shards learn their place (until then they take any write, and writers send them
    // only documents homed there); then the old shards learn that documents leave them: from then
    // on they refuse writes of documents homed elsewhere, so what they hold can only shrink.
    for (let index = count; index < splitTo; index++) {
      await shard(index).setView({ index, count, splitTo });
    }
    for (let index = 1; index < count; index++) {
      await shard(index).setView({ index, count, splitTo });
    }
    for (let index = 0; index < count; index++) {
      const source = shard(index);
      for (;;) {
        const batch = await source.exportMoving(this.moveChunks);
        if (batch.documentIds.length === 0) {
          break;
        }
        for (const [target, documentIds] of byHome(batch.documentIds, splitTo)) {
          const wanted = new Set(documentIds);
          const imported = await shard(target).importDocuments(
            documentIds,
            batch.chunks.filter((c) => wanted.has(c.document_id)),
            batch.vectors.filter((v) => wanted.has(v.document_id)),
            Object.fromEntries(Object.entries(batch.fields).filter(([id]) => wanted.has(id))),
            batch.externals.filter((e) => wanted.has(e.document_id)),
          );
          // A document deleted while it was in flight is gone from its old shard: undo its copy.
          const kept = new Set(await source.hasDocuments(imported));
          const vanished = imported.filter((id) => !kept.has(id));
          if (vanished.length > 0) {
            await shard(target).removeMoved(vanished);
          }
        }
        await source.removeMoved(batch.documentIds);
      }
    }
    for (let index = splitTo - 1; index >= 0; index--) {
      await shard(index).setView({ index, count: splitTo, splitTo: null });
    }
  }

  /** Records this shard's place in the layout (from shard 0's split). */
  setView(view: ShardView): void {
    this.current = view;
    this.setMeta("view", view);
  }

  /** Up to about `maxChunks` chunks of whole documents that live in another shard now. */
  exportMoving(maxChunks: number): MovingDocuments {
    const documentIds: string[] = [];
    let chunks = 0;
    for (const row of this.ctx.storage.sql.exec<{ document_id: string; n: number }>(
      "SELECT document_id, COUNT(*) AS n FROM chunks GROUP BY document_id",
    )) {
      if (!owns(this.current, row.document_id)) {
        documentIds.push(row.document_id);
        chunks += row.n;
        if (chunks >= maxChunks) {
          break;
        }
      }
    }
    if (documentIds.length === 0) {
      return { documentIds, chunks: [], vectors: [], fields: {}, externals: [] };
    }
    return {
      documentIds,
      chunks: this.chunks.ofDocuments(documentIds),
      vectors: this.vectors.ofDocuments(documentIds),
      fields: this.chunks.fieldsOf(documentIds),
      externals: this.chunks.externalsOf(documentIds),
    };
  }

  /** Documents' vectors as stored (the split moves them; a benchmark copies them). */
  vectorsOf(documentIds: string[]): MovedVector[] {
    return this.vectors.ofDocuments(documentIds);
  }

  /**
   * Writes documents a split moves here, except those this shard already holds (written here
   * since the split began, so newer); returns the ids it wrote.
   */
  importDocuments(
    documentIds: string[],
    chunks: ShardChunk[],
    vectors: MovedVector[],
    fields: DocumentFields = {},
    externals: ExternalEntry[] = [],
  ): string[] {
    return this.ctx.storage.transactionSync(() => {
      const present = new Set(this.chunks.documentsAmong(documentIds));
      const fresh = documentIds.filter((id) => !present.has(id));
      const wanted = new Set(fresh);
      this.chunks.replace(
        fresh,
        chunks.filter((c) => wanted.has(c.document_id)),
        Object.fromEntries(Object.entries(fields).filter(([id]) => wanted.has(id))),
      );
      this.vectors.import(vectors, wanted);
      this.chunks.importExternals(externals.filter((e) => wanted.has(e.document_id)));
      return fresh;
    });
  }

  /** Which of the documents this shard holds chunks of. */
  hasDocuments(documentIds: string[]): string[] {
    return this.chunks.documentsAmong(documentIds);
  }

  /** Removes documents' chunks and vectors (moved away, or deleted while moving). */
  removeMoved(documentIds: string[]): void {
    this.ctx.storage.transactionSync(() => {
      this.chunks.deleteDocuments(documentIds);
      this.vectors.deleteDocuments(documentIds);
    });
  }
}

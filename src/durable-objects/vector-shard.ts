import { DurableObject } from "cloudflare:workers";
import type { VectorMatch, VectorRecord, VectorStats } from "../adapters/vector/interface";
import { ChunkStore, type KeywordOptions, type ShardChunk, type ShardHit } from "./chunk-store";

/**
 * Bytes of vectors one shard holds at most by default: 50,000 × 384 float32 ≈ 77 MB of the 128 MB
 * a Durable Object may use. VECTOR_SHARD_MAX_BYTES lowers (or raises) it.
 */
export const DEFAULT_SHARD_BYTES = 50_000 * 384 * 4;

/**
 * An expected refusal, returned rather than thrown: an error's class does not survive the RPC
 * boundary, and callers must not have to match message text to tell it apart.
 */
export interface ShardRefusal {
  refused: "full" | "dimensions";
  message: string;
}

/**
 * One tenant+collection's search shard: its chunks with their FTS5 index (chunk-store.ts: the
 * source of truth for search; D1 keeps documents' metadata), and its vectors when the vector index
 * is the Durable Object one — rows in SQLite storage and, once per activation, a single in-memory
 * Float32 matrix for exact top-k by dot product. Writes go to storage first and drop the matrix,
 * which is rebuilt on the next query; state never lives only in memory.
 */
export class VectorShard extends DurableObject<Env> {
  private readonly chunks: ChunkStore;
  private matrix: Float32Array | undefined;
  private ids: string[] = [];
  private documentIds: string[] = [];
  private dimensions: number | null = null;
  private readonly maxBytes: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const configured = Number(env.VECTOR_SHARD_MAX_BYTES);
    this.maxBytes = Number.isFinite(configured) && configured > 0 ? configured : DEFAULT_SHARD_BYTES;
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS vectors (id TEXT PRIMARY KEY, document_id TEXT NOT NULL, vector BLOB NOT NULL)",
    );
    this.chunks = new ChunkStore(ctx.storage.sql);
  }

  /** Replaces the chunks of `documentIds` (one transaction); returns the chunk ids that are gone. */
  writeChunks(documentIds: string[], rows: ShardChunk[]): string[] {
    return this.ctx.storage.transactionSync(() => this.chunks.replace(documentIds, rows));
  }

  /** Removes documents' chunks; returns their ids (for a vector index elsewhere). */
  removeDocuments(documentIds: string[]): string[] {
    return this.ctx.storage.transactionSync(() => {
      const ids = this.chunks.idsOf(documentIds);
      this.chunks.deleteDocuments(documentIds);
      return ids;
    });
  }

  keyword(options: KeywordOptions): ShardHit[] {
    return this.chunks.keyword(options);
  }

  getChunks(ids: string[]): ShardChunk[] {
    return this.chunks.get(ids);
  }

  documentChunks(documentId: string): ShardChunk[] {
    return this.chunks.ofDocument(documentId);
  }

  chunkIds(): string[] {
    return this.chunks.allIds();
  }

  chunkStats(): { chunks: number; documents: number } {
    return this.chunks.count();
  }

  /** Removes every chunk (its collection was deleted); the vectors go with `drop`. */
  dropChunks(): void {
    this.chunks.deleteAll();
  }

  upsert(records: VectorRecord[]): ShardRefusal | undefined {
    const first = records[0];
    if (!first) {
      return undefined;
    }
    const stats = this.stats();
    const dims = stats.dimensions ?? first.vector.length;
    if (records.some((r) => r.vector.length !== dims)) {
      return { refused: "dimensions", message: `every vector in this index has ${dims} dimensions` };
    }
    if ((stats.vectors + records.length) * dims * 4 > this.maxBytes) {
      return {
        refused: "full",
        message: `this collection's vector index is full (${stats.vectors} vectors of ${dims} dimensions; limit ${Math.floor(this.maxBytes / (dims * 4))})`,
      };
    }
    this.ctx.storage.transactionSync(() => {
      for (const record of records) {
        this.ctx.storage.sql.exec(
          "INSERT OR REPLACE INTO vectors (id, document_id, vector) VALUES (?, ?, ?)",
          record.id,
          record.documentId,
          new Uint8Array(record.vector.buffer, record.vector.byteOffset, record.vector.byteLength),
        );
      }
    });
    this.matrix = undefined;
    return undefined;
  }

  delete(ids: string[]): void {
    this.ctx.storage.transactionSync(() => {
      for (const id of ids) {
        this.ctx.storage.sql.exec("DELETE FROM vectors WHERE id = ?", id);
      }
    });
    this.matrix = undefined;
  }

  query(vector: Float32Array, topK: number, documentIds?: string[]): VectorMatch[] | ShardRefusal {
    const matrix = this.load();
    const dims = this.dimensions;
    if (!matrix || dims === null || this.ids.length === 0) {
      return [];
    }
    if (vector.length !== dims) {
      return { refused: "dimensions", message: `the query has ${vector.length} dimensions; this index has ${dims}` };
    }
    const allowed = documentIds ? new Set(documentIds) : undefined;
    // Keep the best k in a small sorted array: k is at most a few hundred.
    const best: VectorMatch[] = [];
    for (let row = 0; row < this.ids.length; row++) {
      const documentId = this.documentIds[row] ?? "";
      if (allowed && !allowed.has(documentId)) {
        continue;
      }
      let score = 0;
      const base = row * dims;
      for (let i = 0; i < dims; i++) {
        score += (matrix[base + i] ?? 0) * (vector[i] ?? 0);
      }
      if (best.length < topK || score > (best.at(-1)?.score ?? Number.NEGATIVE_INFINITY)) {
        let at = best.length;
        while (at > 0 && (best[at - 1]?.score ?? 0) < score) {
          at--;
        }
        best.splice(at, 0, { id: this.ids[row] ?? "", documentId, score });
        if (best.length > topK) {
          best.pop();
        }
      }
    }
    return best;
  }

  stats(): VectorStats & { vectors: number } {
    const row = this.ctx.storage.sql
      .exec<{ n: number; bytes: number | null }>("SELECT COUNT(*) AS n, MAX(LENGTH(vector)) AS bytes FROM vectors")
      .one();
    return { vectors: row.n, dimensions: row.bytes === null ? null : row.bytes / 4 };
  }

  /** Wipes the shard (its collection was deleted). */
  async drop(): Promise<void> {
    this.matrix = undefined;
    this.ids = [];
    this.documentIds = [];
    this.ctx.storage.sql.exec("DELETE FROM vectors");
  }

  private load(): Float32Array | undefined {
    if (this.matrix) {
      return this.matrix;
    }
    const { vectors, dimensions } = this.stats();
    this.dimensions = dimensions;
    if (dimensions === null) {
      return undefined;
    }
    const matrix = new Float32Array(vectors * dimensions);
    this.ids = [];
    this.documentIds = [];
    let row = 0;
    for (const r of this.ctx.storage.sql.exec<{ id: string; document_id: string; vector: ArrayBuffer }>(
      "SELECT id, document_id, vector FROM vectors",
    )) {
      matrix.set(new Float32Array(r.vector), row * dimensions);
      this.ids.push(r.id);
      this.documentIds.push(r.document_id);
      row++;
    }
    this.matrix = matrix;
    return matrix;
  }
}

import type { VectorMatch, VectorRecord, VectorStats } from "../adapters/vector/interface";

/** A vector as a split moves it between shards. */
export interface MovedVector {
  id: string;
  document_id: string;
  vector: ArrayBuffer;
}

/** Why vectors were not written: their dimensions differ from the index's, or it is full. */
export type VectorRefusal = { refused: "full" | "dimensions"; message: string };

/**
 * A search shard's vectors (with the Durable Object vector index): rows in the object's SQLite
 * storage and, once per activation, one in-memory Float32 matrix for exact top-k by dot product.
 * Writes go to storage and drop the matrix, which the next query rebuilds; state never lives only
 * in memory. The caller runs writes in its transaction.
 */
export class VectorStore {
  private matrix: Float32Array | undefined;
  private ids: string[] = [];
  private documentIds: string[] = [];
  private dimensions: number | null = null;

  constructor(
    private readonly sql: SqlStorage,
    /** Bytes of vectors held at most (VECTOR_SHARD_MAX_BYTES). */
    private readonly maxBytes: number,
  ) {
    sql.exec(
      "CREATE TABLE IF NOT EXISTS vectors (id TEXT PRIMARY KEY, document_id TEXT NOT NULL, vector BLOB NOT NULL)",
    );
    sql.exec("CREATE INDEX IF NOT EXISTS vectors_document ON vectors (document_id)");
  }

  /** Writes the records, unless their dimensions differ from the index's or it would overflow. */
  upsert(records: VectorRecord[]): VectorRefusal | undefined {
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
    for (const record of records) {
      this.write(
        record.id,
        record.documentId,
        new Uint8Array(record.vector.buffer, record.vector.byteOffset, record.vector.byteLength),
      );
    }
    return undefined;
  }

  /** Writes vectors a split moved here, of the `wanted` documents only. */
  import(vectors: MovedVector[], wanted: Set<string>): void {
    for (const v of vectors) {
      if (wanted.has(v.document_id)) {
        this.write(v.id, v.document_id, v.vector);
      }
    }
  }

  private write(id: string, documentId: string, vector: ArrayBuffer | Uint8Array): void {
    this.sql.exec("INSERT OR REPLACE INTO vectors (id, document_id, vector) VALUES (?, ?, ?)", id, documentId, vector);
    this.matrix = undefined;
  }

  delete(ids: string[]): void {
    for (const id of ids) {
      this.sql.exec("DELETE FROM vectors WHERE id = ?", id);
    }
    this.matrix = undefined;
  }

  deleteDocuments(documentIds: string[]): void {
    this.sql.exec(
      "DELETE FROM vectors WHERE document_id IN (SELECT value FROM json_each(?))",
      JSON.stringify(documentIds),
    );
    this.matrix = undefined;
  }

  /** Every vector (its collection was deleted). */
  drop(): void {
    this.matrix = undefined;
    this.ids = [];
    this.documentIds = [];
    this.sql.exec("DELETE FROM vectors");
  }

  /** Documents' vectors as stored (the split moves them; a benchmark copies them). */
  ofDocuments(documentIds: string[]): MovedVector[] {
    return this.sql
      .exec<{ id: string; document_id: string; vector: ArrayBuffer }>(
        "SELECT id, document_id, vector FROM vectors WHERE document_id IN (SELECT value FROM json_each(?))",
        JSON.stringify(documentIds),
      )
      .toArray()
      .map((v) => ({ ...v }));
  }

  /** The best `topK` by dot product, of the given documents only when `documentIds` is set. */
  query(
    vector: Float32Array,
    topK: number,
    documentIds?: string[] | ReadonlySet<string>,
  ): VectorMatch[] | VectorRefusal {
    const matrix = this.load();
    const dims = this.dimensions;
    if (!matrix || dims === null || this.ids.length === 0) {
      return [];
    }
    if (vector.length !== dims) {
      return { refused: "dimensions", message: `the query has ${vector.length} dimensions; this index has ${dims}` };
    }
    const allowed = documentIds instanceof Set ? documentIds : documentIds ? new Set(documentIds) : undefined;
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
    const row = this.sql
      .exec<{ n: number; bytes: number | null }>("SELECT COUNT(*) AS n, MAX(LENGTH(vector)) AS bytes FROM vectors")
      .one();
    return { vectors: row.n, dimensions: row.bytes === null ? null : row.bytes / 4 };
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
    for (const r of this.sql.exec<{ id: string; document_id: string; vector: ArrayBuffer }>(
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

import { AppError } from "../../errors";
import type { VectorFilter, VectorIndex, VectorMatch, VectorRecord, VectorStats } from "./interface";

/** The part of a Vectorize (V2) index binding this adapter uses. */
export type VectorizeBinding = Pick<Vectorize, "query" | "upsert" | "deleteByIds" | "describe">;

/** Vectors per upsert / ids per delete: the Workers binding accepts up to 1,000 at a time. */
const BATCH = 1_000;
/** Vectorize returns at most 100 matches when neither values nor all metadata are requested. */
const MAX_TOP_K = 100;

/**
 * Cloudflare Vectorize: one index (binding `VECTORIZE`, metric cosine, dimensions of the embedder)
 * shared by every tenant, each tenant+collection in its own Vectorize namespace. Each vector
 * carries `documentId` metadata, filterable once the index has a metadata index on it
 * (`wrangler vectorize create-metadata-index <index> --property-name documentId --type string`).
 * Mutations are asynchronous on Vectorize: a vector becomes searchable a few seconds after upsert.
 */
export class VectorizeVectorIndex implements VectorIndex {
  readonly name = "vectorize";
  /** Vectorize cannot drop a namespace: its vectors are deleted by id. */
  readonly dropNeedsIds = true;
  readonly filtersMetadata = false;

  constructor(private readonly index: VectorizeBinding) {}

  async upsert(namespace: string, records: VectorRecord[]): Promise<void> {
    const dimensions = records[0]?.vector.length;
    if (records.some((r) => r.vector.length !== dimensions)) {
      throw new AppError("conflict", "Vectors of one upsert must all have the same dimensions.");
    }
    for (let i = 0; i < records.length; i += BATCH) {
      await this.call(() =>
        this.index.upsert(
          records.slice(i, i + BATCH).map((r) => ({
            id: r.id,
            values: Array.from(r.vector),
            namespace,
            metadata: { documentId: r.documentId },
          })),
        ),
      );
    }
  }

  async query(namespace: string, vector: Float32Array, topK: number, filter?: VectorFilter): Promise<VectorMatch[]> {
    const result = await this.call(() =>
      this.index.query(Array.from(vector), {
        topK: Math.min(topK, MAX_TOP_K),
        namespace,
        returnValues: false,
        returnMetadata: "indexed",
        ...(filter?.documentIds ? { filter: { documentId: { $in: filter.documentIds } } } : {}),
      }),
    );
    return result.matches.map((m) => ({
      id: m.id,
      documentId: typeof m.metadata?.documentId === "string" ? m.metadata.documentId : "",
      score: m.score,
    }));
  }

  async delete(_namespace: string, ids: string[]): Promise<void> {
    // Vector ids are chunk ids, unique across namespaces, so deleting by id is safe.
    for (let i = 0; i < ids.length; i += BATCH) {
      await this.call(() => this.index.deleteByIds(ids.slice(i, i + BATCH)));
    }
  }

  async stats(_namespace: string): Promise<VectorStats> {
    // Vectorize counts per index, not per namespace.
    const info = await this.call(() => this.index.describe());
    return { vectors: null, dimensions: info.dimensions };
  }

  async drop(namespace: string, ids: string[]): Promise<void> {
    // Vectorize cannot drop a namespace: delete every vector the collection had.
    await this.delete(namespace, ids);
  }

  private async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      if (/dimension/i.test(message)) {
        throw new AppError("conflict", `Vectorize refused the vectors (dimensions): ${message}`, { cause: error });
      }
      throw new AppError("upstream_unavailable", `Vectorize failed: ${message.slice(0, 200)}`, { cause: error });
    }
  }
}

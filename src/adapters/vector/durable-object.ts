import { bestById, refusedError, type ShardRouter } from "../shards/router";
import type { VectorFilter, VectorIndex, VectorMatch, VectorRecord, VectorStats } from "./interface";

/**
 * The default vector index: vectors live in the collection's search shards (`VectorShard`
 * Durable Objects, beside the chunks, and move with them when a collection splits); exact search
 * over an in-memory matrix per shard. Capacity per shard: VECTOR_SHARD_MAX_BYTES (default 50,000
 * vectors of 384 dims).
 */
export class DurableObjectVectorIndex implements VectorIndex {
  readonly name = "durable-object";
  readonly dropNeedsIds = false;
  readonly filtersMetadata = true;

  constructor(private readonly router: ShardRouter) {}

  async upsert(ns: string, records: VectorRecord[]): Promise<void> {
    await this.router.write(
      ns,
      records.map((r) => r.documentId),
      (shard, ids) => {
        const mine = new Set(ids);
        return shard.upsert(records.filter((r) => mine.has(r.documentId)));
      },
    );
  }

  async query(ns: string, vector: Float32Array, topK: number, filter?: VectorFilter): Promise<VectorMatch[]> {
    const lists = await this.router.readAll(ns, async (shard) => {
      const result = await shard.query(vector, topK, filter?.documentIds, filter?.metadata);
      if ("refused" in result) {
        throw refusedError(result);
      }
      return result;
    });
    return bestById(lists, topK);
  }

  async delete(ns: string, ids: string[]): Promise<void> {
    if (ids.length > 0) {
      await this.router.readAll(ns, (shard) => shard.delete(ids));
    }
  }

  async stats(ns: string): Promise<VectorStats> {
    const all = await this.router.readAll(ns, (shard) => shard.vectorStats());
    return {
      vectors: all.reduce((n, s) => n + s.vectors, 0),
      dimensions: all.find((s) => s.dimensions !== null)?.dimensions ?? null,
    };
  }

  async drop(ns: string, _ids: string[]): Promise<void> {
    await this.router.readAll(ns, (shard) => shard.drop());
  }
}

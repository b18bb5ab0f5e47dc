import { ShardFullError, type VectorShard } from "../../durable-objects/vector-shard";
import { AppError } from "../../errors";
import type { VectorIndex, VectorMatch, VectorRecord, VectorStats } from "./interface";

/**
 * The default vector index: one `VectorShard` Durable Object per tenant+collection, exact search
 * over an in-memory matrix. Capacity per collection: VECTOR_SHARD_MAX_BYTES (default 50,000 vectors of 384 dims).
 */
export class DurableObjectVectorIndex implements VectorIndex {
  readonly name = "durable-object";
  readonly dropNeedsIds = false;

  constructor(private readonly namespace: DurableObjectNamespace<VectorShard>) {}

  private shard(ns: string) {
    return this.namespace.get(this.namespace.idFromName(ns));
  }

  async upsert(ns: string, records: VectorRecord[]): Promise<void> {
    try {
      await this.shard(ns).upsert(records);
    } catch (error) {
      if ((error as Error).name === ShardFullError.name || (error as Error).message.includes("index is full")) {
        throw new AppError("conflict", (error as Error).message, { cause: error });
      }
      throw error;
    }
  }

  async query(
    ns: string,
    vector: Float32Array,
    topK: number,
    filter?: { documentIds?: string[] },
  ): Promise<VectorMatch[]> {
    return this.shard(ns).query(vector, topK, filter?.documentIds);
  }

  async delete(ns: string, ids: string[]): Promise<void> {
    if (ids.length > 0) {
      await this.shard(ns).delete(ids);
    }
  }

  async stats(ns: string): Promise<VectorStats> {
    return this.shard(ns).stats();
  }

  async drop(ns: string, _ids: string[]): Promise<void> {
    await this.shard(ns).drop();
  }
}

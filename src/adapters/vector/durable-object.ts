import type { ShardRefusal, VectorShard } from "../../durable-objects/vector-shard";
import { AppError } from "../../errors";
import type { VectorIndex, VectorMatch, VectorRecord, VectorStats } from "./interface";

/**
 * The default vector index: one `VectorShard` Durable Object per tenant+collection, exact search
 * over an in-memory matrix. Capacity per collection: VECTOR_SHARD_MAX_BYTES (default 50,000 vectors of 384 dims).
 */
/** A full index or a vector of the wrong size: `409`, with the shard's own explanation. */
function refused(refusal: ShardRefusal): AppError {
  return new AppError("conflict", refusal.message);
}

export class DurableObjectVectorIndex implements VectorIndex {
  readonly name = "durable-object";
  readonly dropNeedsIds = false;

  constructor(private readonly namespace: DurableObjectNamespace<VectorShard>) {}

  private shard(ns: string) {
    return this.namespace.get(this.namespace.idFromName(ns));
  }

  async upsert(ns: string, records: VectorRecord[]): Promise<void> {
    const refusal = await this.shard(ns).upsert(records);
    if (refusal) {
      throw refused(refusal);
    }
  }

  async query(
    ns: string,
    vector: Float32Array,
    topK: number,
    filter?: { documentIds?: string[] },
  ): Promise<VectorMatch[]> {
    const result = await this.shard(ns).query(vector, topK, filter?.documentIds);
    if ("refused" in result) {
      throw refused(result);
    }
    return result;
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

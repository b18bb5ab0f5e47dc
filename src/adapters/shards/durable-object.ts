import type { VectorShard } from "../../durable-objects/vector-shard";
import type { ChunkShards, KeywordOptions, ShardChunk, ShardHit } from "./interface";

/** Chunk shards on the `VectorShard` Durable Object, one per tenant+collection namespace. */
export class DurableObjectChunkShards implements ChunkShards {
  constructor(private readonly namespace: DurableObjectNamespace<VectorShard>) {}

  private shard(ns: string) {
    return this.namespace.get(this.namespace.idFromName(ns));
  }

  write(ns: string, documentIds: string[], rows: ShardChunk[]): Promise<string[]> {
    return this.shard(ns).writeChunks(documentIds, rows);
  }

  removeDocuments(ns: string, documentIds: string[]): Promise<string[]> {
    return this.shard(ns).removeDocuments(documentIds);
  }

  keyword(ns: string, options: KeywordOptions): Promise<ShardHit[]> {
    return this.shard(ns).keyword(options);
  }

  get(ns: string, ids: string[]): Promise<ShardChunk[]> {
    return ids.length === 0 ? Promise.resolve([]) : this.shard(ns).getChunks(ids);
  }

  ofDocument(ns: string, documentId: string): Promise<ShardChunk[]> {
    return this.shard(ns).documentChunks(documentId);
  }

  ids(ns: string): Promise<string[]> {
    return this.shard(ns).chunkIds();
  }

  stats(ns: string): Promise<{ chunks: number; documents: number }> {
    return this.shard(ns).chunkStats();
  }

  async drop(ns: string): Promise<void> {
    await this.shard(ns).dropChunks();
  }
}

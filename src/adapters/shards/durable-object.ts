import { type ChunkShards, type KeywordOptions, type KeywordResult, type ShardChunk, sumStats } from "./interface";
import { bestById, type ShardRouter, uniqueById } from "./router";

/**
 * Chunk shards on the `VectorShard` Durable Object: a tenant+collection namespace is one shard,
 * or several once it has split (router.ts finds them).
 */
export class DurableObjectChunkShards implements ChunkShards {
  constructor(private readonly router: ShardRouter) {}

  async write(ns: string, documentIds: string[], rows: ShardChunk[]): Promise<string[]> {
    const results = await this.router.write(ns, documentIds, (shard, ids) => {
      const mine = new Set(ids);
      return shard.writeChunks(
        ids,
        rows.filter((r) => mine.has(r.document_id)),
      );
    });
    await this.router.written(ns, Math.max(0, ...results.map((r) => r.chunks)));
    return results.flatMap((r) => r.gone);
  }

  async removeDocuments(ns: string, documentIds: string[]): Promise<string[]> {
    return (await this.router.readAll(ns, (shard) => shard.removeDocuments(documentIds))).flat();
  }

  async keyword(ns: string, options: KeywordOptions): Promise<KeywordResult> {
    const results = await this.router.readAll(ns, (shard) => shard.keyword(options));
    return {
      hits: bestById(
        results.map((r) => r.hits),
        options.limit,
      ),
      stats: sumStats(results.map((r) => r.stats)),
    };
  }

  async get(ns: string, ids: string[]): Promise<ShardChunk[]> {
    return ids.length === 0 ? [] : uniqueById(await this.router.readAll(ns, (shard) => shard.getChunks(ids)));
  }

  async ofDocument(ns: string, documentId: string): Promise<ShardChunk[]> {
    const chunks = uniqueById(await this.router.readAll(ns, (shard) => shard.documentChunks(documentId)));
    return chunks.sort((a, b) => a.ordinal - b.ordinal);
  }

  async ids(ns: string): Promise<string[]> {
    return [...new Set((await this.router.readAll(ns, (shard) => shard.chunkIds())).flat())];
  }

  async stats(ns: string): Promise<{ chunks: number; documents: number }> {
    const counts = await this.router.readAll(ns, (shard) => shard.chunkStats());
    return counts.reduce((a, b) => ({ chunks: a.chunks + b.chunks, documents: a.documents + b.documents }), {
      chunks: 0,
      documents: 0,
    });
  }

  async drop(ns: string): Promise<void> {
    await this.router.readAll(ns, (shard) => shard.dropChunks());
  }
}

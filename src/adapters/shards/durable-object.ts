import type { MetadataFilter } from "../../lib/metadata-filter";
import {
  type ChunkShards,
  type DocumentFields,
  type KeywordOptions,
  type KeywordResult,
  type ShardChunk,
  sumStats,
  type VersionWrite,
} from "./interface";
import { bestById, type ShardRouter, uniqueById } from "./router";

/**
 * Chunk shards on the `VectorShard` Durable Object: a tenant+collection namespace is one shard,
 * or several once it has split (router.ts finds them).
 */
export class DurableObjectChunkShards implements ChunkShards {
  constructor(private readonly router: ShardRouter) {}

  async write(ns: string, documentIds: string[], rows: ShardChunk[], fields?: DocumentFields): Promise<string[]> {
    const results = await this.router.write(ns, documentIds, (shard, ids) => {
      const mine = new Set(ids);
      return shard.writeChunks(
        ids,
        rows.filter((r) => mine.has(r.document_id)),
        fields && Object.fromEntries(ids.filter((id) => id in fields).map((id) => [id, fields[id] ?? []])),
      );
    });
    await this.router.written(ns, Math.max(0, ...results.map((r) => r.chunks)));
    return results.flatMap((r) => r.gone);
  }

  async writeVersion(
    ns: string,
    version: VersionWrite,
    rows: ShardChunk[],
    fields: DocumentFields,
  ): Promise<{ gone: string[]; replaced: string | null } | { stale: true }> {
    const [result] = await this.router.write(ns, [version.documentId], (shard) =>
      shard.writeVersion(version, rows, fields),
    );
    if (!result) {
      throw new Error("the shard write returned nothing");
    }
    if ("stale" in result) {
      return result;
    }
    await this.router.written(ns, result.chunks);
    return { gone: result.gone, replaced: result.replaced };
  }

  async setFields(ns: string, fields: DocumentFields): Promise<void> {
    // To every shard: each keeps the documents it holds chunks of (mid-split, a document's
    // chunks may still be in the shard it is leaving).
    await this.router.readAll(ns, (shard) => shard.setFields(fields));
  }

  async unindexed(ns: string, limit: number): Promise<string[]> {
    return [...new Set((await this.router.readAll(ns, (shard) => shard.unindexed(limit))).flat())];
  }

  async matching(ns: string, filter: MetadataFilter, limit: number): Promise<{ ids: string[]; more: boolean }> {
    const parts = await this.router.readAll(ns, (shard) => shard.matching(filter, limit));
    const ids = [...new Set(parts.flatMap((p) => p.ids))];
    return { ids: ids.slice(0, limit), more: ids.length > limit || parts.some((p) => p.more) };
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

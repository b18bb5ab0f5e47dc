import type { KeywordOptions, KeywordResult, ShardChunk, ShardHit, TermStats } from "../../durable-objects/chunk-store";

export { sumStats } from "../../durable-objects/chunk-store";
export type { KeywordOptions, KeywordResult, ShardChunk, ShardHit, TermStats };

/**
 * Where a collection's chunks and keyword index live: one search shard per tenant+collection
 * namespace (`namespaceOf`). The shard's storage is the source of truth for search; D1 keeps
 * documents' metadata. Every call names its namespace, so a tenant's reads never touch another's.
 */
export interface ChunkShards {
  /** Replaces the chunks of `documentIds`; returns the chunk ids that are gone. */
  write(ns: string, documentIds: string[], rows: ShardChunk[]): Promise<string[]>;
  /** Removes documents' chunks; returns their ids. */
  removeDocuments(ns: string, documentIds: string[]): Promise<string[]>;
  /** The best `limit` chunks by bm25, and the collection's statistics for the terms (summed over its shards). */
  keyword(ns: string, options: KeywordOptions): Promise<KeywordResult>;
  get(ns: string, ids: string[]): Promise<ShardChunk[]>;
  ofDocument(ns: string, documentId: string): Promise<ShardChunk[]>;
  ids(ns: string): Promise<string[]>;
  stats(ns: string): Promise<{ chunks: number; documents: number }>;
  drop(ns: string): Promise<void>;
}

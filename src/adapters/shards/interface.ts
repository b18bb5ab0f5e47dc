import type { KeywordOptions, ShardChunk, ShardHit } from "../../durable-objects/chunk-store";

export type { KeywordOptions, ShardChunk, ShardHit };

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
  keyword(ns: string, options: KeywordOptions): Promise<ShardHit[]>;
  get(ns: string, ids: string[]): Promise<ShardChunk[]>;
  ofDocument(ns: string, documentId: string): Promise<ShardChunk[]>;
  ids(ns: string): Promise<string[]>;
  stats(ns: string): Promise<{ chunks: number; documents: number }>;
  drop(ns: string): Promise<void>;
}

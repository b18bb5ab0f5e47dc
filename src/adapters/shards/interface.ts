import type {
  DocumentFields,
  KeywordOptions,
  KeywordResult,
  ShardChunk,
  ShardHit,
  TermStats,
  VersionWrite,
} from "../../durable-objects/chunk-store";
import type { MetadataFilter } from "../../lib/metadata-filter";

export { sumStats } from "../../durable-objects/chunk-store";
export type { DocumentFields, KeywordOptions, KeywordResult, ShardChunk, ShardHit, TermStats, VersionWrite };

/**
 * Where a collection's chunks and keyword index live: one search shard per tenant+collection
 * namespace (`namespaceOf`). The shard's storage is the source of truth for search; D1 keeps
 * documents' metadata. Every call names its namespace, so a tenant's reads never touch another's.
 */
export interface ChunkShards {
  /** Replaces the chunks of `documentIds` (and their filterable metadata); returns the chunk ids that are gone. */
  write(ns: string, documentIds: string[], rows: ShardChunk[], fields?: DocumentFields): Promise<string[]>;
  /**
   * Writes a version of an external id in its shard, replacing the version there in one
   * transaction; `stale` (nothing written) when a later version is already there. Returns the
   * chunk ids that are gone and the document id replaced.
   */
  writeVersion(
    ns: string,
    version: VersionWrite,
    rows: ShardChunk[],
    fields: DocumentFields,
  ): Promise<{ gone: string[]; replaced: string | null } | { stale: true }>;
  /** Records documents' filterable metadata (documents written before metadata filters existed). */
  setFields(ns: string, fields: DocumentFields): Promise<void>;
  /** Up to `limit` documents (per shard) whose metadata the shards do not know yet. */
  unindexed(ns: string, limit: number): Promise<string[]>;
  /** The documents whose metadata matches, at most `limit`, and whether there are more. */
  matching(ns: string, filter: MetadataFilter, limit: number): Promise<{ ids: string[]; more: boolean }>;
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

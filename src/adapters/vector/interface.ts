import type { MetadataFilter } from "../../lib/metadata-filter";

/**
 * A vector index, namespaced per tenant and collection (`<tenant id>/<collection id>`). Vectors
 * are L2-normalised, so scores are cosine similarities (higher is better). Ids are chunk ids.
 */
export interface VectorRecord {
  id: string;
  documentId: string;
  vector: Float32Array;
}

export interface VectorMatch {
  id: string;
  documentId: string;
  score: number;
}

export interface VectorStats {
  /** Vectors in the namespace; null when the provider only counts per index (Vectorize). */
  vectors: number | null;
  dimensions: number | null;
}

/** Which vectors a query may return: of these documents, and of documents whose metadata matches. */
export interface VectorFilter {
  documentIds?: string[] | undefined;
  /** Only for an index that `filtersMetadata`; the others get the matching `documentIds`. */
  metadata?: MetadataFilter | undefined;
}

export interface VectorIndex {
  /** Provider name shown by /health/detailed. */
  readonly name: string;
  /**
   * Whether the index evaluates metadata filters itself (the Durable Object index, in the shard
   * that holds the metadata). For the others the caller passes the matching document ids.
   */
  readonly filtersMetadata: boolean;
  upsert(namespace: string, records: VectorRecord[]): Promise<void>;
  query(namespace: string, vector: Float32Array, topK: number, filter?: VectorFilter): Promise<VectorMatch[]>;
  delete(namespace: string, ids: string[]): Promise<void>;
  stats(namespace: string): Promise<VectorStats>;
  /**
   * Removes every vector of the namespace (its collection was deleted). `ids` are all the ids the
   * caller knows of, for providers that cannot drop a namespace at once (`dropNeedsIds`); the
   * others ignore them, and callers need not read them.
   */
  drop(namespace: string, ids: string[]): Promise<void>;
  readonly dropNeedsIds: boolean;
}

export const namespaceOf = (tenantId: string, collectionId: string) => `${tenantId}/${collectionId}`;

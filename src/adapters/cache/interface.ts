/**
 * A shared cache of JSON values with a time to live, for complete answers and query embeddings.
 * Keys are opaque digests that already include everything that scopes a value (tenant,
 * collections and their versions, key restriction, mode, model …); the store adds nothing and
 * never lists keys. Implementations may throw: callers treat any failure as a miss.
 */
export interface EdgeCache {
  readonly name: string;
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown, ttlSeconds: number): Promise<void>;
  /** A round trip to the store, for /health/ready (absent: nothing remote to check). */
  ping?(): Promise<void>;
}

/**
 * A shared cache of JSON values with a time to live, for answers. Keys are opaque digests that
 * already include everything that scopes a value (tenant, collections and their versions, key
 * restriction, mode …); the store adds nothing and never lists keys.
 */
export interface AnswerCache {
  readonly name: string;
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown, ttlSeconds: number): Promise<void>;
}

import type { EdgeCache } from "./interface";

/**
 * An in-process cache with time to live, for unit tests: values are stored as JSON (as the
 * shared caches do), so a test sees what a real round trip would give back.
 */
export class MemoryCache implements EdgeCache {
  readonly name = "memory";
  readonly #entries = new Map<string, { json: string; expiresAt: number }>();

  async get<T>(key: string): Promise<T | undefined> {
    const entry = this.#entries.get(key);
    if (!entry || entry.expiresAt <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return JSON.parse(entry.json) as T;
  }

  async put(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    this.#entries.set(key, { json: JSON.stringify(value), expiresAt: Date.now() + ttlSeconds * 1000 });
  }
}

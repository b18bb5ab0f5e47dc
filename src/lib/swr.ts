/**
 * An isolate cache with a hard staleness bound and stale-while-revalidate: an entry is fresh for
 * `freshMs`; after that it is still served, up to `maxAgeMs`, while one background refresh runs
 * (at most one per key); past `maxAgeMs` it is gone and the caller reads the source itself. Age
 * counts from when the read that produced the value *began*, so a value is never older than the
 * bound, however slow its read. A refresh that finds its entry invalidated or replaced meanwhile
 * writes nothing (a revocation in this isolate cannot be undone by a refresh already under way).
 * (unkey's verification cache is the model.)
 */
import { Lru } from "./lru";

interface Entry<V> {
  value: V;
  loadedAt: number;
}

export interface SwrTimes {
  freshMs: number;
  maxAgeMs: number;
}

export class SwrCache<V> {
  private readonly entries: Lru<Entry<V>>;
  private readonly refreshing = new Set<string>();

  constructor(capacity: number) {
    this.entries = new Lru(capacity);
  }

  /**
   * The cached value and whether it should be refreshed now (stale, and no refresh under way:
   * the caller then owns the refresh and must call `refreshed` or `release`).
   */
  peek(key: string, times: SwrTimes, now = Date.now()): { entry: Entry<V>; refresh: boolean } | undefined {
    const entry = this.entries.get(key, now);
    if (!entry || now - entry.loadedAt >= times.maxAgeMs) {
      return undefined;
    }
    const refresh = now - entry.loadedAt >= times.freshMs && !this.refreshing.has(key);
    if (refresh) {
      this.refreshing.add(key);
    }
    return { entry, refresh };
  }

  /** Stores a value read from the source, a read that began at `loadedAt`. */
  put(key: string, value: V, loadedAt: number, times: SwrTimes, now = Date.now()): void {
    const ttl = times.maxAgeMs - (now - loadedAt);
    if (ttl > 0) {
      this.entries.set(key, { value, loadedAt }, ttl, now);
    }
  }

  /** Ends a refresh: stores its value only if `prior` is still the entry (not invalidated, not replaced). */
  refreshed(key: string, prior: Entry<V>, value: V, loadedAt: number, times: SwrTimes): void {
    this.refreshing.delete(key);
    if (this.entries.get(key) === prior) {
      this.put(key, value, loadedAt, times);
    }
  }

  /** Ends a refresh that failed: the stale entry stays until its bound. */
  release(key: string): void {
    this.refreshing.delete(key);
  }

  invalidate(key: string): void {
    this.entries.delete(key);
  }
}

/**
 * A bounded least-recently-used map with per-entry expiry. Safe at module scope: its size is
 * capped, so an isolate cannot grow without limit however many distinct keys it sees.
 */
export class Lru<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();

  constructor(private readonly capacity: number) {}

  get(key: string, now = Date.now()): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) {
      return undefined;
    }
    if (entry.expires <= now) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-insert to mark as most recently used (Map keeps insertion order).
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Without `ttlMs` the entry never expires: it leaves only when least recently used. */
  set(key: string, value: V, ttlMs = Number.POSITIVE_INFINITY, now = Date.now()): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expires: now + ttlMs });
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) {
        break;
      }
      this.entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

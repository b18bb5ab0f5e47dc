import { describe, expect, it } from "vitest";
import { SwrCache } from "../../src/lib/swr";

const times = { freshMs: 100, maxAgeMs: 1_000 };

describe("SwrCache", () => {
  it("serves fresh entries, hands out one refresh for a stale one, and nothing past the bound", () => {
    const cache = new SwrCache<string>(10);
    cache.put("k", "v1", 0, times, 0);
    expect(cache.peek("k", times, 50)).toMatchObject({ entry: { value: "v1" }, refresh: false });
    // Stale: served, and the first caller owns the refresh; the others do not start another.
    const stale = cache.peek("k", times, 200);
    expect(stale).toMatchObject({ entry: { value: "v1" }, refresh: true });
    expect(cache.peek("k", times, 300)?.refresh).toBe(false);
    // Past the bound, from the time the read began: gone.
    expect(cache.peek("k", times, 1_000)).toBeUndefined();
  });

  it("a refresh stores its value and age from when its read began", () => {
    const cache = new SwrCache<string>(10);
    const now = Date.now();
    cache.put("k", "v1", now - 500, times, now);
    const stale = cache.peek("k", times, now);
    expect(stale?.refresh).toBe(true);
    cache.refreshed("k", stale?.entry as { value: string; loadedAt: number }, "v2", now - 10, times);
    expect(cache.peek("k", times)).toMatchObject({ entry: { value: "v2", loadedAt: now - 10 } });
  });

  it("a refresh that finds its entry invalidated (a revocation here) writes nothing", () => {
    const cache = new SwrCache<string>(10);
    const now = Date.now();
    cache.put("k", "v1", now - 500, times, now);
    const stale = cache.peek("k", times, now);
    cache.invalidate("k");
    cache.refreshed("k", stale?.entry as { value: string; loadedAt: number }, "v-old", now - 1, times);
    expect(cache.peek("k", times)).toBeUndefined();
  });

  it("a failed refresh leaves the stale entry until its bound and lets the next caller try", () => {
    const cache = new SwrCache<string>(10);
    const now = Date.now();
    cache.put("k", "v1", now - 500, times, now);
    expect(cache.peek("k", times, now)?.refresh).toBe(true);
    cache.release("k");
    expect(cache.peek("k", times, now)).toMatchObject({ entry: { value: "v1" }, refresh: true });
  });

  it("does not store a value whose read began longer ago than the bound", () => {
    const cache = new SwrCache<string>(10);
    cache.put("k", "v1", 0, times, 2_000);
    expect(cache.peek("k", times, 2_000)).toBeUndefined();
  });
});

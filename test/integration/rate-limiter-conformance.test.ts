import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DurableObjectRateLimiter, LEASE_MS } from "../../src/adapters/rate-limit/durable-object";
import type { RateLimiter } from "../../src/adapters/rate-limit/interface";
import { MemoryRateLimiter } from "../../src/adapters/rate-limit/memory";
import { UpstashRateLimiter } from "../../src/adapters/rate-limit/upstash";

/**
 * One behavioural suite, run against every RateLimiter implementation: the Durable Object log
 * (real local DO), Upstash (real redis-server behind the Upstash REST shim) and the in-memory
 * one the unit layer uses.
 */
const implementations: Array<[string, () => RateLimiter, string]> = [
  ["durable-object", () => new DurableObjectRateLimiter(env.RATE_LIMITER), ""],
  ["memory (unit tests)", () => new MemoryRateLimiter(), ""],
  [
    "upstash",
    () => new UpstashRateLimiter({ url: env.TEST_UPSTASH_URL, token: env.TEST_UPSTASH_TOKEN, timeoutMs: 2_000 }),
    env.TEST_UPSTASH_SKIP,
  ],
];

const unique = () => `test:${crypto.randomUUID()}`;

for (const [name, make, skipReason] of implementations) {
  describe.skipIf(skipReason !== "")(`RateLimiter conformance: ${name}`, () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it("admits exactly the limit under 100 concurrent requests", async () => {
      const limiter = make();
      const bucket = unique();
      const results = await Promise.all(
        Array.from({ length: 100 }, () => limiter.limit({ bucket, limit: 10, windowMs: 60_000, cost: 1 })),
      );
      expect(results.filter((r) => r.allowed)).toHaveLength(10);
      for (const denied of results.filter((r) => !r.allowed)) {
        expect(denied.remaining).toBe(0);
        expect(denied.resetMs).toBeGreaterThan(0);
        expect(denied.resetMs).toBeLessThanOrEqual(60_000);
      }
    });

    it("counts remaining down and reports the limit", async () => {
      const limiter = make();
      const bucket = unique();
      const first = await limiter.limit({ bucket, limit: 3, windowMs: 60_000, cost: 1 });
      const second = await limiter.limit({ bucket, limit: 3, windowMs: 60_000, cost: 1 });
      expect(first).toMatchObject({ allowed: true, limit: 3, remaining: 2 });
      expect(second).toMatchObject({ allowed: true, limit: 3, remaining: 1 });
    });

    it("slides: capacity returns once the window has passed", async () => {
      // Every implementation reads the time from Date in this isolate (the Durable Object runs
      // here too; Upstash's scripts take the client's time), so a moved clock stands in for waiting.
      vi.useFakeTimers({ toFake: ["Date"] });
      const limiter = make();
      const bucket = unique();
      const request = { bucket, limit: 2, windowMs: 1_000, cost: 1 };
      expect((await limiter.limit(request)).allowed).toBe(true);
      expect((await limiter.limit(request)).allowed).toBe(true);
      const denied = await limiter.limit(request);
      expect(denied.allowed).toBe(false);
      expect(denied.resetMs).toBeLessThanOrEqual(2_000);
      // Sliding-window counters (Upstash) weigh the previous window, so move past two windows.
      vi.setSystemTime(Date.now() + (name === "upstash" ? 2_100 : denied.resetMs + 50));
      expect((await limiter.limit(request)).allowed).toBe(true);
    });

    it("keeps buckets apart", async () => {
      const limiter = make();
      const a = unique();
      const b = unique();
      await limiter.limit({ bucket: a, limit: 1, windowMs: 60_000, cost: 1 });
      expect((await limiter.limit({ bucket: a, limit: 1, windowMs: 60_000, cost: 1 })).allowed).toBe(false);
      expect((await limiter.limit({ bucket: b, limit: 1, windowMs: 60_000, cost: 1 })).allowed).toBe(true);
    });

    it("charges the cost of a request", async () => {
      const limiter = make();
      const bucket = unique();
      const at = (cost: number) => limiter.limit({ bucket, limit: 10, windowMs: 60_000, cost });
      expect(await at(4)).toMatchObject({ allowed: true, remaining: 6 });
      expect(await at(4)).toMatchObject({ allowed: true, remaining: 2 });
      expect(await at(2)).toMatchObject({ allowed: true, remaining: 0 });
      // (After a denial a bucket may stay blocked until its reset, so the denial comes last.)
      expect((await at(1)).allowed).toBe(false);
    });

    it("answers a round trip for readiness", async () => {
      await expect(make().ping()).resolves.toBeUndefined();
    });
  });
}

describe("UpstashRateLimiter failures", () => {
  it("throws upstream_unavailable when Redis cannot be reached", async () => {
    const limiter = new UpstashRateLimiter({ url: "http://127.0.0.1:9", token: "t", timeoutMs: 1_000 });
    await expect(limiter.limit({ bucket: unique(), limit: 1, windowMs: 1_000, cost: 1 })).rejects.toMatchObject({
      code: "upstream_unavailable",
    });
  });

  it("throws upstream_unavailable when Redis does not answer in time", async () => {
    const limiter = new UpstashRateLimiter({ url: env.TEST_HANG_URL, token: "t", timeoutMs: 150 });
    const started = Date.now();
    await expect(limiter.limit({ bucket: unique(), limit: 1, windowMs: 1_000, cost: 1 })).rejects.toMatchObject({
      code: "upstream_unavailable",
    });
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe("RateLimiter Durable Object", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("empties a quiet bucket on its alarm and keeps working afterwards", async () => {
    const { runDurableObjectAlarm, runInDurableObject } = await import("cloudflare:test");
    vi.useFakeTimers({ toFake: ["Date"] });
    const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(unique()));
    expect((await stub.limit(1, 1, 100)).allowed).toBe(true);
    expect((await stub.limit(1, 1, 100)).allowed).toBe(false);
    vi.setSystemTime(Date.now() + 150);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const rows = await runInDurableObject(stub, (_, state) =>
      state.storage.sql.exec("SELECT COUNT(*) AS n FROM log").one(),
    );
    expect(rows.n).toBe(0);
    expect((await stub.limit(1, 1, 100)).allowed).toBe(true);
  });

  it("remembers admitted hits across an eviction", async () => {
    const { evictDurableObject } = await import("cloudflare:test");
    const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(unique()));
    expect((await stub.limit(2, 2, 60_000)).allowed).toBe(true);
    await evictDurableObject(stub);
    expect((await stub.limit(1, 2, 60_000)).allowed).toBe(false);
  });
});

describe("RateLimiter Durable Object across window boundaries", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  // The object runs in this isolate, so a faked Date moves its clock too; alarms keep real time.
  const at = (ms: number) => vi.setSystemTime(ms);

  it("admits again after the window at every offset, with or without an eviction in between", async () => {
    const { evictDurableObject } = await import("cloudflare:test");
    vi.useFakeTimers({ toFake: ["Date"] });
    const windowMs = 60_000;
    const start = Date.now();
    const offsets = [-500, -1, 0, 1, 50, 300, 400, 600, 800, 999, 1_000, 1_001, 1_500, 2_500, 60_000, 119_999];
    for (const evict of [false, true]) {
      for (const offset of offsets) {
        const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(unique()));
        at(start);
        for (let i = 0; i < 3; i++) {
          expect((await stub.limit(1, 3, windowMs)).allowed).toBe(true);
        }
        expect((await stub.limit(1, 3, windowMs)).allowed).toBe(false);
        if (evict) {
          await evictDurableObject(stub);
        }
        at(start + windowMs + offset);
        const inWindow = offset < 0;
        const again = await stub.limit(1, 3, windowMs);
        expect({ offset, evict, allowed: again.allowed }).toEqual({ offset, evict, allowed: !inWindow });
        if (!inWindow) {
          expect(again.remaining).toBe(2);
          // And the bucket keeps counting from there, across a second eviction too.
          await evictDurableObject(stub);
          expect((await stub.limit(2, 3, windowMs)).remaining).toBe(0);
          expect((await stub.limit(1, 3, windowMs)).allowed).toBe(false);
        }
      }
    }
  });

  it("never reuses a log id, so a late give-back cannot touch a newer hit", async () => {
    const { evictDurableObject, runInDurableObject } = await import("cloudflare:test");
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(unique()));
    at(start);
    const leased = await stub.limit(1, 10_000, 1_000, { want: 50, leaseMs: 250 });
    expect(leased.lease?.units).toBe(50);
    await evictDurableObject(stub);
    at(start + 5_000);
    const fresh = await stub.limit(1, 10_000, 1_000, { want: 40, leaseMs: 250 });
    expect(fresh.lease?.id).toBeGreaterThan(leased.lease?.id ?? Number.POSITIVE_INFINITY);
    // The old lease's give-back arrives now: it must not shrink the new hit.
    const later = await stub.limit(1, 10_000, 1_000, {
      want: 0,
      leaseMs: 250,
      giveBack: { id: leased.lease?.id ?? 0, units: 50 },
    });
    expect(later.remaining).toBe(10_000 - 41 - 1);
    const ids = await runInDurableObject(stub, (_, state) =>
      state.storage.sql
        .exec<{ id: number }>("SELECT id FROM log ORDER BY id")
        .toArray()
        .map((row) => row.id),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe("DurableObjectRateLimiter leases", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /**
   * Time passing for the limiter: the isolates' leases and the objects' logs read Date in this
   * isolate, so the tests below move it instead of sleeping. (The first test keeps real time: how
   * often a busy isolate needs a round trip is a matter of requests per second.)
   */
  const pass = async (ms: number) => {
    vi.setSystemTime(Date.now() + ms);
    await Promise.resolve();
  };
  /** The namespace, counting round trips to the objects. */
  const counting = () => {
    const counter = { trips: 0 };
    const namespace = new Proxy(env.RATE_LIMITER, {
      get(target, name) {
        if (name === "get") {
          return (id: DurableObjectId) => {
            const stub = target.get(id);
            return new Proxy(stub, {
              get(s, method) {
                const value = Reflect.get(s, method);
                if (method === "limit" || method === "release") {
                  return (...args: unknown[]) => {
                    counter.trips++;
                    return (value as (...a: unknown[]) => unknown)(...args);
                  };
                }
                return value;
              },
            });
          };
        }
        const value = Reflect.get(target, name);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    return { namespace, counter };
  };

  it("lets busy isolates decide most requests locally, yet admits exactly the limit between them", async () => {
    const { namespace, counter } = counting();
    // Two isolates with their own leases, sharing one bucket's object.
    const isolates = [new DurableObjectRateLimiter(namespace), new DurableObjectRateLimiter(namespace)];
    // Leases may hold 2 % of the limit together: 100 units here, so both isolates can hold some.
    const request = { bucket: unique(), limit: 5_000, windowMs: 60_000, cost: 1 };
    let allowed = 0;
    let deniedInARow = 0;
    for (let i = 0; deniedInARow < 4 && i < 20_000; i++) {
      const result = await isolates[i % 2]?.limit(request);
      if (result?.allowed) {
        allowed++;
        deniedInARow = 0;
      } else {
        deniedInARow++;
      }
    }
    expect(allowed).toBe(5_000);
    expect(counter.trips).toBeLessThan(1_000);
  });

  /** `clients` concurrent callers, each sending until it is refused `patience` times in a row. */
  const admittedBy = async (limiters: DurableObjectRateLimiter[], limit: number, clients: number) => {
    const request = { bucket: unique(), limit, windowMs: 60_000, cost: 1 };
    let admitted = 0;
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        const limiter = limiters[client % limiters.length];
        for (let refused = 0, sent = 0; refused < 3 && sent < limit; sent++) {
          const sent = Date.now();
          const result = await limiter?.limit(request);
          if (result?.allowed) {
            admitted++;
            refused = 0;
          } else {
            refused++;
            // 5 ms after this client sent: clients backing off together share the wait.
            vi.setSystemTime(Math.max(Date.now(), sent + 5));
            await Promise.resolve();
          }
        }
      }),
    );
    return admitted;
  };

  it("admits at least 98 % and never more than the limit to 100 concurrent clients", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    for (const [limit, isolates] of [
      [120, 1],
      [120, 3],
      [1_000, 1],
      [2_000, 2],
    ] as const) {
      const limiters = Array.from({ length: isolates }, () => new DurableObjectRateLimiter(env.RATE_LIMITER));
      const admitted = await admittedBy(limiters, limit, 100);
      expect({ limit, isolates, admitted: admitted <= limit }).toEqual({ limit, isolates, admitted: true });
      expect(admitted).toBeGreaterThanOrEqual(Math.ceil(limit * 0.98));
    }
  });

  it("admits the whole limit to one client sending requests one after another", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    for (const limit of [120, 1_000]) {
      expect(await admittedBy([new DurableObjectRateLimiter(env.RATE_LIMITER)], limit, 1)).toBe(limit);
    }
  });

  it("loses no more than 2 % of the limit to leases that end between bursts or at a steady pace", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const limiter = new DurableObjectRateLimiter(env.RATE_LIMITER);
    // Bursts of 50 concurrent requests with pauses longer than a lease in between.
    const bursty = { bucket: unique(), limit: 120, windowMs: 60_000, cost: 1 };
    let admitted = 0;
    for (let burst = 0; burst < 5; burst++) {
      const results = await Promise.all(Array.from({ length: 50 }, () => limiter.limit(bursty)));
      admitted += results.filter((r) => r.allowed).length;
      await pass(LEASE_MS + 100);
    }
    expect(admitted).toBeLessThanOrEqual(120);
    expect(admitted).toBeGreaterThanOrEqual(118);
    // One client at about 60 requests a second: busy enough to be leased units it cannot all use.
    const steady = { bucket: unique(), limit: 120, windowMs: 60_000, cost: 1 };
    admitted = 0;
    for (let i = 0; i < 160; i++) {
      admitted += (await limiter.limit(steady)).allowed ? 1 : 0;
      await pass(15);
    }
    expect(admitted).toBeLessThanOrEqual(120);
    expect(admitted).toBeGreaterThanOrEqual(118);
  });

  it("gives a lease's unused units back, and grants none to a quiet bucket", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(unique()));
    const first = await stub.limit(1, 10_000, 60_000, { want: 50, leaseMs: 250 });
    expect(first.lease?.units).toBe(50);
    expect(first.remaining).toBe(10_000 - 51);
    const second = await stub.limit(1, 10_000, 60_000, {
      want: 0,
      leaseMs: 250,
      giveBack: { id: first.lease?.id ?? 0, units: 30 },
    });
    expect(second.lease).toBeUndefined();
    expect(second.remaining).toBe(10_000 - 51 - 1 + 30);
    // Leases together hold at most 2 % of the limit (200 units; the one above is settled), and a
    // new lease takes half of what is still free of that share, so other isolates get some too.
    const third = await stub.limit(1, 10_000, 60_000, { want: 100, leaseMs: 250 });
    const fourth = await stub.limit(1, 10_000, 60_000, { want: 100, leaseMs: 250 });
    const fifth = await stub.limit(1, 10_000, 60_000, { want: 100, leaseMs: 250 });
    expect([third.lease?.units, fourth.lease?.units, fifth.lease?.units]).toEqual([100, 50, 25]);
    // Near the limit nothing is leased: the last units are decided one request at a time.
    const small = await stub.limit(1, 300, 60_000, { want: 50, leaseMs: 250 }); // 245 used: 54 left
    expect(small.lease).toBeUndefined();

    const { namespace, counter } = counting();
    const limiter = new DurableObjectRateLimiter(namespace);
    const quiet = { bucket: unique(), limit: 1_000, windowMs: 60_000, cost: 1 };
    for (let i = 0; i < 3; i++) {
      expect((await limiter.limit(quiet)).remaining).toBe(1_000 - i - 1);
      await pass(200);
    }
    expect(counter.trips).toBe(3);
  });
});

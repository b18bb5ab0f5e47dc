import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { CacheApiCache } from "../../src/adapters/cache/cache-api";
import type { EdgeCache } from "../../src/adapters/cache/interface";
import { TieredCache, UpstashCache } from "../../src/adapters/cache/upstash";
import { parseConfig } from "../../src/config";
import type { LogSink } from "../../src/lib/log";
import { Lru } from "../../src/lib/lru";
import { QueryBody, type QueryResult } from "../../src/schemas/query";
import type { KeyPrincipal } from "../../src/services/principal";
import type { CachedAnswer } from "../../src/services/query/pipeline";
import { testDb } from "../support/db";
import { callWith, json, newCollection, newTenant, type TestTenant } from "../support/http";
import { collectingInvocation, collectingLogs, servicesFor } from "../support/services";

/**
 * The shared cache: Upstash Redis (real redis-server behind the REST shim) under the Cache API,
 * as adapters and inside the answer pipeline (answers and query embeddings).
 */
const skip = env.TEST_UPSTASH_SKIP !== "";
const redisSettings = () => ({ url: env.TEST_UPSTASH_URL, token: env.TEST_UPSTASH_TOKEN, timeoutMs: 2_000 });
const unique = () => crypto.randomUUID();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Another data centre: an empty Cache API of its own in front of the same Redis. */
const otherColo = async () => new CacheApiCache(await caches.open(`colo-${unique()}`));

/** The principal of a tenant's first (admin) key, as the auth middleware would build it. */
const principalOf = (tenant: TestTenant): KeyPrincipal => ({
  kind: "key",
  tenantId: tenant.id,
  keyId: tenant.adminKeyId,
  scopes: ["admin"],
  collectionIds: null,
  filter: null,
  rateTier: "standard",
});

/**
 * One question through the production wiring with the adapters `overrides` configure, behind
 * `cache`, as a fresh isolate would ask it (empty L1 unless `answers` is given); waits for the
 * deferred cache writes.
 */
async function askPipeline(options: {
  overrides: Record<string, unknown>;
  tenant: TestTenant;
  collection: string;
  query: string;
  cache: EdgeCache;
  cacheTtlSeconds: number;
  answers?: Lru<CachedAnswer>;
  logSink?: LogSink;
}): Promise<QueryResult> {
  const invocation = collectingInvocation();
  const settings = {
    ...options.overrides,
    ANSWER_CACHE_TTL_S: String(options.cacheTtlSeconds),
    EMBEDDING_CACHE_TTL_S: "3600",
    SEARCH_COMMON_TERM_RATIO: "1",
  };
  const { query } = servicesFor(settings, invocation, {
    cache: options.cache,
    queryEmbeddings: new Lru(10),
    answers: options.answers,
    ...(options.logSink ? { logSink: options.logSink } : {}),
  });
  const principal = principalOf(options.tenant);
  const input = QueryBody.parse({ query: options.query, collection_ids: [options.collection], mode: "fast" });
  const result = await query.answer(principal, input, await query.prepare(principal, input), {
    startedAt: performance.now(),
  });
  await Promise.all(invocation.work);
  return result;
}

describe.skipIf(skip)("UpstashCache and TieredCache (redis-server)", () => {
  it("stores JSON values with a time to live, under its own prefix", async () => {
    const cache = new UpstashCache(redisSettings());
    const key = unique();
    expect(await cache.get(key)).toBeUndefined();
    await cache.put(key, { answer: "ok", n: [1, 2] }, 1);
    expect(await cache.get(key)).toEqual({ answer: "ok", n: [1, 2] });
    const redis = new Redis({ url: env.TEST_UPSTASH_URL, token: env.TEST_UPSTASH_TOKEN, enableTelemetry: false });
    expect(await redis.ttl(`edgerag:cache:${key}`)).toBeGreaterThan(0);
    // Real time on purpose: the TTL is enforced by redis-server, whose clock no test can move.
    await sleep(1_200);
    expect(await cache.get(key)).toBeUndefined();
    await cache.ping();
  });

  it("reads the local level first, falls back to Redis and copies a Redis hit into the local level", async () => {
    const far = new UpstashCache(redisSettings());
    const writer = new TieredCache(await otherColo(), far);
    const key = unique();
    await writer.put(key, { v: 1 }, 60);

    const near = await otherColo();
    const reader = new TieredCache(near, far);
    expect(reader.name).toBe("cache-api+upstash");
    expect(await near.get(key)).toBeUndefined();
    expect(await reader.get(key)).toEqual({ v: 1 });
    expect(await near.get(key)).toEqual({ v: 1 });
  });

  it("fails (for the caller to treat as a miss) when Redis is down or hangs, within the timeout", async () => {
    for (const url of ["http://127.0.0.1:9", env.TEST_HANG_URL]) {
      const cache = new TieredCache(await otherColo(), new UpstashCache({ url, token: "t", timeoutMs: 200 }));
      const started = Date.now();
      await expect(cache.get(unique())).rejects.toThrow();
      await expect(cache.put(unique(), 1, 60)).rejects.toThrow();
      await expect(cache.ping()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(2_000);
    }
  });
});

describe.skipIf(skip)("the answer pipeline with a shared Redis cache", () => {
  const settings = () => ({
    CACHE_PROVIDER: "upstash",
    UPSTASH_REDIS_REST_URL: env.TEST_UPSTASH_URL,
    UPSTASH_REDIS_REST_TOKEN: env.TEST_UPSTASH_TOKEN,
    EMBEDDINGS_PROVIDER: "openai",
    EMBEDDINGS_BASE_URL: `${env.TEST_OPENAI_URL}/v1`,
    EMBEDDINGS_DIMENSIONS: "256",
  });

  it("serves an answer computed in one data centre in another, and a query vector without the embedder", async () => {
    const apiKey = `sk-test-${unique()}`;
    const overrides = { ...settings(), EMBEDDINGS_API_KEY: apiKey };
    const config = parseConfig({ ...env, ...overrides });
    expect(config.problems).toEqual([]);
    expect(config.cache.kind).toBe("upstash");
    const tenant = await newTenant();
    const created = await callWith(overrides, "POST", "/v1/collections", {
      token: tenant.adminKey,
      body: { name: "shared-cache" },
    });
    const collection = (await json<{ id: string }>(created)).id;
    const embeddingRequests = async () =>
      ((await (await fetch(`${env.TEST_OPENAI_URL}/__requests?key=${apiKey}`)).json()) as unknown[]).length;
    const far = new UpstashCache(redisSettings());
    const ask = async (cache: EdgeCache, cacheTtlSeconds: number) =>
      askPipeline({ overrides, tenant, collection, query: "Which enzymes fold proteins?", cache, cacheTtlSeconds });

    // Answers off: the first isolate embeds the query, the next one finds the vector in Redis.
    expect((await ask(new TieredCache(await otherColo(), far), 0)).cache).toBe("miss");
    expect(await embeddingRequests()).toBe(1);
    const second = await ask(new TieredCache(await otherColo(), far), 0);
    expect(second.degraded).toEqual([]);
    expect(await embeddingRequests()).toBe(1);

    // Answers on: computed behind one colo's cache, a hit behind another's.
    expect((await ask(new TieredCache(await otherColo(), far), 300)).cache).toBe("miss");
    expect((await ask(new TieredCache(await otherColo(), far), 300)).cache).toBe("hit");
    // Without Redis the other colo would have missed.
    expect((await ask(await otherColo(), 300)).cache).toBe("miss");
  });

  it("answers uncached when Redis is down, and /health/ready reports the cache", async () => {
    const down = { ...settings(), UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9", EMBEDDINGS_PROVIDER: "local" };
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    const logs = collectingLogs();
    const result = await askPipeline({
      overrides: down,
      tenant,
      collection,
      query: "Where is the shared cache?",
      cache: new TieredCache(await otherColo(), new UpstashCache({ ...redisSettings(), url: "http://127.0.0.1:9" })),
      cacheTtlSeconds: 300,
      logSink: logs.logSink,
    });
    expect(result.cache).toBe("miss");
    expect(logs.lines.filter((line) => line.level === "warn").map((line) => line.msg)).toEqual([
      "shared cache read failed; treated as a miss",
      "shared cache write failed",
    ]);

    const ready = await callWith(down, "GET", "/health/ready");
    expect(ready.status).toBe(503);
    const body = await json<{ checks: Record<string, { status: string }> }>(ready);
    expect(body.checks.cache?.status).toBe("down");
  });
});

describe("the isolate's own answers (L1)", () => {
  it("serves a repeated answer without a shared-cache round trip, under the same versioned key", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    const shared = await otherColo();
    let reads = 0;
    const counting: EdgeCache = {
      name: "counting",
      get: (key) => {
        reads++;
        return shared.get(key);
      },
      put: (key, value, ttl) => shared.put(key, value, ttl),
    };
    const answers = new Lru<CachedAnswer>(10);
    const ask = async () =>
      (
        await askPipeline({
          // Versions read on every query: this test is about the key, not the staleness bound
          // (test/integration/hot-path.test.ts).
          overrides: { COLLECTION_VERSION_MAX_AGE_MS: "0" },
          tenant,
          collection,
          query: "What is in L1?",
          cache: counting,
          cacheTtlSeconds: 300,
          answers,
        })
      ).cache;
    expect(await ask()).toBe("miss");
    expect(reads).toBe(1);
    expect(await ask()).toBe("hit");
    expect(reads).toBe(1);
    // A new version of the collection is a new key: L1 misses too.
    await testDb().prepare("UPDATE collections SET version = version + 1 WHERE id = ?").bind(collection).run();
    expect(await ask()).toBe("miss");
    expect(reads).toBe(2);
  });
});

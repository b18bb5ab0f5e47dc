import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { CacheApiCache } from "../../src/adapters/cache/cache-api";
import type { EdgeCache } from "../../src/adapters/cache/interface";
import { TieredCache, UpstashCache } from "../../src/adapters/cache/upstash";
import { embedderFor, generatorFor, rerankerFor, vectorIndexFor } from "../../src/adapters/choose";
import { createDb } from "../../src/adapters/db/client";
import { parseConfig } from "../../src/config";
import { Lru } from "../../src/lib/lru";
import { QueryBody } from "../../src/schemas/query";
import { type AnswerDeps, answer, prepareQuery } from "../../src/services/answer";
import type { KeyPrincipal } from "../../src/services/principal";
import { callWith, json, newCollection, newTenant } from "../support/http";

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

describe.skipIf(skip)("UpstashCache and TieredCache (redis-server)", () => {
  it("stores JSON values with a time to live, under its own prefix", async () => {
    const cache = new UpstashCache(redisSettings());
    const key = unique();
    expect(await cache.get(key)).toBeUndefined();
    await cache.put(key, { answer: "ok", n: [1, 2] }, 1);
    expect(await cache.get(key)).toEqual({ answer: "ok", n: [1, 2] });
    const redis = new Redis({ url: env.TEST_UPSTASH_URL, token: env.TEST_UPSTASH_TOKEN, enableTelemetry: false });
    expect(await redis.ttl(`edgerag:cache:${key}`)).toBeGreaterThan(0);
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
    const config = parseConfig({ ...env, ...overrides } as unknown as Record<string, unknown>);
    expect(config.problems).toEqual([]);
    expect(config.cache.kind).toBe("upstash");
    const tenant = await newTenant();
    const created = await callWith(overrides, "POST", "/v1/collections", {
      token: tenant.adminKey,
      body: { name: "shared-cache" },
    });
    const collection = (await json<{ id: string }>(created)).id;
    const principal: KeyPrincipal = {
      kind: "key",
      tenantId: tenant.id,
      keyId: tenant.adminKeyId,
      scopes: ["admin"],
      collectionIds: null,
      rateTier: "standard",
    };
    const testEnv = { ...env, ...overrides } as Env;
    const embeddingRequests = async () =>
      ((await (await fetch(`${env.TEST_OPENAI_URL}/__requests?key=${apiKey}`)).json()) as unknown[]).length;
    const ask = async (cache: EdgeCache, cacheTtlSeconds: number) => {
      const deps: AnswerDeps = {
        db: createDb(env.DB),
        embedder: embedderFor(config, testEnv),
        vectors: vectorIndexFor(config, testEnv),
        reranker: rerankerFor(config, testEnv),
        generator: generatorFor(config, testEnv),
        cache,
        // A fresh isolate each time: nothing in L1.
        queryEmbeddings: new Lru(10),
        defer: (work) => writes.push(work),
        logger: console,
      };
      const writes: Array<Promise<unknown>> = [];
      const input = QueryBody.parse({
        query: "Which enzymes fold proteins?",
        collection_ids: [collection],
        mode: "fast",
      });
      const result = await answer(deps, principal, input, await prepareQuery(deps.db, principal, input), {
        startedAt: performance.now(),
        budgets: config.queryBudgets,
        rrf: { k: 60, weights: { keyword: 1, vector: 1 } },
        commonTermRatio: 1,
        cacheTtlSeconds,
        embeddingCacheTtlSeconds: 3_600,
      });
      await Promise.all(writes);
      return result;
    };
    const far = new UpstashCache(redisSettings());

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
    const config = parseConfig({ ...env, ...down } as unknown as Record<string, unknown>);
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    const principal: KeyPrincipal = {
      kind: "key",
      tenantId: tenant.id,
      keyId: tenant.adminKeyId,
      scopes: ["admin"],
      collectionIds: null,
      rateTier: "standard",
    };
    const warnings: string[] = [];
    const writes: Array<Promise<unknown>> = [];
    const deps: AnswerDeps = {
      db: createDb(env.DB),
      embedder: embedderFor(config, env),
      vectors: vectorIndexFor(config, env),
      reranker: rerankerFor(config, env),
      generator: generatorFor(config, env),
      cache: new TieredCache(await otherColo(), new UpstashCache({ ...redisSettings(), url: "http://127.0.0.1:9" })),
      queryEmbeddings: new Lru(10),
      defer: (work) => writes.push(work),
      logger: { warn: (msg) => warnings.push(msg) },
    };
    const input = QueryBody.parse({ query: "Where is the shared cache?", collection_ids: [collection], mode: "fast" });
    const result = await answer(deps, principal, input, await prepareQuery(deps.db, principal, input), {
      startedAt: performance.now(),
      budgets: config.queryBudgets,
      rrf: { k: 60, weights: { keyword: 1, vector: 0.01 } },
      commonTermRatio: 1,
      cacheTtlSeconds: 300,
      embeddingCacheTtlSeconds: 3_600,
    });
    await Promise.all(writes);
    expect(result.cache).toBe("miss");
    expect(warnings).toEqual(["shared cache read failed; treated as a miss", "shared cache write failed"]);

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
    const principal: KeyPrincipal = {
      kind: "key",
      tenantId: tenant.id,
      keyId: tenant.adminKeyId,
      scopes: ["admin"],
      collectionIds: null,
      rateTier: "standard",
    };
    const config = parseConfig(env as unknown as Record<string, unknown>);
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
    const writes: Array<Promise<unknown>> = [];
    const deps: AnswerDeps = {
      db: createDb(env.DB),
      embedder: embedderFor(config, env),
      vectors: vectorIndexFor(config, env),
      reranker: rerankerFor(config, env),
      generator: generatorFor(config, env),
      cache: counting,
      queryEmbeddings: new Lru(10),
      answers: new Lru(10),
      defer: (work) => writes.push(work),
      logger: console,
    };
    const ask = async () => {
      const input = QueryBody.parse({ query: "What is in L1?", collection_ids: [collection], mode: "fast" });
      const result = await answer(deps, principal, input, await prepareQuery(deps.db, principal, input), {
        startedAt: performance.now(),
        budgets: config.queryBudgets,
        rrf: { k: 60, weights: { keyword: 1, vector: 0.01 } },
        commonTermRatio: 1,
        cacheTtlSeconds: 300,
        embeddingCacheTtlSeconds: 0,
      });
      await Promise.all(writes);
      return result.cache;
    };
    expect(await ask()).toBe("miss");
    expect(reads).toBe(1);
    expect(await ask()).toBe("hit");
    expect(reads).toBe(1);
    // A new version of the collection is a new key: L1 misses too.
    await env.DB.prepare("UPDATE collections SET version = version + 1 WHERE id = ?").bind(collection).run();
    expect(await ask()).toBe("miss");
    expect(reads).toBe(2);
  });
});

/**
 * The one place where parsed configuration becomes adapter instances. Instances that hold
 * isolate-level state (connection settings, caches) are kept per configuration object.
 */
import type { Config } from "../config";
import { Lru } from "../lib/lru";
import { revealSecret } from "../services/secrets";
import { CacheApiCache } from "./cache/cache-api";
import type { EdgeCache } from "./cache/interface";
import { TieredCache, UpstashCache } from "./cache/upstash";
import { createDb } from "./db/client";
import type { Embedder } from "./embed/interface";
import { LocalHashEmbedder } from "./embed/local";
import { OpenAiEmbedder } from "./embed/openai";
import { type AiBinding, WorkersAiEmbedder } from "./embed/workers-ai";
import { ExtractiveGenerator } from "./generate/extractive";
import type { Generator } from "./generate/interface";
import { OpenAiGenerator } from "./generate/openai";
import { WorkersAiGenerator } from "./generate/workers-ai";
import { DurableObjectRateLimiter } from "./rate-limit/durable-object";
import type { RateLimiter } from "./rate-limit/interface";
import { UpstashRateLimiter } from "./rate-limit/upstash";
import type { Reranker } from "./rerank/interface";
import { LocalReranker } from "./rerank/local";
import { WorkersAiReranker } from "./rerank/workers-ai";
import { DurableObjectVectorIndex } from "./vector/durable-object";
import type { VectorIndex } from "./vector/interface";
import { UpstashVectorIndex } from "./vector/upstash";
import { type VectorizeBinding, VectorizeVectorIndex } from "./vector/vectorize";

/** Bindings that only exist when the operator adds them to wrangler.toml. */
interface OptionalBindings {
  AI?: AiBinding;
  VECTORIZE?: VectorizeBinding;
}

function memo<T>(cache: WeakMap<Config, T>, config: Config, make: () => T): T {
  let value = cache.get(config);
  if (value === undefined) {
    value = make();
    cache.set(config, value);
  }
  return value;
}

/** How long a tenant's provider key, once decrypted, is reused by this isolate. */
const TENANT_KEY_TTL_MS = 60_000;

/**
 * A provider's API key for a tenant: the tenant's own secret named `apiKeySecret` when it stored
 * one (decrypted at most once a minute per isolate), else the operator's `apiKey`.
 */
function providerKey(
  config: Config,
  env: Env,
  settings: { apiKey: string | undefined; apiKeySecret: string | undefined },
): (tenantId: string | undefined) => Promise<string | undefined> {
  const { apiKey, apiKeySecret } = settings;
  const tenantKeys = new Lru<string | null>(1_000);
  return async (tenantId) => {
    if (apiKeySecret === undefined || tenantId === undefined) {
      return apiKey;
    }
    let own = tenantKeys.get(tenantId);
    if (own === undefined) {
      own = (await revealSecret(createDb(env.DB), config, tenantId, apiKeySecret)) ?? null;
      tenantKeys.set(tenantId, own, TENANT_KEY_TTL_MS);
    }
    return own ?? apiKey;
  };
}

const embedders = new WeakMap<Config, Embedder>();

/** The embedder: local hashing (default), Workers AI or an OpenAI-compatible endpoint. */
export function embedderFor(config: Config, env: Env): Embedder {
  return memo(embedders, config, () => {
    const settings = config.embeddings;
    const bindings = env as Env & OptionalBindings;
    if (settings.kind === "workers-ai" && bindings.AI) {
      return new WorkersAiEmbedder(bindings.AI, settings.model, settings.dimensions, settings.timeoutMs);
    }
    if (settings.kind === "openai") {
      return new OpenAiEmbedder({ ...settings, apiKey: providerKey(config, env, settings) });
    }
    // Local, and the fallback while a half-configured provider is reported as `misconfigured`.
    return new LocalHashEmbedder(settings.kind === "local" ? settings.dimensions : 384);
  });
}

const vectorIndexes = new WeakMap<Config, VectorIndex>();

/** The vector index: Durable Object shards (default), Vectorize or Upstash Vector. */
export function vectorIndexFor(config: Config, env: Env): VectorIndex {
  const settings = config.vectorIndex;
  const bindings = env as Env & OptionalBindings;
  if (settings.kind === "durable-object") {
    // Holds a request-bound namespace binding: cheap to build, never cached across requests.
    return new DurableObjectVectorIndex(env.VECTOR_SHARD);
  }
  return memo(vectorIndexes, config, () =>
    settings.kind === "vectorize" && bindings.VECTORIZE
      ? new VectorizeVectorIndex(bindings.VECTORIZE)
      : settings.kind === "upstash"
        ? new UpstashVectorIndex(settings)
        : new DurableObjectVectorIndex(env.VECTOR_SHARD),
  );
}

const extractive = new ExtractiveGenerator();

const rerankers = new WeakMap<Config, Reranker>();

/** The reranker: the local cross-feature scorer (default) or a Workers AI cross-encoder. */
export function rerankerFor(config: Config, env: Env): Reranker {
  const settings = config.reranker;
  const ai = (env as Env & OptionalBindings).AI;
  return memo(rerankers, config, () =>
    settings.kind === "workers-ai" && ai
      ? new WorkersAiReranker(ai, settings.model, settings.timeoutMs)
      : new LocalReranker(config.rerankWeights),
  );
}

const generators = new WeakMap<Config, Generator>();

/** The generator: extractive with citations (default), or an OpenAI-compatible chat model. */
export function generatorFor(config: Config, env: Env): Generator {
  const settings = config.generator;
  const ai = (env as Env & OptionalBindings).AI;
  if (settings.kind === "openai") {
    return memo(
      generators,
      config,
      () => new OpenAiGenerator({ ...settings, apiKey: providerKey(config, env, settings) }),
    );
  }
  if (settings.kind === "workers-ai" && ai) {
    return memo(generators, config, () => new WorkersAiGenerator(ai, settings.model));
  }
  // Extractive, and the fallback while a missing binding is reported as `misconfigured`.
  return extractive;
}

const redisCaches = new WeakMap<Config, UpstashCache>();

/**
 * Where answers and query embeddings are shared: the Workers Cache API of this data centre, in
 * front of Upstash Redis when CACHE_PROVIDER=upstash.
 */
export function edgeCacheFor(config: Config): EdgeCache {
  const near = new CacheApiCache(caches.default);
  const settings = config.cache;
  if (settings.kind !== "upstash") {
    return near;
  }
  return new TieredCache(
    near,
    memo(redisCaches, config, () => new UpstashCache(settings)),
  );
}

const limiters = new WeakMap<Config, RateLimiter>();

/** The rate limiter: Upstash when both of its settings are present, else the Durable Object one. */
export function rateLimiterFor(config: Config, env: Env): RateLimiter {
  return memo(limiters, config, () =>
    config.rateLimiter.kind === "upstash"
      ? new UpstashRateLimiter(config.rateLimiter)
      : new DurableObjectRateLimiter(env.RATE_LIMITER),
  );
}

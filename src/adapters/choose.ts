/**
 * The one place where parsed configuration becomes adapter instances. Instances that hold
 * isolate-level state (connection settings, caches) are kept per configuration object.
 */
import type { Config } from "../config";
import type { Embedder } from "./embed/interface";
import { LocalHashEmbedder } from "./embed/local";
import { DurableObjectRateLimiter } from "./rate-limit/durable-object";
import type { RateLimiter } from "./rate-limit/interface";
import { UpstashRateLimiter } from "./rate-limit/upstash";
import { DurableObjectVectorIndex } from "./vector/durable-object";
import type { VectorIndex } from "./vector/interface";

/** The embedder: the local hashing embedder (Workers AI and OpenAI-compatible adapters are to come). */
export function embedderFor(_config: Config): Embedder {
  return localEmbedder;
}

/** The vector index: the Durable Object shard index (Vectorize and Upstash Vector are to come). */
export function vectorIndexFor(_config: Config, env: Env): VectorIndex {
  return new DurableObjectVectorIndex(env.VECTOR_SHARD);
}

const localEmbedder = new LocalHashEmbedder(384);

const limiters = new WeakMap<Config, RateLimiter>();

/** The rate limiter: Upstash when both of its settings are present, else the Durable Object one. */
export function rateLimiterFor(config: Config, env: Env): RateLimiter {
  let limiter = limiters.get(config);
  if (!limiter) {
    limiter =
      config.rateLimiter.kind === "upstash"
        ? new UpstashRateLimiter(config.rateLimiter)
        : new DurableObjectRateLimiter(env.RATE_LIMITER);
    limiters.set(config, limiter);
  }
  return limiter;
}

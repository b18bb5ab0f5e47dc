import type { MiddlewareHandler } from "hono";
import { createDb } from "../adapters/db/client";
import { DurableObjectRateLimiter } from "../adapters/rate-limit/durable-object";
import type { RateLimiter } from "../adapters/rate-limit/interface";
import { UpstashRateLimiter } from "../adapters/rate-limit/upstash";
import { type Config, getConfig } from "../config";
import type { AppEnv } from "../env";
import { createLogger } from "../lib/log";

/** Adapters that hold isolate-level state (connection settings, caches), one per config. */
const limiters = new WeakMap<Config, RateLimiter>();

/** The single place where configuration turns into adapter instances. */
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

/** Per-request wiring: configuration, a request-scoped logger and the adapters, in one place. */
export function services(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const config = getConfig(c.env);
    c.set("config", config);
    c.set("logger", createLogger(config.logLevel, { request_id: c.get("request_id") }));
    c.set("services", {
      db: createDb(c.env.DB),
      limiter: rateLimiterFor(config, c.env),
      blobs: c.env.BLOBS,
      queues: { high: c.env.INGEST_HIGH, bulk: c.env.INGEST },
    });
    await next();
  };
}

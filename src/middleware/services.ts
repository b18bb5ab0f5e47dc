import type { MiddlewareHandler } from "hono";
import {
  edgeCacheFor,
  embedderFor,
  generatorFor,
  rateLimiterFor,
  rerankerFor,
  vectorIndexFor,
} from "../adapters/choose";
import { createDb } from "../adapters/db/client";
import { getConfig } from "../config";
import type { AppEnv } from "../env";
import { createLogger } from "../lib/log";

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
      embedder: embedderFor(config, c.env),
      vectors: vectorIndexFor(config, c.env),
      reranker: rerankerFor(config, c.env),
      generator: generatorFor(config, c.env),
      cache: edgeCacheFor(config),
    });
    await next();
  };
}

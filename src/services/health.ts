/**
 * Readiness: each dependency gets one round trip under its own timeout, all in parallel, so a hung
 * dependency makes /health/ready answer 503 within HEALTH_CHECK_TIMEOUT_MS (< 2 s), not hang.
 */

import type { z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import type { PdfRenderer } from "../adapters/browser/interface";
import type { EdgeCache } from "../adapters/cache/interface";
import type { Db } from "../adapters/db/client";
import type { Resolver } from "../adapters/dns/interface";
import type { Embedder } from "../adapters/embed/interface";
import type { Generator } from "../adapters/generate/interface";
import type { RateLimiter } from "../adapters/rate-limit/interface";
import type { Reranker } from "../adapters/rerank/interface";
import type { VectorIndex } from "../adapters/vector/interface";
import type { Config } from "../config";
import { raceTimeout } from "../lib/async";
import type { CheckSchema } from "../schemas/health";

export type CheckResult = z.infer<typeof CheckSchema>;
export type CheckStatus = CheckResult["status"];

export interface HealthDeps {
  db: Db;
  limiter: RateLimiter;
  blobs: R2Bucket;
  vectors: VectorIndex;
  embedder: Embedder;
  reranker: Reranker;
  generator: Generator;
  cache: EdgeCache;
  renderer: PdfRenderer;
  resolver: Resolver;
  config: Config;
}

/** The ADMIN_TOKEN .dev.vars.example publishes: a deployment using it is open to anyone. */
export const DEVELOPMENT_ADMIN_TOKEN = "dev-admin-token-change-me";

async function timed(
  provider: string,
  timeoutMs: number,
  probe: () => Promise<unknown>,
  failed: "down" | "degraded" = "down",
): Promise<CheckResult> {
  const started = performance.now();
  try {
    await raceTimeout(probe(), timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
    return { status: "ok", latency_ms: Math.round(performance.now() - started), provider };
  } catch (error) {
    return {
      status: failed,
      latency_ms: Math.round(performance.now() - started),
      provider,
      error: error instanceof Error ? error.message : "failed",
    };
  }
}

export async function runChecks(deps: HealthDeps): Promise<Record<string, CheckResult>> {
  const timeout = deps.config.healthCheckTimeoutMs;
  const ping = deps.cache.ping?.bind(deps.cache);
  const store = deps.config.database.dependency;
  const [database, rateLimiter, blobs, vectors, cache] = await Promise.all([
    timed(store, timeout, () => deps.db.run(sql`SELECT 1`)),
    timed(deps.limiter.name, timeout, () => deps.limiter.ping()),
    timed("r2", timeout, () => deps.blobs.head("health/probe")),
    timed(deps.vectors.name, timeout, () => deps.vectors.stats("health/probe")),
    // Only a cache with a remote level has something to check.
    ping ? timed(deps.cache.name, timeout, ping) : undefined,
  ]);
  const problems = deps.config.problems;
  return {
    config: {
      status: problems.length === 0 ? "ok" : "down",
      latency_ms: 0,
      ...(problems.length > 0 ? { error: problems.map((p) => `${p.setting}: ${p.message}`).join("; ") } : {}),
    },
    // Named by the store it checks (`d1`, or `postgres` on DATABASE_PROVIDER=hyperdrive).
    [store]: database,
    rate_limiter: rateLimiter,
    blobs,
    vector_index: vectors,
    ...(cache ? { cache } : {}),
  };
}

/**
 * What only some features need — the PDF renderer (exports) and DNS over HTTPS (webhooks) — and
 * settings that are fine on a laptop but not in a deployment. Each is `degraded` when it fails:
 * the API itself still works. For /health/detailed only (readiness is about the API).
 */
export async function featureChecks(deps: HealthDeps): Promise<Record<string, CheckResult>> {
  const timeout = deps.config.healthCheckTimeoutMs;
  const check = deps.renderer.check?.bind(deps.renderer);
  const [renderer, webhookDns] = await Promise.all([
    check ? timed(deps.renderer.name, timeout, check, "degraded") : undefined,
    timed(deps.resolver.name, timeout, () => deps.resolver.resolve("cloudflare.com"), "degraded"),
  ]);
  const warnings = [
    ...(deps.config.adminToken === DEVELOPMENT_ADMIN_TOKEN
      ? ["ADMIN_TOKEN is the published development value: set your own with `wrangler secret put ADMIN_TOKEN`"]
      : []),
    ...(deps.config.webhooks.allowLoopback
      ? ["WEBHOOK_ALLOW_LOOPBACK is on: webhooks may be delivered to this machine over http (local development only)"]
      : []),
  ];
  return {
    ...(renderer ? { renderer } : {}),
    webhook_dns: webhookDns,
    settings: {
      status: warnings.length === 0 ? "ok" : "degraded",
      latency_ms: 0,
      ...(warnings.length > 0 ? { error: warnings.join("; ") } : {}),
    },
  };
}

export function providers(deps: HealthDeps): Record<string, string> {
  return {
    database: deps.config.database.kind === "hyperdrive" ? "postgres (hyperdrive)" : "d1",
    rate_limiter: deps.limiter.name,
    blobs: "r2",
    vector_index: deps.vectors.name,
    embedder: deps.embedder.model,
    reranker: deps.reranker.name,
    generator: deps.generator.name,
    cache: deps.cache.name,
    encryption: deps.config.keyRing.length > 0 ? `aes-256-gcm (key v${deps.config.keyRing[0]?.version})` : "unset",
  };
}

/** The capability the health routes call: `services.health.check()` and `.providers()`. */
export function healthService(deps: HealthDeps) {
  return {
    check: () => runChecks(deps),
    /** Every check, the features' and the settings' too (/health/detailed). */
    checkAll: async () => ({ ...(await runChecks(deps)), ...(await featureChecks(deps)) }),
    providers: () => providers(deps),
  };
}
export type HealthService = ReturnType<typeof healthService>;

import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { RateLimitResult } from "../adapters/rate-limit/interface";
import type { RateTier } from "../config";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { Lru } from "../lib/lru";
import { QUERY_BODY_MAX_BYTES } from "../schemas/query";
import { authenticate, bearerToken, parseApiKey, touchLastUsed } from "../services/auth";
import { logRefusedQuery } from "../services/query-log";
import { readCapped } from "./body-limit";

/**
 * Units a route consumes; 1 unless listed. Keyed by `METHOD route-pattern`.
 * Expensive or write-heavy operations cost more so that one tier limit fits every route.
 */
export const ROUTE_COSTS: Record<string, number> = {
  "POST /v1/admin/tenants": 5,
  "PATCH /v1/admin/tenants/:id": 5,
  "POST /v1/admin/secrets/re-encrypt": 20,
  "POST /v1/api-keys": 2,
  "POST /v1/api-keys/:id/rotate": 2,
  "PUT /v1/secrets/:name": 2,
};

/** Buckets known to be over their limit, until their reset: such a request costs no round trip. */
const blocked = new Lru<{ limit: number; until: number }>(10_000);

export function routeCost(method: string, pattern: string): number {
  return ROUTE_COSTS[`${method} ${pattern}`] ?? 1;
}

/**
 * When the limiter's store fails: cheap reads fail open (logged), everything else fails closed
 * with 503, so an outage of Redis neither locks everyone out nor leaves writes unmetered.
 */
export function failsOpen(method: string): boolean {
  return method === "GET" || method === "HEAD" || method === "OPTIONS";
}

function clientIp(c: Context<AppEnv>): string {
  // Set by Cloudflare's edge and not forgeable by the client; absent in local development.
  return c.req.header("cf-connecting-ip") ?? "local";
}

export function rateLimitHeaders(result: RateLimitResult): Record<string, string> {
  const reset = String(Math.ceil(result.resetMs / 1000));
  const headers: Record<string, string> = {
    "RateLimit-Limit": String(result.limit),
    "RateLimit-Remaining": String(result.remaining),
    "RateLimit-Reset": reset,
    "X-RateLimit-Limit": String(result.limit),
    "X-RateLimit-Remaining": String(result.remaining),
    "X-RateLimit-Reset": reset,
  };
  if (!result.allowed) {
    headers["Retry-After"] = reset;
  }
  return headers;
}

function rejected(result: RateLimitResult): AppError {
  const seconds = Math.ceil(result.resetMs / 1000);
  return new AppError("rate_limited", `Rate limit exceeded; retry in ${seconds} s.`, {
    headers: rateLimitHeaders(result),
  });
}

const isQuery = (c: Context<AppEnv>) => c.req.method === "POST" && routePath(c, -1) === "/v1/query";

/**
 * A query turned away by the limiter still belongs in the query log (the dashboard counts them).
 * Its body is read here, capped as the route would, because after the response it cannot be;
 * the write itself happens off the hot path.
 */
async function logRefused(c: Context<AppEnv>, status: number): Promise<void> {
  const principal = c.get("principal");
  if (!isQuery(c) || principal?.kind !== "key") {
    return;
  }
  let body: string;
  try {
    body = new TextDecoder().decode(await readCapped(c.req.raw, QUERY_BODY_MAX_BYTES));
  } catch {
    return; // too large or cut off: not a query we could have answered
  }
  const { db } = c.var.services;
  c.executionCtx.waitUntil(
    logRefusedQuery(db, principal, body, status).catch((error: unknown) =>
      c.var.logger.warn("query log write failed", { error }),
    ),
  );
}

function tierOf(tiers: Record<string, RateTier>, name: string, fallback: string): RateTier {
  const tier = tiers[name] ?? tiers[fallback];
  if (!tier) {
    throw new AppError("misconfigured", `Rate tier "${name}" is not configured (RATE_LIMIT_TIERS).`);
  }
  return tier;
}

/**
 * The global limiter for /v1/*: runs before any route work. It identifies the caller (verified API
 * key -> its bucket and tier; operator token -> the operator bucket; anything else -> the client
 * IP under the `anonymous` tier, so guessing keys is metered too), charges the route's cost and
 * sets the RateLimit-* headers. Rejecting credentials is left to `requireAuth`.
 */
export function rateLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { config, services, logger } = c.var;
    if (config.problems.length > 0) {
      const names = config.problems.map((p) => `${p.setting} (${p.message})`).join("; ");
      throw new AppError("misconfigured", `The service is misconfigured: ${names}.`);
    }
    const operatorRoute = c.req.path === "/v1/admin" || c.req.path.startsWith("/v1/admin/");
    const header = c.req.header("authorization");
    const ip = clientIp(c);

    // A bucket we can name without any I/O: a blocked key, or a blocked anonymous IP, is turned
    // away right here. (A request with a key is never judged by its IP's anonymous bucket.)
    const hintedKey = operatorRoute ? undefined : parseApiKey(bearerToken(header) ?? "")?.keyId;
    const hint = hintedKey ? `key:${hintedKey}` : header === undefined ? `ip:${ip}` : undefined;
    const known = hint ? blocked.get(hint) : undefined;
    const stillBlocked: RateLimitResult | undefined = known && {
      allowed: false,
      limit: known.limit,
      remaining: 0,
      resetMs: Math.max(1, known.until - Date.now()),
    };
    // A query is identified first (the key check is cached), so that its refusal can be logged.
    if (stillBlocked && !isQuery(c)) {
      throw rejected(stillBlocked);
    }

    const credentials = await authenticate({ db: services.db, config }, header, operatorRoute);
    let bucket = `ip:${ip}`;
    let tier = tierOf(config.rateTiers, "anonymous", "anonymous");
    if (credentials.kind === "ok") {
      const principal = credentials.principal;
      c.set("principal", principal);
      if (principal.kind === "operator") {
        bucket = "operator";
        tier = tierOf(config.rateTiers, "operator", "operator");
      } else {
        bucket = `key:${principal.keyId}`;
        tier = tierOf(config.rateTiers, principal.rateTier, config.defaultRateTier);
      }
    } else if (credentials.kind === "invalid") {
      c.set("auth_error", credentials.reason);
    }

    if (stillBlocked) {
      await logRefused(c, 429);
      throw rejected(stillBlocked);
    }
    const cost = routeCost(c.req.method, routePath(c, -1));
    let result: RateLimitResult | undefined;
    try {
      result = await services.limiter.limit({ bucket, limit: tier.limit, windowMs: tier.window_s * 1000, cost });
    } catch (error) {
      if (!(error instanceof AppError && error.code === "upstream_unavailable" && failsOpen(c.req.method))) {
        throw error;
      }
      logger.warn("rate limiter unavailable; failing open for a read", {
        bucket,
        limiter: services.limiter.name,
        error,
      });
    }
    if (result && !result.allowed) {
      blocked.set(bucket, { limit: result.limit, until: Date.now() + result.resetMs }, result.resetMs);
      await logRefused(c, 429);
      throw rejected(result);
    }

    const principal = c.get("principal");
    if (principal?.kind === "key") {
      c.executionCtx.waitUntil(
        touchLastUsed(services.db, principal.keyId).catch((error: unknown) =>
          logger.warn("could not record last_used_at", { key_id: principal.keyId, error }),
        ),
      );
    }
    await next();
    if (result) {
      for (const [name, value] of Object.entries(rateLimitHeaders(result))) {
        c.res.headers.set(name, value);
      }
    }
  };
}

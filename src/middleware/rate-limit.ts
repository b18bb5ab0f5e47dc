import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { RateLimitResult } from "../adapters/rate-limit/interface";
import type { RateTier } from "../config";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { Lru } from "../lib/lru";

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

/** The bucket a request is metered in, and its tier (see `rateLimit`). */
function meterOf(c: Context<AppEnv>): { bucket: string; tier: RateTier } {
  const { config } = c.var;
  const principal = c.get("principal");
  if (principal?.kind === "operator") {
    return { bucket: "operator", tier: tierOf(config.rateTiers, "operator", "operator") };
  }
  if (principal?.kind === "key") {
    return {
      bucket: `key:${principal.keyId}`,
      tier: tierOf(config.rateTiers, principal.rateTier, config.defaultRateTier),
    };
  }
  return { bucket: `ip:${clientIp(c)}`, tier: tierOf(config.rateTiers, "anonymous", "anonymous") };
}

/**
 * Charges `units` more to the request's bucket, for work whose size is known only inside the
 * route (a rebuild queues every document of a collection): `429` when the bucket cannot pay,
 * before the work is done. The limiter failing is an error here, never an open door.
 */
export function chargeUnits(c: Context<AppEnv>, units: number): Promise<void> {
  if (units <= 0) {
    return Promise.resolve();
  }
  const { bucket, tier } = meterOf(c);
  return c.var.services.limiter
    .limit({ bucket, limit: tier.limit, windowMs: tier.window_s * 1000, cost: units })
    .then((result) => {
      if (!result.allowed) {
        throw rejected(result);
      }
    });
}

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

function tierOf(tiers: Record<string, RateTier>, name: string, fallback: string): RateTier {
  const tier = tiers[name] ?? tiers[fallback];
  if (!tier) {
    throw new AppError("misconfigured", `Rate tier "${name}" is not configured (RATE_LIMIT_TIERS).`);
  }
  return tier;
}

/** Keys this isolate has reported over their limit in the current minute. */
const reported = new Lru<true>(10_000);

/**
 * `rate_limit.exceeded` for a key, at most once per key per minute: this isolate remembers, and
 * the event id is the key and the minute, so the hub stores one even when many isolates report.
 */
function reportExceeded(c: Context<AppEnv>, tier: RateTier): void {
  const principal = c.get("principal");
  if (principal?.kind !== "key") {
    return;
  }
  const minute = Math.floor(Date.now() / 60_000);
  const mark = `${principal.keyId}:${minute}`;
  if (reported.get(mark)) {
    return;
  }
  reported.set(mark, true, 60_000);
  c.var.services.notifications.publish(
    principal.tenantId,
    "rate_limit.exceeded",
    { key_id: principal.keyId, rate_tier: principal.rateTier, limit: tier.limit, window_s: tier.window_s },
    `evt_rl_${principal.keyId}_${minute}`,
  );
}

/**
 * The global limiter for /v1/*: runs before any route work, after `identify`. A verified API key is
 * metered in its own bucket at its tier, the operator token in the `operator` bucket, anything else
 * — no key, a malformed or wrong one — by client IP under the `anonymous` tier, so guessing keys is
 * metered too. It charges the route's cost and sets the RateLimit-* headers. A bucket this isolate
 * knows to be over its limit is turned away without a round trip.
 */
export function rateLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { services, logger } = c.var;
    const { bucket, tier } = meterOf(c);
    const known = blocked.get(bucket);
    if (known) {
      reportExceeded(c, tier);
      throw rejected({
        allowed: false,
        limit: known.limit,
        remaining: 0,
        resetMs: Math.max(1, known.until - Date.now()),
      });
    }
    const cost = routeCost(c.req.method, routePath(c, -1));
    let result: RateLimitResult | undefined;
    try {
      result = await services.limiter.limit({ bucket, limit: tier.limit, windowMs: tier.window_s * 1000, cost });
    } catch (error) {
      if (!(error instanceof AppError && error.code === "upstream_unavailable" && failsOpen(c.req.method))) {
        throw error;
      }
      c.var.telemetry.annotate({ limiterFailOpen: 1 });
      logger.warn("rate limiter unavailable; failing open for a read", {
        bucket,
        limiter: services.limiter.name,
        error,
      });
    }
    if (result && !result.allowed) {
      blocked.set(bucket, { limit: result.limit, until: Date.now() + result.resetMs }, result.resetMs);
      reportExceeded(c, tier);
      throw rejected(result);
    }
    await next();
    if (result) {
      for (const [name, value] of Object.entries(rateLimitHeaders(result))) {
        c.res.headers.set(name, value);
      }
    }
  };
}

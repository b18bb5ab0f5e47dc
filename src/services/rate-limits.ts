/**
 * Rate-limit policy: which bucket a caller is metered in and at which tier, what a route costs, when
 * a limiter outage lets a request through, and the `rate_limit.exceeded` event. The middleware
 * (middleware/rate-limit.ts) only applies it to each request.
 */
import type { RateLimiter, RateLimitResult } from "../adapters/rate-limit/interface";
import type { Config, RateTier } from "../config";
import { AppError } from "../errors";
import { Lru } from "../lib/lru";
import type { Notify } from "./notifications/service";
import type { Principal } from "./principal";

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
  // Anyone may register an OAuth client (MCP's dynamic registration): each one is stored.
  "POST /oauth/register": 5,
};

/** Where a caller is metered, and at which tier. */
export interface Meter {
  bucket: string;
  tier: RateTier;
  principal: Principal | undefined;
}

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

/** Buckets known to be over their limit, until their reset: such a request costs no round trip. */
const blocked = new Lru<{ limit: number; until: number }>(10_000);
/** Keys this isolate has reported over their limit in the current minute. */
const reported = new Lru<true>(10_000);

export function rateLimitService(deps: { limiter: RateLimiter; config: Config; notify: Notify }) {
  const { limiter, config } = deps;
  /** `units` from the meter's bucket at its tier: the limiter's answer, allowed or not. */
  const take = (meter: Meter, units: number) =>
    limiter.limit({ bucket: meter.bucket, limit: meter.tier.limit, windowMs: meter.tier.window_s * 1000, cost: units });

  /**
   * `rate_limit.exceeded` for a key, at most once per key per minute: this isolate remembers, and
   * the event id is the key and the minute, so the hub stores one even when many isolates report.
   */
  const reportExceeded = (meter: Meter): void => {
    const principal = meter.principal;
    if (principal?.kind !== "key") {
      return;
    }
    const minute = Math.floor(Date.now() / 60_000);
    const mark = `${principal.keyId}:${minute}`;
    if (reported.get(mark)) {
      return;
    }
    reported.set(mark, true, 60_000);
    deps.notify(
      principal.tenantId,
      "rate_limit.exceeded",
      {
        key_id: principal.keyId,
        rate_tier: principal.rateTier,
        limit: meter.tier.limit,
        window_s: meter.tier.window_s,
      },
      `evt_rl_${principal.keyId}_${minute}`,
    );
  };

  return {
    /**
     * A verified API key is metered in its own bucket at its tier, the operator token in the
     * `operator` bucket, anything else — no key, a malformed or wrong one — by client IP under the
     * `anonymous` tier, so guessing keys is metered too.
     */
    meter(principal: Principal | undefined, clientIp: string): Meter {
      if (principal?.kind === "operator") {
        return { bucket: "operator", tier: tierOf(config.rateTiers, "operator", "operator"), principal };
      }
      if (principal?.kind === "key") {
        const tier = tierOf(config.rateTiers, principal.rateTier, config.defaultRateTier);
        return { bucket: `key:${principal.keyId}`, tier, principal };
      }
      return { bucket: `ip:${clientIp}`, tier: tierOf(config.rateTiers, "anonymous", "anonymous"), principal };
    },

    /**
     * Charges `units` to the bucket: the limiter's answer (for the RateLimit-* headers), `429` when
     * it cannot pay — at once, with no round trip, for a bucket known to be over until its reset —
     * or `undefined` when the limiter is down and the request may pass anyway: `failOpen` is told
     * why (given only for requests that may: see `failsOpen`).
     */
    async admit(
      meter: Meter,
      units: number,
      failOpen?: (error: unknown) => void,
    ): Promise<RateLimitResult | undefined> {
      const known = blocked.get(meter.bucket);
      if (known) {
        reportExceeded(meter);
        throw rejected({
          allowed: false,
          limit: known.limit,
          remaining: 0,
          resetMs: Math.max(1, known.until - Date.now()),
        });
      }
      let result: RateLimitResult;
      try {
        result = await take(meter, units);
      } catch (error) {
        if (failOpen && error instanceof AppError && error.code === "upstream_unavailable") {
          failOpen(error);
          return undefined;
        }
        throw error;
      }
      if (!result.allowed) {
        blocked.set(meter.bucket, { limit: result.limit, until: Date.now() + result.resetMs }, result.resetMs);
        reportExceeded(meter);
        throw rejected(result);
      }
      return result;
    },

    /**
     * Charges `units` more, for work whose size is known only inside the route (a rebuild queues
     * every document of a collection): `429` when the bucket cannot pay, before the work is done.
     * The limiter failing is an error here, never an open door.
     */
    async charge(meter: Meter, units: number): Promise<void> {
      if (units <= 0) {
        return;
      }
      const result = await take(meter, units);
      if (!result.allowed) {
        throw rejected(result);
      }
    },
  };
}

export type RateLimitService = ReturnType<typeof rateLimitService>;

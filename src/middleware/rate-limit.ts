import type { Context, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { AppEnv } from "../env";
import { failsOpen, type Meter, rateLimitHeaders, routeCost } from "../services/rate-limits";

function clientIp(c: Context<AppEnv>): string {
  // Set by Cloudflare's edge and not forgeable by the client; absent in local development.
  return c.req.header("cf-connecting-ip") ?? "local";
}

/** Where this request is metered (services/rate-limits.ts decides). */
function meterOf(c: Context<AppEnv>): Meter {
  return c.var.services.rateLimits.meter(c.get("principal"), clientIp(c));
}

/**
 * Charges `units` more to the request's bucket, for work whose size is known only inside the route
 * (a rebuild queues every document of a collection): `429` when the bucket cannot pay.
 */
export function chargeUnits(c: Context<AppEnv>, units: number): Promise<void> {
  return c.var.services.rateLimits.charge(meterOf(c), units);
}

/**
 * The global limiter for /v1/*: runs before any route work, after `identify`. It charges the
 * route's cost to the caller's bucket (the policy — buckets, tiers, costs, the exceeded event, when
 * an outage fails open — is services/rate-limits.ts) and sets the RateLimit-* headers.
 */
export function rateLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { services, logger } = c.var;
    const meter = meterOf(c);
    const failOpen = (error: unknown) => {
      c.var.telemetry.annotate({ limiterFailOpen: 1 });
      logger.warn("rate limiter unavailable; failing open for a read", {
        bucket: meter.bucket,
        limiter: services.limiter.name,
        error,
      });
    };
    const cost = routeCost(c.req.method, routePath(c, -1));
    const result = await services.rateLimits.admit(meter, cost, failsOpen(c.req.method) ? failOpen : undefined);
    await next();
    if (result) {
      for (const [name, value] of Object.entries(rateLimitHeaders(result))) {
        c.res.headers.set(name, value);
      }
    }
  };
}

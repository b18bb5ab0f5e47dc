import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { QUERY_BODY_MAX_BYTES } from "../schemas/query";
import { readCapped } from "./body-limit";

/**
 * For `POST /v1/query`, mounted around the rate limiter: a query it turns away still belongs in the
 * query log (the dashboard counts them). The route never ran, so the body is still unread; it is
 * read here, capped as the route would, and the write happens off the hot path. A body that is not
 * a valid query is not logged.
 */
export function refusedQueryLog(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const principal = c.get("principal");
    if (!(c.error instanceof AppError && c.error.code === "rate_limited") || principal?.kind !== "key") {
      return;
    }
    let body: string;
    try {
      body = new TextDecoder().decode(await readCapped(c.req.raw, QUERY_BODY_MAX_BYTES));
    } catch {
      return; // too large or cut off: not a query we could have answered
    }
    c.var.services.query.logRefused(principal, body, 429);
  };
}

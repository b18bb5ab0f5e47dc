import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { isSaneRequestId, newRequestId } from "../lib/ids";

/** Echoes a sane client `X-Request-Id`, or mints one; every response carries it. */
export function requestId(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const offered = c.req.header("x-request-id");
    const id = isSaneRequestId(offered) ? offered : newRequestId();
    c.set("request_id", id);
    await next();
    c.res.headers.set("X-Request-Id", id);
  };
}

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";

/**
 * Authenticated responses must never land in a shared cache: `no-store`, and `Vary: Authorization`
 * for any intermediary that ignores it.
 */
export function noStore(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    c.res.headers.set("Cache-Control", "no-store");
    c.res.headers.append("Vary", "Authorization");
  };
}

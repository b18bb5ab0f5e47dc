import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import type { AppEnv } from "../env";

/** One access-log line per request, written after the response is settled. */
export function accessLog(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const principal = c.get("principal");
    const status = c.res.status;
    const fields = {
      method: c.req.method,
      route: routePath(c, -1),
      path: c.req.path,
      status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
      tenant_id: principal?.kind === "key" ? principal.tenantId : undefined,
      key_id: principal?.kind === "key" ? principal.keyId : undefined,
    };
    const logger = c.get("logger");
    // Our own fault is an error; a dependency's (502–504) a warning: the problem's detail says why.
    if (status === 500) {
      logger.error("request", fields);
    } else if (status > 500) {
      logger.warn("request", fields);
    } else {
      logger.info("request", fields);
    }
  };
}

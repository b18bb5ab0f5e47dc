import type { MiddlewareHandler } from "hono";
import { createServices } from "../container";
import type { AppEnv } from "../env";

/** Per-request wiring from the composition root: configuration, a request-scoped logger, services. */
export function services(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const services = createServices(c.env, c.executionCtx, {
      request_id: c.get("request_id"),
      trace_id: c.get("telemetry").traceId,
    });
    c.set("config", services.config);
    c.set("logger", services.logger);
    c.set("services", services);
    await next();
  };
}

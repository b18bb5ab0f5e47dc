import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { instrumentGlobalFetch } from "../adapters/instrument";
import { getConfig } from "../config";
import { spanExporterFor } from "../container";
import type { AppEnv } from "../env";
import { point } from "../telemetry/analytics-schema";
import { beginInvocation, finishInvocation, versionOf } from "../telemetry/invocation";
import { isolateMetrics } from "../telemetry/metrics";
import { parseTraceparent } from "../telemetry/trace-context";

/**
 * Outermost: each request is a trace (continuing the caller's `traceparent`), a `request` data
 * point with one point per dependency it called, and a line in the isolate's route metrics.
 */
export function telemetry(): MiddlewareHandler<AppEnv> {
  instrumentGlobalFetch();
  return async (c, next) => {
    const started = performance.now();
    const method = c.req.method;
    const invocation = beginInvocation(c.env, {
      name: method,
      kind: "server",
      parent: parseTraceparent(c.req.header("traceparent"), c.req.header("tracestate")),
      attributes: { "http.request.method": method, "url.path": c.req.path },
    });
    c.set("telemetry", invocation);
    try {
      await invocation.run(next);
    } finally {
      const route = routePath(c, -1);
      const status = c.res.status;
      const principal = c.get("principal");
      const tenantId = principal?.kind === "key" ? principal.tenantId : undefined;
      const durationMs = performance.now() - started;
      const { facts } = invocation;
      invocation.annotate({ tenantId });
      invocation.root?.setAll({
        "http.route": route,
        "http.response.status_code": status,
        "edgerag.request_id": c.get("request_id"),
      });
      if (invocation.root) {
        invocation.root.record.name = `${method} ${route}`;
      }
      isolateMetrics.recordRequest(`${method} ${route}`, durationMs, facts.code);
      if (facts.limiterFailOpen) {
        isolateMetrics.limiterFailOpen++;
      }
      finishInvocation(c.env, c.executionCtx, invocation, {
        exporter: spanExporterFor(c.env),
        entry: route,
        own: point("request", {
          index: tenantId ?? "-",
          route,
          version: versionOf(c.env),
          outcome: facts.code ?? "ok",
          method,
          mode: facts.mode,
          cache: facts.cache,
          tenant_id: tenantId,
          duration_ms: Math.round(durationMs * 100) / 100,
          count: 1,
          server_error: status >= 500 ? 1 : 0,
          status,
          collections: facts.collections,
          limiter_fail_open: facts.limiterFailOpen,
          db_calls: invocation.dependencies.get(getConfig(c.env).database.dependency)?.calls ?? 0,
          spans_dropped: invocation.droppedSpans,
        }),
      });
    }
  };
}

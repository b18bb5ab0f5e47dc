import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { commonErrors, operatorSecurity, publicRoute } from "../schemas/common";
import { DetailedSchema, LiveSchema, ReadySchema } from "../schemas/health";
import { isolateMetrics } from "../telemetry/metrics";
import { createRoute } from "./route";

export const health = new OpenAPIHono<AppEnv>();

const live = createRoute({
  method: "get",
  operationId: "getLiveness",
  path: "/health/live",
  tags: ["health"],
  summary: "Liveness: the isolate runs",
  security: publicRoute,
  responses: { 200: { description: "Alive", content: { "application/json": { schema: LiveSchema } } } },
});

health.openapi(live, (c) => c.json({ status: "ok" as const }, 200));

const ready = createRoute({
  method: "get",
  operationId: "getReadiness",
  path: "/health/ready",
  tags: ["health"],
  summary:
    "Readiness: the relational store (D1 or PostgreSQL), the rate limiter and every configured dependency answer",
  security: publicRoute,
  responses: {
    200: { description: "Ready", content: { "application/json": { schema: ReadySchema } } },
    503: { description: "Not ready", content: { "application/json": { schema: ReadySchema } } },
  },
});

health.openapi(ready, async (c) => {
  const checks = await c.var.services.health.check();
  // Public endpoint: statuses and latencies only; error text is for /health/detailed.
  const publicChecks = Object.fromEntries(
    Object.entries(checks).map(([name, { status, latency_ms }]) => [name, { status, latency_ms }]),
  );
  c.header("Cache-Control", "no-store");
  const ok = Object.values(checks).every((check) => check.status === "ok");
  return ok
    ? c.json({ status: "ready" as const, checks: publicChecks }, 200)
    : c.json({ status: "not_ready" as const, checks: publicChecks }, 503);
});

const detailed = createRoute({
  method: "get",
  operationId: "getHealthDetails",
  path: "/health/detailed",
  tags: ["health"],
  summary: "Every component with status, latency and provider (operator token)",
  security: operatorSecurity,
  responses: {
    200: { description: "All components ok", content: { "application/json": { schema: DetailedSchema } } },
    401: commonErrors[401],
    503: { description: "A component is down", content: { "application/json": { schema: DetailedSchema } } },
  },
});

health.openapi(detailed, async (c) => {
  const { services } = c.var;
  const credentials = await services.auth.authenticate(c.req.header("authorization"), true);
  if (credentials.kind !== "ok") {
    throw new AppError("unauthorized", "Authorization: Bearer <ADMIN_TOKEN> is required.", {
      headers: { "WWW-Authenticate": 'Bearer realm="edgerag-operator"' },
    });
  }
  const components = await services.health.checkAll();
  const statuses = Object.values(components).map((check) => check.status);
  const status = statuses.includes("down") ? "down" : statuses.includes("degraded") ? "degraded" : "ok";
  c.header("Cache-Control", "no-store");
  const body = {
    status,
    components,
    providers: services.health.providers(),
    config_problems: c.var.config.problems,
    metrics: isolateMetrics.snapshot(),
  } as const;
  return status === "down" ? c.json(body, 503) : c.json(body, 200);
});

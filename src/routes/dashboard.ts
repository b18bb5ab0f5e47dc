import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { keyOf, requireKey } from "../middleware/auth";
import { bearerSecurity, commonErrors } from "../schemas/common";
import { DashboardQuery, DashboardSchema } from "../schemas/dashboard";
import { createRoute } from "./route";

/** The tenant's usage over a period (an unrestricted admin key). */
export const dashboard = new OpenAPIHono<AppEnv>();

const route = createRoute({
  method: "get",
  operationId: "getDashboard",
  path: "/v1/dashboard",
  tags: ["dashboard"],
  summary: "Queries, latency, cache, errors, documents and notifications over a period (at most 90 days)",
  security: bearerSecurity,
  middleware: [requireKey("admin")] as const,
  request: { query: DashboardQuery },
  responses: {
    200: { description: "The dashboard", content: { "application/json": { schema: DashboardSchema } } },
    ...commonErrors,
  },
});

dashboard.openapi(route, async (c) =>
  c.json(await c.var.services.dashboard.get(keyOf(c.var.principal), c.req.valid("query")), 200),
);

import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { serverTiming } from "../lib/server-timing";
import { keyOf, requireKey } from "../middleware/auth";
import { jsonBody } from "../middleware/body-limit";
import { bearerSecurity, commonErrors, notFound } from "../schemas/common";
import { SearchBody, SearchResultSchema } from "../schemas/search";
import { createRoute } from "./route";

/** Retrieval without generation (scope `query`). */
export const search = new OpenAPIHono<AppEnv>();

const route = createRoute({
  method: "post",
  operationId: "search",
  path: "/v1/search",
  tags: ["search"],
  summary: "Rank chunks of the given collections for a query",
  security: bearerSecurity,
  middleware: [requireKey("query"), jsonBody({ maxBytes: 65_536 })] as const,
  request: { body: { required: true, content: { "application/json": { schema: SearchBody } } } },
  responses: {
    200: { description: "Ranked chunks, best first", content: { "application/json": { schema: SearchResultSchema } } },
    ...commonErrors,
    ...notFound,
  },
});

search.openapi(route, async (c) => {
  const result = await c.var.services.search.run(keyOf(c.var.principal), c.req.valid("json"));
  c.header("Server-Timing", serverTiming(result.timings));
  return c.json(result, 200);
});

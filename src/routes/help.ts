import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { requireOperator } from "../middleware/auth";
import { commonErrors, operatorSecurity, publicRoute } from "../schemas/common";
import { QueryResultSchema } from "../schemas/query";
import { createRoute } from "./route";

/** Help from EdgeRAG's own guides: anyone may ask (metered per IP); the operator re-indexes. */
export const help = new OpenAPIHono<AppEnv>();

const ask = createRoute({
  method: "get",
  operationId: "getHelp",
  path: "/v1/help",
  tags: ["help"],
  summary: "Ask about the API: an answer from EdgeRAG's own guides, with citations (no key; limited per IP)",
  security: publicRoute,
  request: {
    query: z.object({
      q: z.string().trim().min(3).max(500).openapi({ example: "How do I send documents larger than 4 MB?" }),
    }),
  },
  responses: {
    200: { description: "The answer", content: { "application/json": { schema: QueryResultSchema } } },
    ...commonErrors,
  },
});

help.openapi(ask, async (c) => {
  const result = await c.var.services.help.ask(c.req.valid("query").q);
  // The same for everyone, and answers change only with a deployment's guides.
  c.header("Cache-Control", "public, max-age=300");
  return c.json(result, 200);
});

const sync = createRoute({
  method: "post",
  operationId: "syncHelpGuides",
  path: "/v1/admin/docs/sync",
  tags: ["help"],
  summary: "Index the deployed guides for /v1/help now (only what changed is re-indexed)",
  security: operatorSecurity,
  middleware: [requireOperator()] as const,
  responses: {
    200: {
      description: "What changed",
      content: {
        "application/json": {
          schema: z
            .object({ added: z.array(z.string()), removed: z.number().int(), unchanged: z.number().int() })
            .openapi("HelpSync"),
        },
      },
    },
    ...commonErrors,
  },
});

help.openapi(sync, async (c) => c.json(await c.var.services.help.sync(), 200));

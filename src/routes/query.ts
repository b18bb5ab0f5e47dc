import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { AppEnv } from "../env";
import { asAppError, toProblem } from "../errors";
import { serverTiming } from "../lib/server-timing";
import { keyOf, requireKey } from "../middleware/auth";
import { jsonBody } from "../middleware/body-limit";
import { bearerSecurity, commonErrors, notFound } from "../schemas/common";
import { QUERY_BODY_MAX_BYTES, QueryBody, QueryResultSchema } from "../schemas/query";
import type { Question, Run } from "../services/query/service";
import { createRoute } from "./route";

/** Questions answered from a tenant's collections (scope `query`), as JSON or as SSE. */
export const query = new OpenAPIHono<AppEnv>();

const route = createRoute({
  method: "post",
  operationId: "query",
  path: "/v1/query",
  tags: ["query"],
  summary: "Answer a question with citations (fast, balanced or deep)",
  description:
    "With `Accept: text/event-stream` or `stream: true` the answer streams as SSE events `retrieval`, " +
    "`token`, `citation`, `done` (the final JSON) and `error` (a problem object).",
  security: bearerSecurity,
  middleware: [requireKey("query"), jsonBody({ maxBytes: QUERY_BODY_MAX_BYTES })] as const,
  request: { body: { required: true, content: { "application/json": { schema: QueryBody } } } },
  responses: {
    200: {
      description: "The answer, its citations and sources (or an SSE stream of them)",
      content: {
        "application/json": { schema: QueryResultSchema },
        "text/event-stream": { schema: QueryResultSchema },
      },
    },
    ...commonErrors,
    ...notFound,
  },
});

query.openapi(route, async (c) => {
  const run: Run = { startedAt: performance.now(), signal: c.req.raw.signal };
  const input = c.req.valid("json");
  const question = await c.var.services.query.ask(keyOf(c.var.principal), input);
  if (input.stream || (c.req.header("accept") ?? "").includes("text/event-stream")) {
    return streamAnswer(c, question, run);
  }
  const result = await question.answer(run);
  c.header("Server-Timing", serverTiming(result.timings));
  c.header("X-Cache", result.cache === "hit" ? "HIT" : "MISS");
  return c.json(result, 200);
});

/**
 * SSE: `retrieval` as soon as the sources are known (before any generation), `token` per answer
 * delta, `citation` per citation, then `done` with the final JSON, or `error` with a problem.
 * A client that disconnects aborts the pipeline, including upstream generation.
 */
function streamAnswer(c: Context<AppEnv>, question: Question, run: Run) {
  const abort = new AbortController();
  const signal = run.signal ? AbortSignal.any([run.signal, abort.signal]) : abort.signal;
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => abort.abort(new Error("client disconnected")));
    const send = (event: string, data: unknown) => {
      // Writes queue in order; a closed stream simply drops them.
      void stream.writeSSE({ event, data: JSON.stringify(data) });
    };
    try {
      const result = await question.answer(
        { ...run, signal },
        {
          retrieval: (sources) => send("retrieval", { sources }),
          token: (delta) => send("token", { text: delta }),
          citation: (citation) => send("citation", citation),
        },
        signal,
      );
      await stream.writeSSE({ event: "done", data: JSON.stringify(result) });
    } catch (error) {
      const appError = asAppError(error);
      if (appError.code === "internal" && !signal.aborted) {
        c.var.logger.error("query failed while streaming", { error });
      }
      if (!signal.aborted) {
        await stream.writeSSE({
          event: "error",
          data: JSON.stringify(toProblem(appError, c.var.request_id, new URL(c.req.url).origin)),
        });
      }
    }
  });
}

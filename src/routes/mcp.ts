import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { Hono } from "hono";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { keyOf, requireKey } from "../middleware/auth";
import { jsonBody } from "../middleware/body-limit";
import { SCOPES } from "../schemas/common";
import { QUERY_BODY_MAX_BYTES } from "../schemas/query";
import { mcpServer } from "./mcp-tools";

/**
 * The MCP server (Streamable HTTP, stateless): `POST /mcp` carries JSON-RPC; there are no
 * sessions, so no `GET` stream and no `DELETE` (405, as the transport's spec allows). A request
 * that asks for progress (`_meta.progressToken`) gets an SSE response carrying the notifications
 * and then the result; any other gets plain JSON. Authentication, the rate limiter, the deadline and
 * `no-store` are the same middleware as `/v1/*` (app.ts); the OAuth access tokens hosted assistants
 * use are checked in front of the app (src/oauth.ts) and arrive here as the key they were granted by.
 */
export const mcp = new Hono<AppEnv>();

/** Whether any message of the body asks for progress notifications. */
function wantsProgress(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some(
    (m) =>
      typeof m === "object" &&
      m !== null &&
      (m as { params?: { _meta?: { progressToken?: unknown } } }).params?._meta?.progressToken !== undefined,
  );
}

/** What a body asks for, for the access log: `tools/call ask`, `tools/list`, … */
function callsOf(body: unknown): string {
  const messages = (Array.isArray(body) ? body : [body]) as Array<{ method?: unknown; params?: { name?: unknown } }>;
  return messages
    .map((m) => [m?.method, m?.params?.name].filter((part) => typeof part === "string").join(" "))
    .filter(Boolean)
    .join(", ")
    .slice(0, 200);
}

mcp.post("/mcp", requireKey(...SCOPES), jsonBody({ maxBytes: QUERY_BODY_MAX_BYTES }), async (c) => {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new AppError("bad_request", "The body is not valid JSON.");
  }
  // The request's log line (and any the tools write) says which MCP call it was.
  c.set("logger", c.var.logger.child({ mcp: callsOf(body) }));
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: !wantsProgress(body),
  });
  const server = mcpServer({
    services: c.var.services,
    logger: c.var.logger,
    principal: keyOf(c.var.principal),
    signal: c.var.deadline?.signal ?? c.req.raw.signal,
  });
  await server.connect(transport);
  const response = await transport.handleRequest(c.req.raw, { parsedBody: body });
  // A JSON answer is complete: nothing more will be sent. A stream closes the server when it ends.
  if (!response.body || response.headers.get("content-type")?.includes("application/json")) {
    c.executionCtx.waitUntil(server.close());
  }
  return response;
});

mcp.on(["GET", "DELETE"], "/mcp", () => {
  throw new AppError("method_not_allowed", "This MCP server is stateless: send JSON-RPC with POST.", {
    headers: { Allow: "POST" },
  });
});

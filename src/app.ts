import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import { routePath } from "hono/route";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "./env";
import { AppError, asAppError, type ErrorCode, problemResponse } from "./errors";
import { raceTimeout } from "./lib/async";
import { createLogger } from "./lib/log";
import { accessLog } from "./middleware/access-log";
import { identify } from "./middleware/auth";
import { configured } from "./middleware/configured";
import { noStore } from "./middleware/no-store";
import { openAiErrors } from "./middleware/openai-errors";
import { refusedQueryLog } from "./middleware/query-log";
import { rateLimit } from "./middleware/rate-limit";
import { requestId } from "./middleware/request-id";
import { services } from "./middleware/services";
import { telemetry } from "./middleware/telemetry";
import { deadline } from "./middleware/timeout";
import { admin } from "./routes/admin";
import { apiKeys } from "./routes/api-keys";
import { collections } from "./routes/collections";
import { consolePage } from "./routes/console";
import { conversations } from "./routes/conversations";
import { dashboard } from "./routes/dashboard";
import { docsPages } from "./routes/docs";
import { documents } from "./routes/documents";
import { exportsRoutes } from "./routes/exports";
import { health } from "./routes/health";
import { help } from "./routes/help";
import { mcp } from "./routes/mcp";
import { notifications } from "./routes/notifications";
import { oauth } from "./routes/oauth";
import { openai } from "./routes/openai";
import { query } from "./routes/query";
import { search } from "./routes/search";
import { secrets } from "./routes/secrets";
import { webhooks } from "./routes/webhooks";

const HTTP_CODES: Record<number, ErrorCode> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  408: "request_timeout",
  413: "payload_too_large",
  415: "unsupported_media_type",
  422: "validation_failed",
  429: "rate_limited",
  503: "upstream_unavailable",
  504: "upstream_timeout",
};

/** Hono's own exceptions (malformed JSON from the validator, say) become our problem codes. */
function fromHttpException(error: HTTPException): AppError {
  const code = HTTP_CODES[error.status];
  return code ? new AppError(code, error.message || "Request rejected.") : asAppError(error);
}

/**
 * A refusal answers at once, whatever the client is still sending: once every middleware is done
 * with the request (the query log still reads a rate-limited query's body), an error response's
 * unread body is cancelled, so nothing in front of the Worker (wrangler dev's proxy, a runtime
 * waiting to reuse the connection) holds the response back until the body ends. Reading it would
 * only spend time on bytes we refuse; a body already read or cancelled is left alone.
 */
function dropUnreadBody(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    const body = c.req.raw.body;
    if (c.res.status >= 400 && body && !c.req.raw.bodyUsed && !body.locked) {
      // Nothing to do if the client went away meanwhile: the body is dropped either way.
      body.cancel("refused before the body was read").catch(() => undefined);
    }
  };
}

async function renderError(error: unknown, c: Context<AppEnv>): Promise<Response> {
  const appError = error instanceof HTTPException ? fromHttpException(error) : asAppError(error);
  const requestId = c.get("request_id") ?? "unknown";
  if (appError.status >= 500) {
    const logger = c.get("logger") ?? createLogger("error", { request_id: requestId });
    if (appError.code === "internal") {
      logger.error(appError.message, { code: appError.code, route: c.req.path, cause: appError.cause });
    } else {
      // A dependency that is down or slow, or a missing setting: expected, and said in the detail;
      // a warning with the cause's message, not an error with a stack trace.
      const cause = appError.cause instanceof Error ? appError.cause.message : appError.cause;
      logger.warn(appError.message, { code: appError.code, route: c.req.path, cause });
    }
  }
  return problemResponse(appError, requestId, new URL(c.req.url).origin, await seeAlso(c, appError));
}

/** How long an error response may wait for its guide sections; later ones are kept for the next. */
const SEE_BUDGET_MS = 100;

/** The guide sections for this error on this route (not for our own faults, nor rate limits). */
async function seeAlso(c: Context<AppEnv>, error: AppError) {
  const services = c.get("services");
  if (!services || error.code === "internal" || error.code === "rate_limited") {
    return undefined;
  }
  // The matched route's pattern; any request no route matched shares one key ("*"), so random
  // paths cannot make a lookup each.
  let route = "*";
  try {
    const pattern = routePath(c, -1);
    route = pattern.includes("*") ? "*" : pattern;
  } catch {
    // no route matched
  }
  const lookup = services.help.see(error.code, route).catch(() => []);
  try {
    c.executionCtx.waitUntil(lookup);
  } catch {
    // no execution context (a test calling the app directly): the lookup still settles
  }
  return raceTimeout(lookup, SEE_BUDGET_MS, () => new Error("late")).catch(() => undefined);
}

export function createApp() {
  const app = new OpenAPIHono<AppEnv>({
    // Schema failures: 422 with one `errors[]` entry per issue, paths relative to the body/params.
    defaultHook: (result) => {
      if (!result.success) {
        throw new AppError("validation_failed", "The request does not match the schema.", {
          errors: result.error.issues.map((issue) => ({
            path: issue.path.map(String).join(".") || "(root)",
            message: issue.message,
          })),
        });
      }
    },
  });

  app.use("*", dropUnreadBody());
  app.use("*", telemetry());
  app.use("*", requestId());
  app.use("*", services());
  // Before anything that can refuse them: their refusals, too, are in OpenAI's shape.
  app.use("/v1/chat/completions", openAiErrors());
  app.use("/v1/models", openAiErrors());
  app.use("*", accessLog());
  app.use(
    "*",
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        problemResponse(
          new AppError("method_not_allowed", `Use one of: ${methods.join(", ")}.`, {
            headers: { Allow: methods.join(", ") },
          }),
          c.get("request_id"),
          new URL(c.req.url).origin,
        ),
    }),
  );
  app.use("*", secureHeaders({ crossOriginResourcePolicy: "same-site" }));
  app.use("*", async (c, next) => {
    const origins = c.var.config.corsOrigins;
    if (origins.length === 0) {
      return next();
    }
    return cors({
      origin: origins.includes("*") ? "*" : origins,
      allowHeaders: [
        "Authorization",
        "Content-Type",
        "X-Request-Id",
        "Accept",
        "Mcp-Protocol-Version",
        "Mcp-Session-Id",
      ],
      allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      exposeHeaders: [
        "X-Request-Id",
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "Retry-After",
        "Server-Timing",
        "Mcp-Session-Id",
        "WWW-Authenticate",
      ],
      maxAge: 600,
    })(c, next);
  });
  // The API, and MCP over the same keys: uncached, on a deadline, identified, rate limited.
  for (const path of ["/v1/*", "/mcp"]) {
    app.use(path, noStore());
    app.use(path, deadline());
    app.use(path, configured());
    app.use(path, identify());
    if (path === "/v1/*") {
      app.use("/v1/query", refusedQueryLog());
    }
    app.use(path, rateLimit());
  }
  // The OAuth consent page: never cached, metered by address (it checks pasted API keys).
  app.use("/oauth/*", noStore());
  app.use("/oauth/*", rateLimit());

  app.route("/", health);
  app.route("/", admin);
  app.route("/", apiKeys);
  app.route("/", secrets);
  app.route("/", collections);
  app.route("/", documents);
  app.route("/", search);
  app.route("/", query);
  app.route("/", conversations);
  app.route("/", openai);
  app.route("/", mcp);
  app.route("/", oauth);
  app.route("/", notifications);
  app.route("/", webhooks);
  app.route("/", dashboard);
  app.route("/", exportsRoutes);
  app.route("/", consolePage);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description:
      "A tenant API key: erk_<key id>_<secret>. An operation lists the scopes that admit it (any one; admin includes query and ingest).",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "operator", {
    type: "http",
    scheme: "bearer",
    description: "The operator's ADMIN_TOKEN",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "EdgeRAG API",
      version: "1.0.0",
      description: "Retrieval-augmented question answering at the edge. Errors are RFC 9457 problem+json.",
      // OAS 3.1 `identifier` (an SPDX expression); the library's type still has only 3.0's fields.
      license: { name: "Proprietary", identifier: "LicenseRef-Proprietary" } as { name: string },
    },
    // Relative: the document describes the deployment that serves it.
    servers: [{ url: "/", description: "This deployment" }],
  });
  app.route("/", help);
  app.route("/", docsPages);

  app.notFound((c) =>
    problemResponse(
      new AppError("not_found", `No route for ${c.req.method} ${c.req.path}.`),
      c.get("request_id"),
      new URL(c.req.url).origin,
    ),
  );
  app.onError(renderError);
  return app;
}

export type App = ReturnType<typeof createApp>;

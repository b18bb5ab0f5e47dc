/**
 * One error type and one renderer. Anything may throw `AppError`; only `app.onError` turns it
 * into an RFC 9457 problem+json response. Unknown errors become `internal` with a generic message.
 */
import type { z } from "@hono/zod-openapi";
import type { ProblemSchema } from "./schemas/common";
import { currentTelemetry, currentTraceId } from "./telemetry/trace";

/**
 * Every error code: its status and title, and its documentation page (`/docs/errors/{code}`, which
 * each problem's `type` points at): what it means, what a client should do, and an example detail.
 */
const CATALOGUE = {
  bad_request: {
    status: 400,
    title: "Bad request",
    meaning:
      "The request could not be read: malformed JSON, a body that is not UTF-8, a malformed multipart form, or no body where one is required.",
    action: "Fix the body as `detail` says. Sending the same request again gives the same answer.",
    example: "Malformed JSON in request body.",
  },
  validation_failed: {
    status: 422,
    title: "Validation failed",
    meaning:
      "The request was read, but a field, parameter or document is not acceptable. `errors[]` has one entry per problem: the field's `path` and a `message`.",
    action: "Correct the fields named in `errors[]`; the request schema is in /openapi.json. Do not retry unchanged.",
    example: "The request does not match the schema.",
  },
  unauthorized: {
    status: 401,
    title: "Unauthorized",
    meaning: "No credentials, or an API key that is unknown, revoked, or past its rotation grace period.",
    action: "Send `Authorization: Bearer erk_…` with a current key (create one with POST /v1/api-keys).",
    example: "A valid API key is required (Authorization: Bearer erk_…).",
  },
  forbidden: {
    status: 403,
    title: "Forbidden",
    meaning:
      "The key is valid but may not do this: it lacks the scope (`query`, `ingest`, `admin`), or it is restricted to other collections.",
    action: "Use a key with the scope `detail` names, or one that may read this collection.",
    example: "This API key lacks the ingest scope.",
  },
  not_found: {
    status: 404,
    title: "Not found",
    meaning:
      "No such route, or no such resource for your tenant. Another tenant's resources are not found either, by design.",
    action: "Check the id and the path (ids have a prefix: col_, doc_, key_ …).",
    example: "No such collection.",
  },
  method_not_allowed: {
    status: 405,
    title: "Method not allowed",
    meaning: "The route exists, but not with this method. The `Allow` header lists the methods it takes.",
    action: "Use one of the methods in `Allow`.",
    example: "Use one of: GET, POST.",
  },
  request_timeout: {
    status: 408,
    title: "Request timeout",
    meaning: "The request body did not arrive before the request's deadline.",
    action: "Retry; send large documents as one multipart upload over a steady connection.",
    example: "The request body did not arrive in time.",
  },
  conflict: {
    status: 409,
    title: "Conflict",
    meaning:
      "The request conflicts with the current state: a name already taken, a per-tenant count reached, a rebuild already running, an export not ready yet.",
    action: "Read the resource's state; change the request, or retry once the state has changed.",
    example: 'A collection named "handbook" already exists.',
  },
  gone: {
    status: 410,
    title: "Gone",
    meaning: "The resource existed but has expired: an export's file, for example.",
    action: "Create it again.",
    example: "The export has expired; create it again.",
  },
  payload_too_large: {
    status: 413,
    title: "Payload too large",
    meaning: "The body or a document is over its limit; `detail` names the limit. The limits are in the API guide.",
    action: "Split the document or the batch; send documents larger than the JSON limit as multipart/form-data.",
    example: "The body exceeds this route's limit of 4194304 bytes; send larger documents as multipart/form-data.",
  },
  unsupported_media_type: {
    status: 415,
    title: "Unsupported media type",
    meaning:
      "The Content-Type is not one the route takes, or an uploaded file is not a PDF, DOCX, HTML, Markdown or UTF-8 text (decided from its content).",
    action: "Send JSON as application/json and documents as multipart/form-data (`file`) or JSON text.",
    example: "Send the body as application/json.",
  },
  upgrade_required: {
    status: 426,
    title: "Upgrade required",
    meaning: "A WebSocket route was called without `Upgrade: websocket`.",
    action: "Open it with a WebSocket client, or read the same events from GET /v1/notifications.",
    example: "This route takes a WebSocket upgrade.",
  },
  rate_limited: {
    status: 429,
    title: "Too many requests",
    meaning:
      "Your tenant is over its rate limit. `Retry-After` says how many seconds to wait; `RateLimit-*` headers show the window.",
    action: "Wait `Retry-After` seconds, then retry; spread bulk work out or use the batch upload.",
    example: "Rate limit exceeded: 60 units per 60 s.",
  },
  internal: {
    status: 500,
    title: "Internal error",
    meaning: "A fault on our side. Nothing about it leaks into the response.",
    action: "Retry with backoff. If it persists, report `request_id` and `trace_id` to the operator.",
    example: "An unexpected error occurred.",
  },
  misconfigured: {
    status: 503,
    title: "Service misconfigured",
    meaning: "The deployment lacks a setting or binding this route needs; `detail` names it.",
    action: "The operator sets it (see the configuration guide); retrying will not help until then.",
    example: "Tenant secrets are unavailable: ENCRYPTION_KEYS is not set.",
  },
  upstream_unavailable: {
    status: 503,
    title: "Upstream unavailable",
    meaning:
      "A service this request needs (a model, the queue, DNS for a webhook, the PDF renderer) is unavailable. Nothing was half-done.",
    action: "Retry with backoff (`Retry-After` when given).",
    example: "The ingestion queue is unavailable; the upload was not kept.",
  },
  upstream_timeout: {
    status: 504,
    title: "Upstream timeout",
    meaning: "A service this request needs did not answer in time.",
    action: "Retry with backoff; a query in a faster mode needs less time.",
    example: "The model did not answer in time.",
  },
} as const satisfies Record<string, ErrorDoc>;

export interface ErrorDoc {
  status: number;
  title: string;
  meaning: string;
  action: string;
  example: string;
}

export type ErrorCode = keyof typeof CATALOGUE;
export const ERROR_CODES = Object.keys(CATALOGUE) as ErrorCode[];

export interface FieldError {
  path: string;
  message: string;
}

export interface AppErrorOptions {
  cause?: unknown;
  /** One entry per offending field (validation_failed). */
  errors?: FieldError[];
  /** Extra response headers (Allow, Retry-After, rate-limit headers …). */
  headers?: Record<string, string>;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.status = CATALOGUE[code].status;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

/** The problem document; its type is the OpenAPI schema's, so the two cannot drift apart. */
export type Problem = z.infer<typeof ProblemSchema>;

export function titleOf(code: ErrorCode): string {
  return CATALOGUE[code].title;
}

export function errorDoc(code: ErrorCode): ErrorDoc {
  return CATALOGUE[code];
}

/** Where a code's documentation lives: absolute when the deployment's origin is known. */
export function errorTypeUri(code: ErrorCode, origin = ""): string {
  return `${origin}/docs/errors/${code}`;
}

/** Builds the problem document. 5xx details other than the ones we wrote ourselves never leak. */
export function toProblem(error: AppError, requestId: string, origin = "", see: Problem["see"] = undefined): Problem {
  const problem: Problem = {
    type: errorTypeUri(error.code, origin),
    title: titleOf(error.code),
    status: error.status,
    detail: error.message,
    code: error.code,
    request_id: requestId,
  };
  const traceId = currentTraceId();
  if (traceId) {
    problem.trace_id = traceId;
  }
  if (error.errors && error.errors.length > 0) {
    problem.errors = error.errors;
  }
  if (see && see.length > 0) {
    problem.see = see;
  }
  return problem;
}

export function problemResponse(
  error: AppError,
  requestId: string,
  origin = "",
  see: Problem["see"] = undefined,
): Response {
  currentTelemetry()?.annotate({ code: error.code });
  const headers = new Headers(error.headers);
  headers.set("Content-Type", "application/problem+json");
  headers.set("Cache-Control", "no-store");
  return new Response(JSON.stringify(toProblem(error, requestId, origin, see)), {
    status: error.status,
    headers,
  });
}

/** Maps anything thrown to an AppError; unknown errors become a generic `internal`. */
export function asAppError(error: unknown): AppError {
  if (error instanceof AppError) {
    return error;
  }
  return new AppError("internal", "An unexpected error occurred.", { cause: error });
}

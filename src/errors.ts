/**
 * One error type and one renderer. Anything may throw `AppError`; only `app.onError` turns it
 * into an RFC 9457 problem+json response. Unknown errors become `internal` with a generic message.
 */
import type { z } from "@hono/zod-openapi";
import { currentTelemetry, currentTraceId } from "./lib/telemetry";
import type { ProblemSchema } from "./schemas/common";

const CATALOGUE = {
  bad_request: { status: 400, title: "Bad request" },
  validation_failed: { status: 422, title: "Validation failed" },
  unauthorized: { status: 401, title: "Unauthorized" },
  forbidden: { status: 403, title: "Forbidden" },
  not_found: { status: 404, title: "Not found" },
  method_not_allowed: { status: 405, title: "Method not allowed" },
  request_timeout: { status: 408, title: "Request timeout" },
  conflict: { status: 409, title: "Conflict" },
  gone: { status: 410, title: "Gone" },
  payload_too_large: { status: 413, title: "Payload too large" },
  unsupported_media_type: { status: 415, title: "Unsupported media type" },
  upgrade_required: { status: 426, title: "Upgrade required" },
  rate_limited: { status: 429, title: "Too many requests" },
  internal: { status: 500, title: "Internal error" },
  misconfigured: { status: 503, title: "Service misconfigured" },
  upstream_unavailable: { status: 503, title: "Upstream unavailable" },
  upstream_timeout: { status: 504, title: "Upstream timeout" },
} as const satisfies Record<string, { status: number; title: string }>;

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

/** Builds the problem document. 5xx details other than the ones we wrote ourselves never leak. */
export function toProblem(error: AppError, requestId: string): Problem {
  const problem: Problem = {
    type: `/docs/errors#${error.code}`,
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
  return problem;
}

export function problemResponse(error: AppError, requestId: string): Response {
  currentTelemetry()?.annotate({ code: error.code });
  const headers = new Headers(error.headers);
  headers.set("Content-Type", "application/problem+json");
  headers.set("Cache-Control", "no-store");
  return new Response(JSON.stringify(toProblem(error, requestId)), {
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

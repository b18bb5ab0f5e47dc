import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";

/** OpenAI's error object: `{error: {message, type, param, code}}`, `code` being ours. */
export function openAiErrorBody(status: number, code: string, message: string, param: string | undefined) {
  return { error: { message, type: openAiErrorType(status), param: param ?? null, code } };
}

/** OpenAI's error `type` for a status. */
function openAiErrorType(status: number): string {
  if (status === 401) {
    return "authentication_error";
  }
  if (status === 403) {
    return "permission_error";
  }
  if (status === 404) {
    return "not_found_error";
  }
  if (status === 429) {
    return "rate_limit_error";
  }
  return status >= 500 ? "server_error" : "invalid_request_error";
}

/**
 * On the OpenAI-compatible routes, errors are in OpenAI's shape — `{error: {message, type, param,
 * code}}` — which OpenAI clients parse, rather than problem+json: whatever refused the request
 * (authentication, the rate limiter, validation, the route), with its status and headers
 * (`Retry-After`, `RateLimit-*`) kept.
 */
export function openAiErrors(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    if (!(c.res.headers.get("content-type") ?? "").startsWith("application/problem+json")) {
      return;
    }
    const problem = (await c.res.clone().json()) as {
      status: number;
      code: string;
      detail: string;
      errors?: Array<{ path: string }>;
    };
    const headers = new Headers(c.res.headers);
    headers.set("Content-Type", "application/json");
    c.res = new Response(
      JSON.stringify(openAiErrorBody(problem.status, problem.code, problem.detail, problem.errors?.[0]?.path)),
      { status: problem.status, headers },
    );
  };
}

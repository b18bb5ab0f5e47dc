import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { hasScope, type KeyPrincipal, type Scope } from "../services/principal";

const challenge = { "WWW-Authenticate": 'Bearer realm="edgerag"' };

/**
 * Route guard: a tenant API key with one of `scopes` (`admin` includes every scope).
 * 401 without valid credentials, 403 with a valid key that lacks the scope.
 */
export function requireKey(...scopes: [Scope, ...Scope[]]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get("principal");
    if (principal?.kind !== "key") {
      throw new AppError("unauthorized", c.get("auth_error") ?? "Authorization: Bearer <api key> is required.", {
        headers: challenge,
      });
    }
    if (!scopes.some((scope) => hasScope(principal, scope))) {
      throw new AppError("forbidden", `This API key lacks the ${scopes.map((s) => `"${s}"`).join(" or ")} scope.`);
    }
    await next();
  };
}

/** Route guard for /v1/admin/*: the operator's ADMIN_TOKEN. */
export function requireOperator(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.var.config.adminToken === undefined) {
      throw new AppError("misconfigured", "Operator routes are disabled: ADMIN_TOKEN is not set.");
    }
    if (c.get("principal")?.kind !== "operator") {
      throw new AppError("unauthorized", c.get("auth_error") ?? "Authorization: Bearer <ADMIN_TOKEN> is required.", {
        headers: challenge,
      });
    }
    await next();
  };
}

/** The calling key; only valid behind `requireKey`. */
export function keyOf(principal: AppEnv["Variables"]["principal"]): KeyPrincipal {
  if (principal?.kind !== "key") {
    throw new AppError("unauthorized", "Authorization: Bearer <api key> is required.");
  }
  return principal;
}

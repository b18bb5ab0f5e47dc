import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import type { GrantProps } from "../oauth";
import { assertScope, type KeyPrincipal, type Scope } from "../services/principal";

/**
 * Identifies the caller of a `/v1` request, before the rate limiter (which meters by who it is):
 * a verified API key, or the operator token on `/v1/admin/*`, becomes `principal`; presented but
 * refused credentials leave their reason in `auth_error` for the route guards' 401. Nothing is
 * refused here, so that unauthenticated callers are still metered (by IP) before their 401.
 */
export function identify(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { services, logger } = c.var;
    const operatorRoute = c.req.path === "/v1/admin" || c.req.path.startsWith("/v1/admin/");
    const grant = c.req.path === "/mcp" ? oauthGrantOf(c) : undefined;
    const credentials = grant
      ? await services.auth.grant(grant.props, grant.access)
      : await services.auth.authenticate(c.req.header("authorization"), operatorRoute);
    if (credentials.kind === "ok") {
      c.set("principal", credentials.principal);
    } else if (credentials.kind === "invalid") {
      c.set("auth_error", credentials.reason);
    }
    await next();
    // A key counts as used once the limiter let its request through (off the hot path).
    const principal = c.get("principal");
    const limited = c.error instanceof AppError && c.error.code === "rate_limited";
    if (principal?.kind === "key" && !limited) {
      c.executionCtx.waitUntil(
        services.auth
          .touch(principal.keyId)
          .catch((error: unknown) => logger.warn("could not record last_used_at", { key_id: principal.keyId, error })),
      );
    }
  };
}

/**
 * The grant of an OAuth access token the provider checked before handing `/mcp` to the app: it sets
 * `ctx.props` (what we stored at approval) and `ctx.auth`. Nothing from outside can set them.
 */
function oauthGrantOf(c: Context<AppEnv>) {
  let ctx: { props?: Partial<GrantProps>; auth?: { token?: string; expiresAt?: number } };
  try {
    ctx = c.executionCtx as typeof ctx;
  } catch {
    return undefined; // no execution context (a test calling the app directly)
  }
  const props = ctx.props?.edgerag;
  if (!props || !ctx.auth?.token) {
    return undefined;
  }
  // Access tokens are `<user id>:<grant id>:<secret>`.
  const grantId = ctx.auth.token.split(":")[1] ?? "unknown";
  return { props, access: { grantId, expiresAt: (ctx.auth.expiresAt ?? 0) * 1000 } };
}

const challenge = { "WWW-Authenticate": 'Bearer realm="edgerag"' };

/**
 * Route guard: a tenant API key with one of `scopes` (`admin` includes every scope).
 * 401 without valid credentials, 403 with a valid key that lacks the scope.
 */
export function requireKey(...scopes: [Scope, ...Scope[]]): MiddlewareHandler<AppEnv> & { scopes: Scope[] } {
  const guard: MiddlewareHandler<AppEnv> = async (c, next) => {
    const principal = c.get("principal");
    if (principal?.kind !== "key") {
      throw new AppError("unauthorized", c.get("auth_error") ?? "Authorization: Bearer <api key> is required.", {
        headers: challenge,
      });
    }
    assertScope(principal, scopes);
    await next();
  };
  // Read by createApp() to state the scopes in /openapi.json (OAS 3.1 role names of `bearer`).
  return Object.assign(guard, { scopes });
}

/**
 * Route guard for the WebSocket, which a browser opens with a single-use `?ticket=` instead of a
 * key: a request with neither is refused (401) before anything else about it is checked, its
 * query included. Which ticket, and what the key may do, the hub decides.
 */
export function requireKeyOrTicket(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.get("principal")?.kind !== "key" && !c.req.query("ticket")) {
      throw new AppError(
        "unauthorized",
        c.get("auth_error") ??
          "Authorization: Bearer <api key>, or ?ticket= from POST /v1/notifications/ticket, is required.",
        { headers: challenge },
      );
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

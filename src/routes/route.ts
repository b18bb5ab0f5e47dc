import { createRoute as defineRoute, type RouteConfig } from "@hono/zod-openapi";

/**
 * `createRoute` that states a key route's scopes in /openapi.json: the scopes of its
 * `requireKey(...)` guard become the role names of its `bearer` requirement (OAS 3.1 allows them
 * for any scheme), so the document says which keys an operation admits, from the guard itself.
 */
export function createRoute<const R extends RouteConfig>(config: R): R {
  const guards = [config.middleware].flat() as Array<{ scopes?: string[] } | undefined>;
  const scopes = guards.flatMap((guard) => guard?.scopes ?? []);
  if (scopes.length > 0 && config.security?.some((requirement) => "bearer" in requirement)) {
    return defineRoute({
      ...config,
      security: config.security.map((requirement) => ("bearer" in requirement ? { bearer: scopes } : requirement)),
    });
  }
  return defineRoute(config);
}

/**
 * OAuth 2.1 for hosted assistants (Claude, ChatGPT connectors, Cursor) that cannot be handed an API
 * key: `@cloudflare/workers-oauth-provider` runs the authorization server (metadata, dynamic client
 * registration, PKCE, tokens and refresh, in the OAUTH_KV namespace) and checks access tokens on
 * `/mcp`. The person authorizing pastes an API key on our page (routes/oauth.ts); the grant is for
 * that key, narrowed to the scopes asked for, so a token never reaches further than its key does —
 * and stops working the moment the key is revoked or expires (checked on every request, from the
 * same isolate cache as keys).
 *
 * Only the OAuth paths and `/mcp` without an API key go through the provider; every other request,
 * and `/mcp` with `erk_`/`ert_` bearers, goes straight to the app, so the hot path is unchanged.
 */
import {
  getOAuthApi,
  type OAuthHelpers,
  OAuthProvider,
  type OAuthProviderOptions,
} from "@cloudflare/workers-oauth-provider";
import type { App } from "./app";
import { getConfig } from "./config";
import { createLogger } from "./lib/log";
import type { Scope } from "./services/principal";

/** Scopes a hosted assistant may be granted: what the MCP tools need, never `admin`. */
export const OAUTH_SCOPES = ["query", "ingest"] as const satisfies Scope[];

/** What an access token carries (encrypted by the provider): the key it was granted by, narrowed. */
export interface GrantProps {
  edgerag: {
    /** tenant id */
    t: string;
    /** key id */
    k: string;
    /** scopes granted (each one the key has) */
    s: Scope[];
    /** collections granted; null = the key's own */
    c: string[] | null;
  };
}

const logger = createLogger("warn", { component: "oauth" });

const ACCESS_TOKEN_TTL_S = 3_600;
const REFRESH_TOKEN_TTL_S = 30 * 24 * 3_600;

export const OAUTH_PATHS = {
  authorize: "/oauth/authorize",
  token: "/oauth/token",
  register: "/oauth/register",
} as const;

function options(fetch: ExportedHandlerFetchHandler<Env>, origin: string): OAuthProviderOptions<Env> {
  return {
    apiRoute: "/mcp",
    apiHandler: { fetch },
    defaultHandler: { fetch },
    authorizeEndpoint: OAUTH_PATHS.authorize,
    tokenEndpoint: OAUTH_PATHS.token,
    clientRegistrationEndpoint: OAUTH_PATHS.register,
    scopesSupported: [...OAUTH_SCOPES],
    accessTokenTTL: ACCESS_TOKEN_TTL_S,
    refreshTokenTTL: REFRESH_TOKEN_TTL_S,
    resourceMetadata: { resource: `${origin}/mcp`, resource_name: "EdgeRAG" },
    // One JSON line like the rest of our logs (the provider's default is a console.warn string).
    onError: ({ status, code, description }) => {
      logger.warn("OAuth error response", { status, code, description });
    },
  };
}

/** PUBLIC_URL, or the origin the request came to (what tokens are bound to). */
function originOf(url: URL, env: Env): string {
  return getConfig(env).publicUrl ?? url.origin;
}

/** Whether the request is the provider's to answer (or to check before the app answers it). */
function forProvider({ pathname }: URL, request: Request): boolean {
  if (pathname === "/mcp") {
    // An API key or an end-user token is ours to check, as on /v1; anything else is OAuth's.
    return !/^Bearer\s+er[kt]_/i.test(request.headers.get("authorization") ?? "");
  }
  return pathname.startsWith("/oauth/") || pathname.startsWith("/.well-known/oauth-");
}

/**
 * One provider per origin it serves (normally one). The provider refuses an origin OAuth cannot
 * use (plain http off localhost): such requests get the app's own answers, `/mcp` a 401.
 */
function providerFor(app: App, origin: string): OAuthProvider<Env> | undefined {
  if (!providers.has(origin)) {
    let provider: OAuthProvider<Env> | undefined;
    try {
      provider = new OAuthProvider(options(app.fetch as ExportedHandlerFetchHandler<Env>, origin));
    } catch {
      provider = undefined;
    }
    providers.set(origin, provider);
  }
  return providers.get(origin);
}
const providers = new Map<string, OAuthProvider<Env> | undefined>();

/** The provider's own endpoints that write: open to anyone, so metered before the provider runs. */
export const OAUTH_METERED = new Set([`POST ${OAUTH_PATHS.register}`, `POST ${OAUTH_PATHS.token}`]);

/**
 * The Worker's fetch: the OAuth provider in front of the app for the paths above. `guard` sees the
 * requests the provider answers by itself that `OAUTH_METERED` names (client registration, tokens)
 * first, and may answer them instead (the rate limiter's 429).
 */
export function withOAuth(
  app: App,
  guard: (request: Request, env: Env, ctx: ExecutionContext) => Promise<Response | undefined>,
): ExportedHandlerFetchHandler<Env> {
  return async (request, env, ctx) => {
    if (!env.OAUTH_KV) {
      return app.fetch(request, env, ctx);
    }
    const url = new URL(request.url);
    const provider = forProvider(url, request) ? providerFor(app, originOf(url, env)) : undefined;
    if (!provider) {
      return app.fetch(request, env, ctx);
    }
    if (OAUTH_METERED.has(`${request.method} ${url.pathname}`)) {
      const refused = await guard(request, env, ctx);
      if (refused) {
        return refused;
      }
    }
    return provider.fetch(request, env, ctx);
  };
}

/** Never called: the helpers read the provider's settings, not its handlers. */
const unused: ExportedHandlerFetchHandler<Env> = () => new Response(null, { status: 404 });

/** The provider's helpers (authorization requests, grants) for the app's own OAuth routes. */
export function oauthApi(env: Env, origin: string): OAuthHelpers | undefined {
  try {
    return getOAuthApi(options(unused, origin), env);
  } catch {
    return undefined; // an origin OAuth cannot use (plain http off localhost)
  }
}

/**
 * OAuth grants for hosted assistants: what an authorization request asks for, what a key may grant
 * (the scopes asked for that the key has, among `query` and `ingest`; the key's collections), the
 * grant itself, and listing and revoking a tenant's grants. The provider's helpers (src/oauth.ts)
 * store clients, grants and tokens in KV; this decides what goes into them.
 */
import type { AuthRequest, ClientInfo, GrantSummary, OAuthHelpers } from "@cloudflare/workers-oauth-provider";
import { AppError } from "../errors";
import { type GrantProps, OAUTH_SCOPES } from "../oauth";
import type { CollectionService } from "./collections";
import { assertCovers, hasScope, type KeyPrincipal, type Scope, TENANT_WIDE } from "./principal";

export interface GrantOffer {
  scopes: Scope[];
  /** The collections the grant reaches, with names; null = every collection of the tenant. */
  collections: Array<{ id: string; name: string }> | null;
  filter: boolean;
}

export interface GrantView {
  id: string;
  client_id: string;
  client_name: string | null;
  key_id: string | null;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
}

const MAX_GRANTS_LISTED = 100;

export function oauthGrantService(deps: {
  /** The provider's helpers for an origin (src/oauth.ts); undefined when OAuth is not set up. */
  helpers: (origin: string) => OAuthHelpers | undefined;
  /** PUBLIC_URL, when set: the one origin tokens are bound to. */
  publicUrl: string | undefined;
  collections: CollectionService;
}) {
  /** Grants and clients are the same under every origin; requests are checked against theirs. */
  const helpers = (origin = deps.publicUrl ?? "http://localhost"): OAuthHelpers => {
    const made = deps.helpers(deps.publicUrl ?? origin);
    if (!made) {
      throw new AppError(
        "not_found",
        "OAuth is not available here: it needs the OAUTH_KV binding, and HTTPS (or http on localhost).",
      );
    }
    return made;
  };

  /** Every grant of a tenant, page by page (the listing stops early; a revocation looks at all). */
  async function* grantsOf(tenantId: string): AsyncGenerator<GrantSummary> {
    let cursor: string | undefined;
    do {
      const page = await helpers().listUserGrants(tenantId, { limit: 50, cursor });
      yield* page.items;
      cursor = page.cursor;
    } while (cursor);
  }

  /** The scopes a key grants for a request: those asked for that it has (`query` when none asked). */
  const scopesFor = (principal: KeyPrincipal, requested: string[]): Scope[] => {
    const asked = requested.length === 0 ? ["query"] : requested;
    return OAUTH_SCOPES.filter((scope) => asked.includes(scope) && hasScope(principal, scope));
  };

  return {
    /** The authorization request in `request`'s query, and the registered client that sent it. */
    async read(request: Request): Promise<{ authRequest: AuthRequest; client: ClientInfo }> {
      let authRequest: AuthRequest;
      try {
        authRequest = await helpers(new URL(request.url).origin).parseAuthRequest(request);
      } catch (error) {
        throw new AppError("bad_request", `Not a valid authorization request: ${(error as Error).message}`);
      }
      const client = await helpers().lookupClient(authRequest.clientId);
      if (!client) {
        throw new AppError("bad_request", "Unknown client_id: register the client first.");
      }
      return { authRequest, client };
    },

    /** What approving would grant; 403 when the key can grant none of the scopes asked for. */
    async offer(principal: KeyPrincipal, authRequest: AuthRequest): Promise<GrantOffer> {
      if (principal.token) {
        throw new AppError("forbidden", "Authorize with an API key (erk_…), not an end-user token.");
      }
      const scopes = scopesFor(principal, authRequest.scope);
      if (scopes.length === 0) {
        throw new AppError(
          "forbidden",
          `This API key has none of the scopes asked for (${authRequest.scope.join(", ") || "query"}).`,
        );
      }
      let collections: GrantOffer["collections"] = null;
      if (principal.collectionIds) {
        const names = new Map<string, string>();
        let cursor: string | undefined;
        do {
          const page = await deps.collections.list(principal, { limit: 100, cursor });
          for (const col of page.items) {
            names.set(col.id, col.name);
          }
          cursor = page.next_cursor ?? undefined;
        } while (cursor);
        collections = principal.collectionIds.map((id) => ({ id, name: names.get(id) ?? id }));
      }
      return { scopes, collections, filter: principal.filter !== null };
    },

    /** Grants the offer to the client; the URL to send the browser back to. */
    async approve(
      principal: KeyPrincipal,
      authRequest: AuthRequest,
      client: ClientInfo,
      origin: string,
    ): Promise<string> {
      const offer = await this.offer(principal, authRequest);
      const props: GrantProps = {
        edgerag: { t: principal.tenantId, k: principal.keyId, s: offer.scopes, c: principal.collectionIds },
      };
      const { redirectTo } = await helpers(origin).completeAuthorization({
        request: authRequest,
        userId: principal.tenantId,
        scope: offer.scopes,
        metadata: { key_id: principal.keyId, client_name: client.clientName ?? null },
        props,
      });
      return redirectTo;
    },

    /** The tenant's newest grants (admin keys that reach the whole tenant). */
    async list(principal: KeyPrincipal): Promise<{ items: GrantView[] }> {
      assertCovers(principal, TENANT_WIDE, "OAuth grants");
      const items: GrantView[] = [];
      for await (const grant of grantsOf(principal.tenantId)) {
        const metadata = (grant.metadata ?? {}) as { key_id?: string; client_name?: string | null };
        items.push({
          id: grant.id,
          client_id: grant.clientId,
          client_name: metadata.client_name ?? null,
          key_id: metadata.key_id ?? null,
          scopes: grant.scope,
          created_at: new Date(grant.createdAt * 1000).toISOString(),
          expires_at: grant.expiresAt ? new Date(grant.expiresAt * 1000).toISOString() : null,
        });
        if (items.length === MAX_GRANTS_LISTED) {
          break;
        }
      }
      return { items };
    },

    /** Revokes a grant and every token issued under it (404 if it is not the tenant's). */
    async revoke(principal: KeyPrincipal, grantId: string): Promise<void> {
      assertCovers(principal, TENANT_WIDE, "OAuth grants");
      for await (const grant of grantsOf(principal.tenantId)) {
        if (grant.id === grantId) {
          await helpers().revokeGrant(grantId, principal.tenantId);
          return;
        }
      }
      throw new AppError("not_found", "No such grant.");
    },
  };
}
export type OAuthGrantService = ReturnType<typeof oauthGrantService>;

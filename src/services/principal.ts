import type { ApiKeyRow } from "../adapters/db/schema";
import { AppError } from "../errors";
import { SCOPES, type Scope } from "../schemas/common";

export type { Scope };

/** Who is calling: a tenant's API key, or the operator holding ADMIN_TOKEN. */
export interface KeyPrincipal {
  kind: "key";
  tenantId: string;
  keyId: string;
  scopes: Scope[];
  /** null = every collection of the tenant. */
  collectionIds: string[] | null;
  rateTier: string;
}

export interface OperatorPrincipal {
  kind: "operator";
}

export type Principal = KeyPrincipal | OperatorPrincipal;

/** The principal a key row stands for (its scopes, collections and tier as stored). */
export function keyPrincipal(row: ApiKeyRow): KeyPrincipal {
  return {
    kind: "key",
    tenantId: row.tenantId,
    keyId: row.id,
    scopes: row.scopes as Scope[],
    collectionIds: row.collectionIds ?? null,
    rateTier: row.rateTier,
  };
}

/** `admin` is the tenant administrator's scope and includes the others. */
export function hasScope(principal: KeyPrincipal, scope: Scope): boolean {
  return principal.scopes.includes(scope) || principal.scopes.includes("admin");
}

/** Whether the key may touch a collection (unrestricted keys may touch all of the tenant's). */
export function canAccessCollection(principal: KeyPrincipal, collectionId: string): boolean {
  return principal.collectionIds === null || principal.collectionIds.includes(collectionId);
}

/** How far something held under a key reaches: the scopes it grants and its collections (null = all). */
export interface Reach {
  scopes: readonly Scope[];
  collectionIds: readonly string[] | null;
}

/**
 * Tenant-wide things (secrets, and later webhooks, exports and the dashboard) reach every
 * collection with every scope: only an unrestricted admin key covers them.
 */
export const TENANT_WIDE: Reach = { scopes: ["admin"], collectionIds: null };

function effectiveScopes(scopes: readonly Scope[]): Set<Scope> {
  return new Set(scopes.includes("admin") ? SCOPES : scopes);
}

/**
 * Whether a key's own reach includes `target`: every scope the target grants (admin = all) and
 * every collection it reaches. A key may act only on what it covers, so it can never hand out,
 * rotate or revoke anything that reaches further than itself.
 */
export function covers(actor: KeyPrincipal, target: Reach): boolean {
  const own = effectiveScopes(actor.scopes);
  if (![...effectiveScopes(target.scopes)].every((scope) => own.has(scope))) {
    return false;
  }
  if (actor.collectionIds === null) {
    return true;
  }
  if (target.collectionIds === null) {
    return false;
  }
  const allowed = new Set(actor.collectionIds);
  return target.collectionIds.every((id) => allowed.has(id));
}

/** `covers`, or `403 forbidden` saying what the key lacks. */
export function assertCovers(actor: KeyPrincipal, target: Reach, what: string): void {
  if (!covers(actor, target)) {
    throw new AppError(
      "forbidden",
      actor.collectionIds === null
        ? `This API key cannot act on ${what}: it grants scopes this key does not have.`
        : `This API key is restricted to collections and cannot act on ${what}, which reaches further.`,
    );
  }
}

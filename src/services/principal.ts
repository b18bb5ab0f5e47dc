import type { ApiKeyRow } from "../adapters/db/schema";
import { AppError } from "../errors";
import { type MetadataFilter, parseMetadataFilter } from "../lib/metadata-filter";
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
  /** A metadata filter ANDed into everything the caller searches or asks; null = none. */
  filter: MetadataFilter | null;
  rateTier: string;
  /** An end-user token (`ert_…`) minted by key `keyId`, rather than the key itself. */
  token?: { id: string; expiresAt: number };
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
    filter: parsedFilter(row.filter),
    rateTier: row.rateTier,
  };
}

/** Parsed expressions by the (cached) row's object: a warm key parses its filter once. */
const parsed = new WeakMap<object, MetadataFilter>();

/** A stored expression (checked when it was stored) as the tree searches run with. */
export function parsedFilter(expression: Record<string, unknown> | null | undefined): MetadataFilter | null {
  if (!expression) {
    return null;
  }
  let filter = parsed.get(expression);
  if (!filter) {
    const result = parseMetadataFilter(expression);
    if (!result.filter) {
      // Stored only after the same check: a row that fails it now is refused rather than unfiltered.
      throw new AppError("internal", "A stored key filter no longer parses.");
    }
    filter = result.filter;
    parsed.set(expression, filter);
  }
  return filter;
}

/** The metadata filter a search or answer runs with: the caller's own (mandatory) AND the request's. */
export function effectiveFilter(
  principal: KeyPrincipal,
  requested: MetadataFilter | undefined,
): MetadataFilter | undefined {
  if (!principal.filter) {
    return requested;
  }
  return requested ? { and: [principal.filter, requested] } : principal.filter;
}

/**
 * Refuses what a filtered caller (a key with a mandatory filter, or a token) cannot be given
 * safely: tenant-wide event streams and listings that are not filtered by document metadata.
 */
export function assertUnfiltered(principal: KeyPrincipal, what: string): void {
  if (principal.filter) {
    throw new AppError(
      "forbidden",
      `A key or token with a metadata filter cannot use ${what}: it is not filtered by document metadata.`,
    );
  }
}

/** `admin` is the tenant administrator's scope and includes the others. */
export function hasScope(principal: KeyPrincipal, scope: Scope): boolean {
  return principal.scopes.includes(scope) || principal.scopes.includes("admin");
}

/** Whether the key has at least one of `scopes`. */
export function hasAnyScope(principal: KeyPrincipal, scopes: readonly Scope[]): boolean {
  return scopes.some((scope) => hasScope(principal, scope));
}

/** 403 unless the key has one of `scopes`: what a REST route's guard and an MCP tool both check. */
export function assertScope(principal: KeyPrincipal, scopes: readonly Scope[]): void {
  if (!hasAnyScope(principal, scopes)) {
    throw new AppError("forbidden", `This API key lacks the ${scopes.map((s) => `"${s}"`).join(" or ")} scope.`);
  }
}

/** Whether the key may touch a collection (unrestricted keys may touch all of the tenant's). */
export function canAccessCollection(principal: KeyPrincipal, collectionId: string): boolean {
  return principal.collectionIds === null || principal.collectionIds.includes(collectionId);
}

/** How far something held under a key reaches: the scopes it grants and its collections (null = all). */
export interface Reach {
  scopes: readonly Scope[];
  collectionIds: readonly string[] | null;
  /** Its mandatory metadata filter; absent or null = every document. */
  filter?: MetadataFilter | null;
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
  if (actor.filter && !narrows(target.filter, actor.filter)) {
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

/**
 * Whether `target` is `filter` or `filter` ANDed with more (as keys and tokens a filtered key
 * creates are): then it can only select fewer documents. Other shapes are not compared.
 */
function narrows(target: MetadataFilter | null | undefined, filter: MetadataFilter): boolean {
  if (!target) {
    return false;
  }
  const own = JSON.stringify(filter);
  return JSON.stringify(target) === own || ("and" in target && target.and.some((f) => JSON.stringify(f) === own));
}

/** `covers`, or `403 forbidden` saying what the key lacks. */
export function assertCovers(actor: KeyPrincipal, target: Reach, what: string): void {
  if (!covers(actor, target)) {
    throw new AppError(
      "forbidden",
      actor.filter
        ? `This API key has a metadata filter and cannot act on ${what}, which reaches documents outside it.`
        : actor.collectionIds === null
          ? `This API key cannot act on ${what}: it grants scopes this key does not have.`
          : `This API key is restricted to collections and cannot act on ${what}, which reaches further.`,
    );
  }
}

/** Who is calling: a tenant's API key, or the operator holding ADMIN_TOKEN. */
export const SCOPES = ["query", "ingest", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

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

/** `admin` is the tenant administrator's scope and includes the others. */
export function hasScope(principal: KeyPrincipal, scope: Scope): boolean {
  return principal.scopes.includes(scope) || principal.scopes.includes("admin");
}

/** Whether the key may touch a collection (unrestricted keys may touch all of the tenant's). */
export function canAccessCollection(principal: KeyPrincipal, collectionId: string): boolean {
  return principal.collectionIds === null || principal.collectionIds.includes(collectionId);
}

/**
 * Credential checks. API keys are `erk_<key id>_<secret>`; only SHA-256 of the secret is stored and
 * compared in constant time. Key rows are cached per isolate with stale-while-revalidate: fresh
 * for API_KEY_CACHE_FRESH_MS (5 s), then served while one background read refreshes them, and
 * never older than API_KEY_CACHE_TTL_MS (<= 30 s). So a warm key costs no D1 read on the request,
 * a revocation elsewhere takes effect within 30 s, and at once in the isolate that revoked it.
 */
import { and, eq, isNull, lte, or } from "drizzle-orm";
import type { Db } from "../adapters/db/client";
import { type ApiKeyRow, apiKeys } from "../adapters/db/schema";
import type { Config } from "../config";
import { constantTimeEqual, digestsEqual, sha256Hex } from "../lib/crypto";
import { Lru } from "../lib/lru";
import type { MetadataFilter } from "../lib/metadata-filter";
import { SwrCache } from "../lib/swr";
import type { GrantProps } from "../oauth";
import { effectiveFilter, hasScope, keyPrincipal, type Principal, parsedFilter, type Scope } from "./principal";
import { verifyToken } from "./tokens";

const KEY_PATTERN = /^erk_([A-Za-z0-9]{16})_([A-Za-z0-9]{32})$/;
const LAST_USED_INTERVAL_MS = 60_000;

/** Key rows by id; `null` remembers a key id that does not exist, so guessing costs no query. */
const keyRows = new SwrCache<ApiKeyRow | null>(10_000);
const lastUsedWrites = new Lru<number>(10_000);

export type Credentials = { kind: "none" } | { kind: "invalid"; reason: string } | { kind: "ok"; principal: Principal };

export function parseApiKey(token: string): { keyId: string; secret: string } | undefined {
  const match = KEY_PATTERN.exec(token);
  if (!match?.[1] || !match[2]) {
    return undefined;
  }
  return { keyId: match[1], secret: match[2] };
}

/** The bearer token of an Authorization header, if it has one. */
export function bearerToken(header: string | undefined | null): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

export function forgetKey(keyId: string): void {
  keyRows.invalidate(keyId);
}

async function readKey(db: Db, keyId: string): Promise<ApiKeyRow | null> {
  return (await db.select().from(apiKeys).where(eq(apiKeys.id, keyId)).get()) ?? null;
}

async function loadKey(deps: AuthDeps, keyId: string): Promise<ApiKeyRow | null> {
  const times = { freshMs: deps.config.apiKeyCacheFreshMs, maxAgeMs: deps.config.apiKeyCacheTtlMs };
  const cached = keyRows.peek(keyId, times);
  if (cached) {
    if (cached.refresh) {
      const started = Date.now();
      deps.defer(
        readKey(deps.db, keyId).then(
          (row) => keyRows.refreshed(keyId, cached.entry, row, started, times),
          () => keyRows.release(keyId),
        ),
      );
    }
    return cached.entry.value;
  }
  const started = Date.now();
  const row = await readKey(deps.db, keyId);
  keyRows.put(keyId, row, started, times);
  return row;
}

/** Checks a secret against a key row: current secret, or the previous one within its grace period. */
async function secretMatches(row: ApiKeyRow, secret: string, now: number): Promise<boolean> {
  // Both sides are SHA-256 hex digests (fixed length): compared as they are, in constant time.
  const hash = await sha256Hex(secret);
  if (digestsEqual(hash, row.secretHash)) {
    return true;
  }
  return (
    row.previousSecretHash !== null &&
    row.previousExpiresAt !== null &&
    row.previousExpiresAt > now &&
    digestsEqual(hash, row.previousSecretHash)
  );
}

export interface AuthDeps {
  db: Db;
  config: Config;
  /** Background work of the invocation (`waitUntil`): the stale key's refresh. */
  defer: (work: Promise<unknown>) => void;
}

/**
 * Identifies the caller from an Authorization header. `operatorRoute` selects which credential is
 * acceptable: the operator token on /v1/admin/*, tenant API keys everywhere else.
 */
export async function authenticate(
  deps: AuthDeps,
  header: string | undefined,
  operatorRoute: boolean,
): Promise<Credentials> {
  const token = bearerToken(header);
  if (token === undefined) {
    return header ? { kind: "invalid", reason: "Authorization must be `Bearer <token>`." } : { kind: "none" };
  }
  if (operatorRoute) {
    const adminToken = deps.config.adminToken;
    if (adminToken !== undefined && (await constantTimeEqual(token, adminToken))) {
      return { kind: "ok", principal: { kind: "operator" } };
    }
    return { kind: "invalid", reason: "Invalid operator token." };
  }
  const now = Date.now();
  if (token.startsWith("ert_")) {
    return authenticateToken(deps, token, now);
  }
  const parsed = parseApiKey(token);
  if (!parsed) {
    return { kind: "invalid", reason: "Malformed API key." };
  }
  const row = await loadKey(deps, parsed.keyId);
  if (!row || !(await secretMatches(row, parsed.secret, now))) {
    return { kind: "invalid", reason: "Invalid API key." };
  }
  if (row.expiresAt !== null && row.expiresAt <= now) {
    return { kind: "invalid", reason: "The API key has expired." };
  }
  return { kind: "ok", principal: keyPrincipal(row) };
}

/**
 * An end-user token: its signature and expiry (no database), then the key that minted it, from
 * the same isolate cache as keys (no database read when warm). The token reaches no further than
 * that key does now: scopes and collections are intersected, filters ANDed.
 */
async function authenticateToken(deps: AuthDeps, token: string, now: number): Promise<Credentials> {
  const verified = await verifyToken(token, deps.config.keyRing, now);
  if ("reason" in verified) {
    return { kind: "invalid", reason: verified.reason };
  }
  const { claims } = verified;
  return narrowedKey(
    deps,
    now,
    { tenantId: claims.t, keyId: claims.k, scopes: claims.s, collectionIds: claims.c },
    {
      filter: parsedFilter(claims.f) ?? undefined,
      token: { id: claims.j, expiresAt: claims.e * 1000 },
    },
  );
}

/** What a delegated credential (an end-user token, an OAuth grant) names: a key, and how far it reaches. */
interface Delegation {
  tenantId: string;
  keyId: string;
  scopes: Scope[];
  /** null = the key's own collections */
  collectionIds: string[] | null;
}

/**
 * The key a delegated credential was made from, from the same isolate cache as keys (no database
 * read when warm), narrowed: the credential reaches no further than that key does now — scopes and
 * collections intersected, filters ANDed — and dies with it.
 */
async function narrowedKey(
  deps: AuthDeps,
  now: number,
  delegation: Delegation,
  extra: { filter?: MetadataFilter; token: { id: string; expiresAt: number } },
): Promise<Credentials> {
  const row = await loadKey(deps, delegation.keyId);
  if (!row || row.tenantId !== delegation.tenantId || (row.expiresAt !== null && row.expiresAt <= now)) {
    return { kind: "invalid", reason: "The API key that granted this access was revoked or has expired." };
  }
  const key = keyPrincipal(row);
  const collectionIds =
    delegation.collectionIds === null
      ? key.collectionIds
      : delegation.collectionIds.filter((id) => key.collectionIds?.includes(id) ?? true);
  return {
    kind: "ok",
    principal: {
      ...key,
      scopes: delegation.scopes.filter((scope) => hasScope(key, scope)),
      collectionIds,
      filter: effectiveFilter(key, extra.filter) ?? null,
      token: extra.token,
    },
  };
}

/**
 * An OAuth access token the provider has checked (src/oauth.ts): the grant's key, narrowed to the
 * grant. `grantId` names it for what is owned per credential (conversations).
 */
export function authenticateGrant(
  deps: AuthDeps,
  grant: GrantProps["edgerag"],
  access: { grantId: string; expiresAt: number },
): Promise<Credentials> {
  return narrowedKey(
    deps,
    Date.now(),
    { tenantId: grant.t, keyId: grant.k, scopes: grant.s, collectionIds: grant.c },
    {
      token: { id: `oauth:${access.grantId}`, expiresAt: access.expiresAt },
    },
  );
}

/**
 * Records `last_used_at`, at most once a minute per key (per isolate, and guarded in SQL so other
 * isolates do not write more often either). Meant for `waitUntil`, off the hot path.
 */
export async function touchLastUsed(db: Db, keyId: string, now = Date.now()): Promise<void> {
  const last = lastUsedWrites.get(keyId);
  if (last !== undefined && now - last < LAST_USED_INTERVAL_MS) {
    return;
  }
  lastUsedWrites.set(keyId, now, LAST_USED_INTERVAL_MS);
  await db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(
      and(eq(apiKeys.id, keyId), or(isNull(apiKeys.lastUsedAt), lte(apiKeys.lastUsedAt, now - LAST_USED_INTERVAL_MS))),
    )
    .run();
}

/** The capability the auth middleware calls: `services.auth.authenticate(header, operatorRoute)`. */
export function authService(deps: AuthDeps) {
  return {
    authenticate: (header: string | undefined, operatorRoute: boolean) => authenticate(deps, header, operatorRoute),
    /** An OAuth access token's grant, as the provider decrypted it. */
    grant: (grant: GrantProps["edgerag"], access: { grantId: string; expiresAt: number }) =>
      authenticateGrant(deps, grant, access),
    /** `last_used_at`, at most once a minute per key; for `waitUntil`. */
    touch: (keyId: string) => touchLastUsed(deps.db, keyId),
  };
}
export type AuthService = ReturnType<typeof authService>;

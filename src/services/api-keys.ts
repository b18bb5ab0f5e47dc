/**
 * Tenant API keys: create, list, rotate with a grace period, revoke. Every query is scoped by
 * tenant id, so another tenant's key is indistinguishable from a missing one (404).
 */
import { and, count, desc, eq, sql } from "drizzle-orm";
import { type Db, inList } from "../adapters/db/client";
import { type ApiKeyRow, apiKeys, collections, tenants } from "../adapters/db/schema";
import type { Config } from "../config";
import { AppError } from "../errors";
import { sha256Hex } from "../lib/crypto";
import { randomBase62 } from "../lib/ids";
import { toExpression } from "../lib/metadata-filter";
import type { ApiKeyView, CreateApiKeyInput } from "../schemas/api-keys";
import { iso } from "../schemas/common";
import type { CreateTokenInput } from "../schemas/tokens";
import { forgetKey } from "./auth";
import type { Notify } from "./notifications/service";
import { ownedRow } from "./owned";
import { assertCovers, covers, type KeyPrincipal, parsedFilter, type Reach, type Scope } from "./principal";
import { tierForKey, tierPolicy } from "./rate-tiers";
import { mintToken } from "./tokens";

/** A tenant may hold at most this many keys (revoked keys are deleted and do not count). */
export const MAX_KEYS_PER_TENANT = 100;

export interface NewSecret {
  key: string;
  secretHash: string;
}

/** A fresh key: 16 base62 id characters and a 32-character base62 secret (~190 bits). */
export async function mintKey(keyId = randomBase62(16)): Promise<{ keyId: string } & NewSecret> {
  const secret = randomBase62(32);
  return { keyId, key: `erk_${keyId}_${secret}`, secretHash: await sha256Hex(secret) };
}

export function toView(row: ApiKeyRow, now = Date.now()): ApiKeyView {
  const graceOpen = row.previousExpiresAt !== null && row.previousExpiresAt > now;
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes as Scope[],
    collection_ids: row.collectionIds ?? null,
    filter: row.filter ?? null,
    rate_tier: row.rateTier,
    expires_at: iso(row.expiresAt),
    last_used_at: iso(row.lastUsedAt),
    rotated_at: iso(row.rotatedAt),
    previous_key_expires_at: graceOpen ? iso(row.previousExpiresAt) : null,
    created_at: iso(row.createdAt),
  };
}

export interface KeyDeps {
  db: Db;
  config: Config;
}

export async function createApiKey(
  deps: KeyDeps,
  creator: KeyPrincipal,
  input: CreateApiKeyInput,
): Promise<ApiKeyView & { key: string }> {
  const now = Date.now();
  const [tenant, [{ total } = { total: 0 }]] = await Promise.all([
    deps.db.select({ maxRateTier: tenants.maxRateTier }).from(tenants).where(eq(tenants.id, creator.tenantId)).get(),
    deps.db.select({ total: count() }).from(apiKeys).where(eq(apiKeys.tenantId, creator.tenantId)),
  ]);
  const rateTier = tierForKey(deps.config, tierPolicy(deps.config, tenant?.maxRateTier ?? null), input.rate_tier);
  const expiresAt = input.expires_at === undefined ? null : Date.parse(input.expires_at);
  if (expiresAt !== null && expiresAt <= now) {
    throw new AppError("validation_failed", "expires_at must be in the future.", {
      errors: [{ path: "expires_at", message: "must be in the future" }],
    });
  }
  const collectionIds = input.collection_ids ? [...new Set(input.collection_ids)] : null;
  // A filtered key's keys carry its filter too: they can only select fewer documents.
  const filter = narrowed(creator, input.filter);
  // A key cannot mint a key that reaches further than itself.
  assertCovers(
    creator,
    { scopes: input.scopes, collectionIds, filter: parsedFilter(filter) },
    "a key with these scopes and collections",
  );
  if (collectionIds !== null) {
    const found = await deps.db
      .select({ id: collections.id })
      .from(collections)
      .where(and(eq(collections.tenantId, creator.tenantId), inList(collections.id, collectionIds)));
    const known = new Set(found.map((row) => row.id));
    const unknown = collectionIds.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new AppError("validation_failed", "Unknown collection ids.", {
        errors: unknown.map((id) => ({ path: "collection_ids", message: `no collection ${id}` })),
      });
    }
  }
  if (total >= MAX_KEYS_PER_TENANT) {
    throw new AppError("conflict", `A tenant may hold at most ${MAX_KEYS_PER_TENANT} API keys; delete one first.`);
  }
  const minted = await mintKey();
  const row: ApiKeyRow = {
    id: minted.keyId,
    tenantId: creator.tenantId,
    name: input.name,
    secretHash: minted.secretHash,
    previousSecretHash: null,
    previousExpiresAt: null,
    scopes: input.scopes,
    collectionIds,
    filter,
    rateTier,
    expiresAt,
    lastUsedAt: null,
    rotatedAt: null,
    createdAt: now,
  };
  await deps.db.insert(apiKeys).values(row).run();
  return { ...toView(row, now), key: minted.key };
}

/** Built once per drizzle handle: query building is measurable on a route this hot. */
const listStatements = new WeakMap<Db, ReturnType<typeof prepareList>>();

function prepareList(db: Db) {
  return db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.tenantId, sql.placeholder("tenantId")))
    .orderBy(desc(apiKeys.createdAt))
    .limit(MAX_KEYS_PER_TENANT)
    .prepare();
}

/** The tenant's keys that `principal` covers (a restricted key sees only keys within its reach). */
export async function listApiKeys(db: Db, principal: KeyPrincipal): Promise<ApiKeyView[]> {
  let statement = listStatements.get(db);
  if (!statement) {
    statement = prepareList(db);
    listStatements.set(db, statement);
  }
  const rows = await statement.all({ tenantId: principal.tenantId });
  const now = Date.now();
  return rows.filter((row) => covers(principal, reachOf(row))).map((row) => toView(row, now));
}

function reachOf(row: ApiKeyRow): Reach {
  return { scopes: row.scopes as Scope[], collectionIds: row.collectionIds ?? null, filter: parsedFilter(row.filter) };
}

/** The filter expression of something a key creates: the key's own AND what was asked for. */
export function narrowed(
  creator: KeyPrincipal,
  requested: Record<string, unknown> | undefined,
): Record<string, unknown> | null {
  const own = creator.filter ? toExpression(creator.filter) : null;
  if (own && requested) {
    return { $and: [own, requested] };
  }
  return own ?? requested ?? null;
}

/** A key of the caller's tenant (404 otherwise) that the caller covers (403 otherwise). */
async function keyInReach(db: Db, principal: KeyPrincipal, keyId: string): Promise<void> {
  const row = await ownedRow(db, apiKeys, keyId, principal.tenantId, "API key");
  assertCovers(principal, reachOf(row), "this key");
}

/**
 * Issues a new secret. The previous secret keeps working for `graceSeconds` (0 = not at all);
 * a second rotation inside the grace period ends the older secret at once. A key's scopes and
 * collections never change, so the reach checked first is the reach of the row updated.
 */
export async function rotateApiKey(
  db: Db,
  principal: KeyPrincipal,
  keyId: string,
  graceSeconds: number,
): Promise<ApiKeyView & { key: string }> {
  await keyInReach(db, principal, keyId);
  const now = Date.now();
  const minted = await mintKey(keyId);
  const row = await db
    .update(apiKeys)
    .set({
      previousSecretHash: graceSeconds > 0 ? apiKeys.secretHash : null,
      previousExpiresAt: graceSeconds > 0 ? now + graceSeconds * 1000 : null,
      secretHash: minted.secretHash,
      rotatedAt: now,
    })
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, principal.tenantId)))
    .returning()
    .get();
  if (!row) {
    throw new AppError("not_found", "No such API key.");
  }
  forgetKey(keyId);
  return { ...toView(row, now), key: minted.key };
}

/** Deletes a key; it stops working at once in this isolate and within the cache TTL everywhere. */
export async function revokeApiKey(db: Db, principal: KeyPrincipal, keyId: string): Promise<void> {
  await keyInReach(db, principal, keyId);
  const deleted = await db
    .delete(apiKeys)
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, principal.tenantId)))
    .returning({ id: apiKeys.id })
    .get();
  if (!deleted) {
    throw new AppError("not_found", "No such API key.");
  }
  forgetKey(keyId);
}

/**
 * The capability routes call as `services.apiKeys.<verb>(principal, input)`. A rotation publishes
 * `api_key.rotated`; a revocation, or a rotation without grace, closes the key's notification
 * sockets with 4401.
 */
export function apiKeyService(
  deps: KeyDeps & {
    notifications: { publish: Notify; disconnectKey(tenantId: string, keyId: string, reason: string): void };
  },
) {
  return {
    create: (principal: KeyPrincipal, input: CreateApiKeyInput) => createApiKey(deps, principal, input),
    mintToken: (principal: KeyPrincipal, input: CreateTokenInput) => mintToken(deps.config, principal, input),
    list: (principal: KeyPrincipal) => listApiKeys(deps.db, principal),
    async rotate(principal: KeyPrincipal, input: { id: string; graceSeconds: number }) {
      const key = await rotateApiKey(deps.db, principal, input.id, input.graceSeconds);
      if (input.graceSeconds === 0) {
        // The old secret stopped working now: so do the sockets opened with it (4401). No socket can
        // have been opened with the new secret yet; it was minted by this call.
        deps.notifications.disconnectKey(principal.tenantId, input.id, "the API key was rotated");
      }
      deps.notifications.publish(principal.tenantId, "api_key.rotated", {
        key_id: key.id,
        name: key.name,
        rotated_by: principal.keyId,
        previous_key_expires_at: key.previous_key_expires_at,
      });
      return key;
    },
    async revoke(principal: KeyPrincipal, id: string) {
      await revokeApiKey(deps.db, principal, id);
      deps.notifications.disconnectKey(principal.tenantId, id, "the API key was revoked");
    },
  };
}
export type ApiKeyService = ReturnType<typeof apiKeyService>;

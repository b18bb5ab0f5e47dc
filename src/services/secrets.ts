/**
 * Tenant provider secrets (an LLM provider key, say), sealed with AES-256-GCM under the newest
 * ENCRYPTION_KEYS entry. Values are opened only inside services (`revealSecret`); no route returns them.
 */
import { and, asc, eq, gt, lt, or } from "drizzle-orm";
import type { Db } from "../adapters/db/client";
import { type TenantSecretRow, tenantSecrets } from "../adapters/db/schema";
import type { Config } from "../config";
import { AppError } from "../errors";
import { KeyRing } from "../lib/keyring";
import { iso } from "../schemas/common";
import { assertCovers, type KeyPrincipal, TENANT_WIDE } from "./principal";

/** A tenant may store at most this many secrets. */
export const MAX_SECRETS_PER_TENANT = 50;

/** The key ring that seals tenant data; 503 misconfigured without ENCRYPTION_KEYS. */
export function keyRingOf(config: Config): KeyRing {
  if (config.keyRing.length === 0) {
    throw new AppError("misconfigured", "Tenant secrets are unavailable: ENCRYPTION_KEYS is not set.");
  }
  return new KeyRing(config.keyRing);
}

/** The key ring for sealing tenant data; 503 misconfigured without ENCRYPTION_KEYS. */
/** Additional authenticated data: a ciphertext only opens for the tenant and name it was sealed for. */
const context = (tenantId: string, name: string) => `edgerag/secret/v1/${tenantId}/${name}`;

/** Stores a secret; secrets are tenant-wide, so only an unrestricted admin key may (403 otherwise). */
export async function putSecret(
  db: Db,
  config: Config,
  principal: KeyPrincipal,
  name: string,
  value: string,
): Promise<void> {
  assertCovers(principal, TENANT_WIDE, "tenant secrets");
  const { tenantId } = principal;
  const ring = keyRingOf(config);
  const existing = await db
    .select({ name: tenantSecrets.name })
    .from(tenantSecrets)
    .where(eq(tenantSecrets.tenantId, tenantId))
    .limit(MAX_SECRETS_PER_TENANT + 1);
  if (existing.length >= MAX_SECRETS_PER_TENANT && !existing.some((s) => s.name === name)) {
    throw new AppError("conflict", `A tenant may store at most ${MAX_SECRETS_PER_TENANT} secrets.`);
  }
  const sealed = await ring.seal(value, context(tenantId, name));
  const now = Date.now();
  await db
    .insert(tenantSecrets)
    .values({ tenantId, name, ...sealed, createdAt: now, updatedAt: now })
    .onConflictDoUpdate({
      target: [tenantSecrets.tenantId, tenantSecrets.name],
      set: { ...sealed, updatedAt: now },
    })
    .run();
}

export async function listSecrets(db: Db, principal: KeyPrincipal) {
  assertCovers(principal, TENANT_WIDE, "tenant secrets");
  const rows = await db
    .select({
      name: tenantSecrets.name,
      keyVersion: tenantSecrets.keyVersion,
      createdAt: tenantSecrets.createdAt,
      updatedAt: tenantSecrets.updatedAt,
    })
    .from(tenantSecrets)
    .where(eq(tenantSecrets.tenantId, principal.tenantId))
    .orderBy(asc(tenantSecrets.name));
  return rows.map((r) => ({
    name: r.name,
    key_version: r.keyVersion,
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
  }));
}

export async function deleteSecret(db: Db, principal: KeyPrincipal, name: string): Promise<void> {
  assertCovers(principal, TENANT_WIDE, "tenant secrets");
  const deleted = await db
    .delete(tenantSecrets)
    .where(and(eq(tenantSecrets.tenantId, principal.tenantId), eq(tenantSecrets.name, name)))
    .returning({ name: tenantSecrets.name })
    .get();
  if (!deleted) {
    throw new AppError("not_found", "No such secret.");
  }
}

/** The plaintext of a tenant's secret, for adapters that call a provider; undefined if unset. */
export async function revealSecret(
  db: Db,
  config: Config,
  tenantId: string,
  name: string,
): Promise<string | undefined> {
  const row = await db
    .select()
    .from(tenantSecrets)
    .where(and(eq(tenantSecrets.tenantId, tenantId), eq(tenantSecrets.name, name)))
    .get();
  if (!row) {
    return undefined;
  }
  return openOrExplain(keyRingOf(config), row, context(tenantId, row.name));
}

/** A secret the key ring cannot open is an operator problem (a retired key), not a client's. */
async function openOrExplain(ring: KeyRing, row: TenantSecretRow, ctx: string): Promise<string> {
  try {
    return await ring.open(row, ctx);
  } catch (error) {
    throw new AppError(
      "misconfigured",
      `A secret sealed with key v${row.keyVersion} cannot be opened; keep that key in ENCRYPTION_KEYS until re-encryption has run.`,
      { cause: error },
    );
  }
}

/**
 * Re-seals every secret still under an older key version with the newest key, in pages, so that
 * an old key can then be retired from ENCRYPTION_KEYS. A secret that does not open (its key is
 * gone, or the row was tampered with) is counted in `failed` and left as it is. Idempotent.
 */
export async function reencryptAll(
  db: Db,
  config: Config,
): Promise<{ re_encrypted: number; failed: number; key_version: number }> {
  const ring = keyRingOf(config);
  const newest = ring.newestVersion ?? 0;
  let reEncrypted = 0;
  let failed = 0;
  let cursor = { tenantId: "", name: "" };
  for (;;) {
    const page = await db
      .select()
      .from(tenantSecrets)
      .where(
        and(
          lt(tenantSecrets.keyVersion, newest),
          or(
            gt(tenantSecrets.tenantId, cursor.tenantId),
            and(eq(tenantSecrets.tenantId, cursor.tenantId), gt(tenantSecrets.name, cursor.name)),
          ),
        ),
      )
      .orderBy(asc(tenantSecrets.tenantId), asc(tenantSecrets.name))
      .limit(100);
    const last = page.at(-1);
    if (!last) {
      break;
    }
    cursor = { tenantId: last.tenantId, name: last.name };
    const now = Date.now();
    const resealed = await Promise.all(
      page.map(async (row) => {
        const ctx = context(row.tenantId, row.name);
        try {
          return { row, sealed: await ring.seal(await ring.open(row, ctx), ctx) };
        } catch {
          return undefined;
        }
      }),
    );
    const updates = resealed.flatMap((item) =>
      item
        ? [
            db
              .update(tenantSecrets)
              .set({ ...item.sealed, updatedAt: now })
              .where(and(eq(tenantSecrets.tenantId, item.row.tenantId), eq(tenantSecrets.name, item.row.name))),
          ]
        : [],
    );
    failed += page.length - updates.length;
    const [first, ...rest] = updates;
    if (first) {
      await db.batch([first, ...rest]);
    }
    reEncrypted += updates.length;
  }
  return { re_encrypted: reEncrypted, failed, key_version: newest };
}

/** The capability routes call as `services.secrets.<verb>(principal, input)`. */
export function secretService(deps: { db: Db; config: Config }) {
  return {
    put: (principal: KeyPrincipal, input: { name: string; value: string }) =>
      putSecret(deps.db, deps.config, principal, input.name, input.value),
    list: (principal: KeyPrincipal) => listSecrets(deps.db, principal),
    delete: (principal: KeyPrincipal, name: string) => deleteSecret(deps.db, principal, name),
    /** Operator maintenance: re-seal every tenant's secrets under the newest key. */
    reencryptAll: () => reencryptAll(deps.db, deps.config),
  };
}
export type SecretService = ReturnType<typeof secretService>;

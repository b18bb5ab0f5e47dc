import { and, eq } from "drizzle-orm";
import { type Db, inList } from "../adapters/db/client";
import { apiKeys, type TenantRow, tenants } from "../adapters/db/schema";
import type { Config } from "../config";
import { AppError } from "../errors";
import { newId } from "../lib/ids";
import { iso } from "../schemas/common";
import type { CreateTenantInput, TenantView, UpdateTenantInput } from "../schemas/tenants";
import { mintKey } from "./api-keys";
import { forgetKey } from "./auth";
import type { Scope } from "./principal";
import { knownTier, tenantTiers, tierPolicy } from "./rate-tiers";

function toView(row: TenantRow, config: Config): TenantView {
  return {
    id: row.id,
    name: row.name,
    max_rate_tier: tierPolicy(config, row.maxRateTier).max,
    created_at: iso(row.createdAt),
  };
}

/** Creates a tenant and its first key (scope `admin`) in one D1 batch: both or neither. */
export async function createTenant(db: Db, config: Config, input: CreateTenantInput) {
  const now = Date.now();
  const maxRateTier = input.max_rate_tier ?? null;
  if (maxRateTier !== null) {
    knownTier(config, maxRateTier, "max_rate_tier");
  }
  const row: TenantRow = { id: newId("ten"), name: input.name, maxRateTier, createdAt: now };
  const minted = await mintKey();
  const scopes: Scope[] = ["admin"];
  await db.batch([
    db.insert(tenants).values(row),
    db.insert(apiKeys).values({
      id: minted.keyId,
      tenantId: row.id,
      name: "initial admin key",
      secretHash: minted.secretHash,
      scopes,
      collectionIds: null,
      rateTier: tierPolicy(config, maxRateTier).fallback,
      createdAt: now,
    }),
  ]);
  return { tenant: toView(row, config), api_key: { id: minted.keyId, key: minted.key, scopes } };
}

/**
 * Changes what the operator grants a tenant. Lowering `max_rate_tier` also moves the tenant's keys
 * that are on a faster tier down to the new maximum, in the same batch, so no key keeps a budget
 * the tenant no longer has (other isolates see it within the key cache TTL).
 */
export async function updateTenant(db: Db, config: Config, tenantId: string, input: UpdateTenantInput) {
  knownTier(config, input.max_rate_tier, "max_rate_tier");
  const policy = tierPolicy(config, input.max_rate_tier);
  const faster = tenantTiers(config).filter((name) => !policy.allows(name));
  const [updated, moved] = await db.batch([
    db.update(tenants).set({ maxRateTier: input.max_rate_tier }).where(eq(tenants.id, tenantId)).returning(),
    db
      .update(apiKeys)
      .set({ rateTier: policy.max })
      .where(and(eq(apiKeys.tenantId, tenantId), inList(apiKeys.rateTier, faster)))
      .returning({ id: apiKeys.id }),
  ]);
  const row = updated[0];
  if (!row) {
    throw new AppError("not_found", "No such tenant.");
  }
  for (const key of moved) {
    forgetKey(key.id);
  }
  return toView(row, config);
}

/** The operator capability: `services.tenants.<verb>(input)` (no tenant principal: ADMIN_TOKEN). */
export function tenantService(deps: { db: Db; config: Config }) {
  return {
    create: (input: CreateTenantInput) => createTenant(deps.db, deps.config, input),
    update: (id: string, input: UpdateTenantInput) => updateTenant(deps.db, deps.config, id, input),
  };
}
export type TenantService = ReturnType<typeof tenantService>;

import type { Db } from "../adapters/db/client";
import { apiKeys, tenants } from "../adapters/db/schema";
import type { Config } from "../config";
import { newId } from "../lib/ids";
import { iso } from "../schemas/common";
import { mintKey } from "./api-keys";
import type { Scope } from "./principal";

/** Creates a tenant and its first key (scope `admin`) in one D1 batch: both or neither. */
export async function createTenant(db: Db, config: Config, name: string) {
  const now = Date.now();
  const tenantId = newId("ten");
  const minted = await mintKey();
  const scopes: Scope[] = ["admin"];
  await db.batch([
    db.insert(tenants).values({ id: tenantId, name, createdAt: now }),
    db.insert(apiKeys).values({
      id: minted.keyId,
      tenantId,
      name: "initial admin key",
      secretHash: minted.secretHash,
      scopes,
      collectionIds: null,
      rateTier: config.defaultRateTier,
      createdAt: now,
    }),
  ]);
  return {
    tenant: { id: tenantId, name, created_at: iso(now) },
    api_key: { id: minted.keyId, key: minted.key, scopes },
  };
}

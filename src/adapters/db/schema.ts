/**
 * The D1 schema: the single source of truth for table types. Migrations in migrations/ are
 * generated from this file by `npm run db:generate` (drizzle-kit) and never hand-edited.
 * Times are stored as epoch milliseconds and rendered as ISO-8601 at the API boundary.
 */
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const tenants = sqliteTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: integer("created_at").notNull(),
});

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** SHA-256 (hex) of the current secret; the secret itself is never stored. */
    secretHash: text("secret_hash").notNull(),
    /** The previous secret after a rotation, valid until `previous_expires_at`. */
    previousSecretHash: text("previous_secret_hash"),
    previousExpiresAt: integer("previous_expires_at"),
    /** JSON array of scopes: query | ingest | admin. */
    scopes: text("scopes", { mode: "json" }).$type<string[]>().notNull(),
    /** JSON array of collection ids the key is restricted to; null = every collection. */
    collectionIds: text("collection_ids", { mode: "json" }).$type<string[] | null>(),
    rateTier: text("rate_tier").notNull(),
    expiresAt: integer("expires_at"),
    lastUsedAt: integer("last_used_at"),
    rotatedAt: integer("rotated_at"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("api_keys_tenant_idx").on(t.tenantId, t.createdAt)],
);

export const tenantSecrets = sqliteTable(
  "tenant_secrets",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** Version of the ENCRYPTION_KEYS entry that sealed this value. */
    keyVersion: integer("key_version").notNull(),
    /** base64 of the 96-bit IV and of the AES-GCM ciphertext (with its tag). */
    iv: text("iv").notNull(),
    ciphertext: text("ciphertext").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] }), index("tenant_secrets_key_version_idx").on(t.keyVersion)],
);

export const collections = sqliteTable(
  "collections",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    /** Bumped on every content change; part of every answer-cache key, so stale answers are never served. */
    version: integer("version").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("collections_tenant_name_idx").on(t.tenantId, t.name),
    index("collections_tenant_created_idx").on(t.tenantId, t.createdAt, t.id),
  ],
);

export type TenantRow = typeof tenants.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type TenantSecretRow = typeof tenantSecrets.$inferSelect;
export type CollectionRow = typeof collections.$inferSelect;

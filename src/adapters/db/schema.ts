/**
 * The D1 schema: the single source of truth for table types. Migrations in migrations/ are
 * generated from this file by `npm run db:generate` (drizzle-kit) and never hand-edited.
 * Times are stored as epoch milliseconds and rendered as ISO-8601 at the API boundary.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const tenants = sqliteTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  /** The fastest rate tier the tenant's keys may use, set by the operator; null = RATE_LIMIT_DEFAULT_TIER. */
  maxRateTier: text("max_rate_tier"),
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
    /** The metadata expression ANDed into everything the key searches or asks, as written; null = none. */
    filter: text("filter", { mode: "json" }).$type<Record<string, unknown> | null>(),
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
    /** The embedder whose vectors the collection holds, set by its first document: never mixed. */
    embeddingModel: text("embedding_model"),
    embeddingDimensions: integer("embedding_dimensions"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("collections_tenant_name_idx").on(t.tenantId, t.name),
    index("collections_tenant_created_idx").on(t.tenantId, t.createdAt, t.id),
  ],
);

export const DOCUMENT_STATUSES = ["queued", "processing", "ready", "failed"] as const;
export const PRIORITIES = ["high", "normal", "low"] as const;

export const documents = sqliteTable(
  "documents",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    collectionId: text("collection_id")
      .notNull()
      .references(() => collections.id, { onDelete: "cascade" }),
    title: text("title").notNull(),
    mimeType: text("mime_type").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    /** SHA-256 (hex) of the original bytes: the deduplication key within a collection. */
    sha256: text("sha256").notNull(),
    status: text("status", { enum: DOCUMENT_STATUSES }).notNull(),
    error: text("error"),
    chunkCount: integer("chunk_count").notNull().default(0),
    priority: text("priority", { enum: PRIORITIES }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    metadata: text("metadata", { mode: "json" }).$type<Record<string, unknown>>(),
    /** The caller's own id (`PUT …/documents/external/{external_id}`); null for plain uploads. */
    externalId: text("external_id"),
    /** 1 for a new document; each replacement of an external id counts up. */
    version: integer("version").notNull().default(1),
    /**
     * While a new version is processed: the document it will replace (the current one keeps
     * answering until then). Null for current documents.
     */
    replaces: text("replaces"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    // Deduplication among current documents; a pending version may repeat its document's bytes
    // (a new title or metadata) until it replaces it.
    uniqueIndex("documents_collection_sha_current_idx").on(t.collectionId, t.sha256).where(sql`${t.replaces} IS NULL`),
    // One current document per external id; pending versions (`replaces` set) are not current.
    uniqueIndex("documents_external_current_idx")
      .on(t.tenantId, t.collectionId, t.externalId)
      .where(sql`${t.externalId} IS NOT NULL AND ${t.replaces} IS NULL`),
    // Versions of an external id are unique: on PostgreSQL two concurrent PUTs can read the same
    // MAX(version), and this turns the second into a retry (D1 runs one write at a time).
    uniqueIndex("documents_external_version_idx").on(t.tenantId, t.collectionId, t.externalId, t.version),
    index("documents_tenant_collection_created_idx").on(t.tenantId, t.collectionId, t.createdAt, t.id),
    index("documents_status_updated_idx").on(t.status, t.updatedAt),
  ],
);

export const chunks = sqliteTable(
  "chunks",
  {
    /** Integer key: it is the FTS5 external-content rowid. */
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    id: text("id").notNull(),
    tenantId: text("tenant_id").notNull(),
    collectionId: text("collection_id").notNull(),
    documentId: text("document_id")
      .notNull()
      .references(() => documents.id, { onDelete: "cascade" }),
    ordinal: integer("ordinal").notNull(),
    /** Document title and section heading, kept with the chunk for context (and weighted in FTS). */
    title: text("title").notNull(),
    heading: text("heading"),
    text: text("text").notNull(),
    tokenEstimate: integer("token_estimate").notNull(),
    charStart: integer("char_start").notNull(),
    charEnd: integer("char_end").notNull(),
    page: integer("page"),
  },
  (t) => [
    uniqueIndex("chunks_id_idx").on(t.id),
    uniqueIndex("chunks_document_ordinal_idx").on(t.documentId, t.ordinal),
    index("chunks_collection_idx").on(t.collectionId),
  ],
);

/**
 * Single-use WebSocket tickets for browsers (which cannot send headers on an upgrade): the SHA-256
 * of the ticket, its key, and when it expires or was used. Using one is one conditional UPDATE, so
 * a second use fails in every isolate. Revoking the key deletes its tickets.
 */
export const notificationTickets = sqliteTable(
  "notification_tickets",
  {
    hash: text("hash").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    keyId: text("key_id")
      .notNull()
      .references(() => apiKeys.id, { onDelete: "cascade" }),
    expiresAt: integer("expires_at").notNull(),
    usedAt: integer("used_at"),
  },
  (t) => [index("notification_tickets_expires_idx").on(t.expiresAt)],
);

/**
 * Outbound webhook endpoints (Standard Webhooks v1). The signing secret is sealed like a tenant
 * secret (ENCRYPTION_KEYS); during a rotation the previous one keeps signing until it expires.
 */
export const webhooks = sqliteTable(
  "webhooks",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    events: text("events", { mode: "json" }).$type<string[]>().notNull(),
    description: text("description"),
    /** The sealed `whsec_…` secret: key version, IV and ciphertext as JSON. */
    secret: text("secret", { mode: "json" }).$type<SealedSecret>().notNull(),
    previousSecret: text("previous_secret", { mode: "json" }).$type<SealedSecret>(),
    previousExpiresAt: integer("previous_expires_at"),
    disabledAt: integer("disabled_at"),
    disabledReason: text("disabled_reason"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("webhooks_tenant_created_idx").on(t.tenantId, t.createdAt, t.id)],
);

export interface SealedSecret {
  keyVersion: number;
  iv: string;
  ciphertext: string;
}

/** One event for one endpoint: its attempts so far and the next one (at least once, by the queue). */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    webhookId: text("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    tenantId: text("tenant_id").notNull(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    /** The exact JSON body sent (and signed) on every attempt. */
    payload: text("payload").notNull(),
    status: text("status", { enum: ["pending", "succeeded", "failed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at"),
    lastStatusCode: integer("last_status_code"),
    lastLatencyMs: integer("last_latency_ms"),
    lastError: text("last_error"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_event_idx").on(t.webhookId, t.eventId),
    index("webhook_deliveries_webhook_created_idx").on(t.webhookId, t.createdAt, t.id),
    index("webhook_deliveries_pending_idx").on(t.status, t.nextAttemptAt),
  ],
);

export type WebhookRow = typeof webhooks.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

/** PDF exports: what to render (`params`), its state, and the file in R2 (`exports/<tenant>/<id>.pdf`). */
export const exportsTable = sqliteTable(
  "exports",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    keyId: text("key_id").notNull(),
    kind: text("kind", { enum: ["query", "dashboard", "document"] }).notNull(),
    status: text("status", { enum: ["queued", "rendering", "ready", "failed"] }).notNull(),
    title: text("title").notNull(),
    params: text("params", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    pages: integer("pages"),
    bytes: integer("bytes"),
    error: text("error"),
    attempts: integer("attempts").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    readyAt: integer("ready_at"),
    expiresAt: integer("expires_at"),
  },
  (t) => [
    index("exports_tenant_created_idx").on(t.tenantId, t.createdAt, t.id),
    index("exports_expires_idx").on(t.expiresAt),
  ],
);
export type ExportRow = typeof exportsTable.$inferSelect;

export type TenantRow = typeof tenants.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type TenantSecretRow = typeof tenantSecrets.$inferSelect;
export type CollectionRow = typeof collections.$inferSelect;
export type DocumentRow = typeof documents.$inferSelect;
export type ChunkRow = typeof chunks.$inferSelect;

/**
 * One row per /v1/query call (failures included), written off the hot path. The text is kept for
 * the dashboard and cache warming; the answer never is. Indexed for per-tenant time ranges and
 * for "most frequent recent queries".
 */
export const queryLog = sqliteTable(
  "query_log",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").notNull(),
    keyId: text("key_id"),
    mode: text("mode").notNull(),
    /** SHA-256 of the normalized, lower-cased query. */
    queryHash: text("query_hash").notNull(),
    queryText: text("query_text").notNull(),
    /** Request body parameters needed to replay the query (collections, top_k, filter). */
    params: text("params", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    status: integer("status").notNull(),
    cacheHit: integer("cache_hit", { mode: "boolean" }).notNull(),
    degraded: text("degraded", { mode: "json" }).$type<string[]>().notNull(),
    timings: text("timings", { mode: "json" }).$type<Record<string, number>>().notNull(),
    resultCount: integer("result_count").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    index("query_log_tenant_created_idx").on(t.tenantId, t.createdAt),
    index("query_log_tenant_hash_idx").on(t.tenantId, t.queryHash, t.createdAt),
  ],
);

export type QueryLogRow = typeof queryLog.$inferSelect;

/**
 * `query_log` folded per hour and per day, per collection (`*` = every collection) and mode: the
 * dashboard reads these, never the raw log. `histogram` maps a log-spaced latency bucket
 * (`lib/histogram.ts`) to its count, so any period's percentiles merge exactly from its rows.
 */
export const queryRollups = sqliteTable(
  "query_rollups",
  {
    tenantId: text("tenant_id").notNull(),
    granularity: text("granularity", { enum: ["hour", "day"] }).notNull(),
    bucketStart: integer("bucket_start").notNull(),
    collectionId: text("collection_id").notNull(),
    mode: text("mode").notNull(),
    queries: integer("queries").notNull(),
    cacheHits: integer("cache_hits").notNull(),
    degraded: integer("degraded").notNull(),
    errors: integer("errors").notNull(),
    rateLimited: integer("rate_limited").notNull(),
    errorsByCode: text("errors_by_code", { mode: "json" }).$type<Record<string, number>>().notNull(),
    histogram: text("histogram", { mode: "json" }).$type<Record<string, number>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.granularity, t.collectionId, t.bucketStart, t.mode] })],
);
export type QueryRollupRow = typeof queryRollups.$inferSelect;

/** Per tenant and day: how often each normalized query was asked, for the dashboard's top list. */
export const topQueryRollups = sqliteTable(
  "top_query_rollups",
  {
    tenantId: text("tenant_id").notNull(),
    dayStart: integer("day_start").notNull(),
    queryHash: text("query_hash").notNull(),
    queryText: text("query_text").notNull(),
    count: integer("count").notNull(),
    lastAt: integer("last_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.dayStart, t.queryHash] })],
);

/** Progress of scheduled jobs (the rollup's watermark). */
export const jobState = sqliteTable("job_state", {
  name: text("name").primaryKey(),
  value: integer("value").notNull(),
});

/**
 * Conversations (`POST /v1/conversations`): a tenant's question-and-answer turns, so `/v1/query`
 * can rewrite a follow-up with what came before. Owned by the key (and token) that created it;
 * removed `CONVERSATION_RETENTION_DAYS` after its last turn.
 */
export const conversations = sqliteTable(
  "conversations",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    keyId: text("key_id").notNull(),
    /** The end-user token that created it, if one did: only that token (or an unfiltered admin key) uses it. */
    tokenId: text("token_id"),
    turns: integer("turns").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [
    index("conversations_tenant_idx").on(t.tenantId, t.createdAt),
    index("conversations_expires_idx").on(t.expiresAt),
  ],
);

export type ConversationRow = typeof conversations.$inferSelect;

export const conversationTurns = sqliteTable(
  "conversation_turns",
  {
    conversationId: text("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    tenantId: text("tenant_id").notNull(),
    role: text("role", { enum: ["user", "assistant"] }).notNull(),
    content: text("content").notNull(),
    /** The standalone question retrieval used (user turns). */
    rewrittenQuery: text("rewritten_query"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.seq] })],
);

export type ConversationTurnRow = typeof conversationTurns.$inferSelect;

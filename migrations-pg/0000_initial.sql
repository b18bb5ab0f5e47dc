CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"secret_hash" text NOT NULL,
	"previous_secret_hash" text,
	"previous_expires_at" bigint,
	"scopes" jsonb NOT NULL,
	"collection_ids" jsonb,
	"filter" jsonb,
	"rate_tier" text NOT NULL,
	"expires_at" bigint,
	"last_used_at" bigint,
	"rotated_at" bigint,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "chunks" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"collection_id" text NOT NULL,
	"document_id" text NOT NULL,
	"ordinal" bigint NOT NULL,
	"title" text NOT NULL,
	"heading" text,
	"text" text NOT NULL,
	"token_estimate" bigint NOT NULL,
	"char_start" bigint NOT NULL,
	"char_end" bigint NOT NULL,
	"page" bigint
);
--> statement-breakpoint
CREATE TABLE "collections" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"version" bigint DEFAULT 0 NOT NULL,
	"embedding_model" text,
	"embedding_dimensions" bigint,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "conversation_turns" (
	"conversation_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"tenant_id" text NOT NULL,
	"role" text NOT NULL,
	"content" text NOT NULL,
	"rewritten_query" text,
	"created_at" bigint NOT NULL,
	CONSTRAINT "conversation_turns_conversation_id_seq_pk" PRIMARY KEY("conversation_id","seq")
);
--> statement-breakpoint
CREATE TABLE "conversations" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"key_id" text NOT NULL,
	"token_id" text,
	"turns" bigint DEFAULT 0 NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "documents" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"collection_id" text NOT NULL,
	"title" text NOT NULL,
	"mime_type" text NOT NULL,
	"size_bytes" bigint NOT NULL,
	"sha256" text NOT NULL,
	"status" text NOT NULL,
	"error" text,
	"chunk_count" bigint DEFAULT 0 NOT NULL,
	"priority" text NOT NULL,
	"attempts" bigint DEFAULT 0 NOT NULL,
	"metadata" jsonb,
	"external_id" text,
	"version" bigint DEFAULT 1 NOT NULL,
	"replaces" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "exports" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"key_id" text NOT NULL,
	"kind" text NOT NULL,
	"status" text NOT NULL,
	"title" text NOT NULL,
	"params" jsonb NOT NULL,
	"pages" bigint,
	"bytes" bigint,
	"error" text,
	"attempts" bigint DEFAULT 0 NOT NULL,
	"created_at" bigint NOT NULL,
	"ready_at" bigint,
	"expires_at" bigint
);
--> statement-breakpoint
CREATE TABLE "job_state" (
	"name" text PRIMARY KEY NOT NULL,
	"value" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notification_tickets" (
	"hash" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"key_id" text NOT NULL,
	"expires_at" bigint NOT NULL,
	"used_at" bigint
);
--> statement-breakpoint
CREATE TABLE "query_log" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"key_id" text,
	"mode" text NOT NULL,
	"query_hash" text NOT NULL,
	"query_text" text NOT NULL,
	"params" jsonb NOT NULL,
	"status" bigint NOT NULL,
	"cache_hit" boolean NOT NULL,
	"degraded" jsonb NOT NULL,
	"timings" jsonb NOT NULL,
	"result_count" bigint NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "query_rollups" (
	"tenant_id" text NOT NULL,
	"granularity" text NOT NULL,
	"bucket_start" bigint NOT NULL,
	"collection_id" text NOT NULL,
	"mode" text NOT NULL,
	"queries" bigint NOT NULL,
	"cache_hits" bigint NOT NULL,
	"degraded" bigint NOT NULL,
	"errors" bigint NOT NULL,
	"rate_limited" bigint NOT NULL,
	"errors_by_code" jsonb NOT NULL,
	"histogram" jsonb NOT NULL,
	CONSTRAINT "query_rollups_tenant_id_granularity_collection_id_bucket_start_mode_pk" PRIMARY KEY("tenant_id","granularity","collection_id","bucket_start","mode")
);
--> statement-breakpoint
CREATE TABLE "tenant_secrets" (
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"key_version" bigint NOT NULL,
	"iv" text NOT NULL,
	"ciphertext" text NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "tenant_secrets_tenant_id_name_pk" PRIMARY KEY("tenant_id","name")
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"max_rate_tier" text,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "top_query_rollups" (
	"tenant_id" text NOT NULL,
	"day_start" bigint NOT NULL,
	"query_hash" text NOT NULL,
	"query_text" text NOT NULL,
	"count" bigint NOT NULL,
	"last_at" bigint NOT NULL,
	CONSTRAINT "top_query_rollups_tenant_id_day_start_query_hash_pk" PRIMARY KEY("tenant_id","day_start","query_hash")
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" text PRIMARY KEY NOT NULL,
	"webhook_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"event_id" text NOT NULL,
	"event_type" text NOT NULL,
	"payload" text NOT NULL,
	"status" text NOT NULL,
	"attempts" bigint DEFAULT 0 NOT NULL,
	"next_attempt_at" bigint,
	"last_status_code" bigint,
	"last_latency_ms" bigint,
	"last_error" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhooks" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"url" text NOT NULL,
	"events" jsonb NOT NULL,
	"description" text,
	"secret" jsonb NOT NULL,
	"previous_secret" jsonb,
	"previous_expires_at" bigint,
	"disabled_at" bigint,
	"disabled_reason" text,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chunks" ADD CONSTRAINT "chunks_document_id_documents_id_fk" FOREIGN KEY ("document_id") REFERENCES "public"."documents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "collections" ADD CONSTRAINT "collections_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversation_turns" ADD CONSTRAINT "conversation_turns_conversation_id_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "conversations" ADD CONSTRAINT "conversations_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "documents" ADD CONSTRAINT "documents_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "documents" ADD CONSTRAINT "documents_collection_id_collections_id_fk" FOREIGN KEY ("collection_id") REFERENCES "public"."collections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "exports" ADD CONSTRAINT "exports_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notification_tickets" ADD CONSTRAINT "notification_tickets_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notification_tickets" ADD CONSTRAINT "notification_tickets_key_id_api_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."api_keys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tenant_secrets" ADD CONSTRAINT "tenant_secrets_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_webhook_id_webhooks_id_fk" FOREIGN KEY ("webhook_id") REFERENCES "public"."webhooks"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhooks" ADD CONSTRAINT "webhooks_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_keys_tenant_idx" ON "api_keys" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "chunks_id_idx" ON "chunks" USING btree ("id");--> statement-breakpoint
CREATE UNIQUE INDEX "chunks_document_ordinal_idx" ON "chunks" USING btree ("document_id","ordinal");--> statement-breakpoint
CREATE INDEX "chunks_collection_idx" ON "chunks" USING btree ("collection_id");--> statement-breakpoint
CREATE UNIQUE INDEX "collections_tenant_name_idx" ON "collections" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE INDEX "collections_tenant_created_idx" ON "collections" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE INDEX "conversations_tenant_idx" ON "conversations" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "conversations_expires_idx" ON "conversations" USING btree ("expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "documents_collection_sha_current_idx" ON "documents" USING btree ("collection_id","sha256") WHERE "documents"."replaces" IS NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "documents_external_current_idx" ON "documents" USING btree ("tenant_id","collection_id","external_id") WHERE "documents"."external_id" IS NOT NULL AND "documents"."replaces" IS NULL;--> statement-breakpoint
CREATE INDEX "documents_external_idx" ON "documents" USING btree ("tenant_id","collection_id","external_id","version");--> statement-breakpoint
CREATE INDEX "documents_tenant_collection_created_idx" ON "documents" USING btree ("tenant_id","collection_id","created_at","id");--> statement-breakpoint
CREATE INDEX "documents_status_updated_idx" ON "documents" USING btree ("status","updated_at");--> statement-breakpoint
CREATE INDEX "exports_tenant_created_idx" ON "exports" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE INDEX "exports_expires_idx" ON "exports" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "notification_tickets_expires_idx" ON "notification_tickets" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "query_log_tenant_created_idx" ON "query_log" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "query_log_tenant_hash_idx" ON "query_log" USING btree ("tenant_id","query_hash","created_at");--> statement-breakpoint
CREATE INDEX "tenant_secrets_key_version_idx" ON "tenant_secrets" USING btree ("key_version");--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_event_idx" ON "webhook_deliveries" USING btree ("webhook_id","event_id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_webhook_created_idx" ON "webhook_deliveries" USING btree ("webhook_id","created_at","id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_pending_idx" ON "webhook_deliveries" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "webhooks_tenant_created_idx" ON "webhooks" USING btree ("tenant_id","created_at","id");
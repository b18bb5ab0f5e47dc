CREATE TABLE `query_log` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`key_id` text,
	`mode` text NOT NULL,
	`query_hash` text NOT NULL,
	`query_text` text NOT NULL,
	`params` text NOT NULL,
	`status` integer NOT NULL,
	`cache_hit` integer NOT NULL,
	`degraded` text NOT NULL,
	`timings` text NOT NULL,
	`result_count` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `query_log_tenant_created_idx` ON `query_log` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `query_log_tenant_hash_idx` ON `query_log` (`tenant_id`,`query_hash`,`created_at`);
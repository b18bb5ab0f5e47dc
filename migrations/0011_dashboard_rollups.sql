CREATE TABLE `job_state` (
	`name` text PRIMARY KEY NOT NULL,
	`value` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `query_rollups` (
	`tenant_id` text NOT NULL,
	`granularity` text NOT NULL,
	`bucket_start` integer NOT NULL,
	`collection_id` text NOT NULL,
	`mode` text NOT NULL,
	`queries` integer NOT NULL,
	`cache_hits` integer NOT NULL,
	`degraded` integer NOT NULL,
	`errors` integer NOT NULL,
	`rate_limited` integer NOT NULL,
	`errors_by_code` text NOT NULL,
	`histogram` text NOT NULL,
	PRIMARY KEY(`tenant_id`, `granularity`, `collection_id`, `bucket_start`, `mode`)
);
--> statement-breakpoint
CREATE TABLE `top_query_rollups` (
	`tenant_id` text NOT NULL,
	`day_start` integer NOT NULL,
	`query_hash` text NOT NULL,
	`query_text` text NOT NULL,
	`count` integer NOT NULL,
	`last_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `day_start`, `query_hash`)
);

CREATE TABLE `chunks` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`collection_id` text NOT NULL,
	`document_id` text NOT NULL,
	`ordinal` integer NOT NULL,
	`title` text NOT NULL,
	`heading` text,
	`text` text NOT NULL,
	`token_estimate` integer NOT NULL,
	`char_start` integer NOT NULL,
	`char_end` integer NOT NULL,
	`page` integer,
	FOREIGN KEY (`document_id`) REFERENCES `documents`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `chunks_id_idx` ON `chunks` (`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `chunks_document_ordinal_idx` ON `chunks` (`document_id`,`ordinal`);--> statement-breakpoint
CREATE INDEX `chunks_collection_idx` ON `chunks` (`collection_id`);--> statement-breakpoint
CREATE TABLE `documents` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`collection_id` text NOT NULL,
	`title` text NOT NULL,
	`mime_type` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`sha256` text NOT NULL,
	`status` text NOT NULL,
	`error` text,
	`chunk_count` integer DEFAULT 0 NOT NULL,
	`priority` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`metadata` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`collection_id`) REFERENCES `collections`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `documents_collection_sha_idx` ON `documents` (`collection_id`,`sha256`);--> statement-breakpoint
CREATE INDEX `documents_tenant_collection_created_idx` ON `documents` (`tenant_id`,`collection_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `documents_status_updated_idx` ON `documents` (`status`,`updated_at`);
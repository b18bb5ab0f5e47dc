CREATE TABLE `collections` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`version` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `collections_tenant_name_idx` ON `collections` (`tenant_id`,`name`);--> statement-breakpoint
CREATE INDEX `collections_tenant_created_idx` ON `collections` (`tenant_id`,`created_at`,`id`);
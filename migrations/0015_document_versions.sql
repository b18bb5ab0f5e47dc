DROP INDEX `documents_collection_sha_idx`;--> statement-breakpoint
ALTER TABLE `documents` ADD `external_id` text;--> statement-breakpoint
ALTER TABLE `documents` ADD `version` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `documents` ADD `replaces` text;--> statement-breakpoint
CREATE UNIQUE INDEX `documents_collection_sha_current_idx` ON `documents` (`collection_id`,`sha256`) WHERE "documents"."replaces" IS NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `documents_external_current_idx` ON `documents` (`tenant_id`,`collection_id`,`external_id`) WHERE "documents"."external_id" IS NOT NULL AND "documents"."replaces" IS NULL;--> statement-breakpoint
CREATE INDEX `documents_external_idx` ON `documents` (`tenant_id`,`collection_id`,`external_id`,`version`);
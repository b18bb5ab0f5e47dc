DROP INDEX `documents_external_idx`;--> statement-breakpoint
CREATE UNIQUE INDEX `documents_external_version_idx` ON `documents` (`tenant_id`,`collection_id`,`external_id`,`version`);
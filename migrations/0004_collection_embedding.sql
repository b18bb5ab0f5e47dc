ALTER TABLE `collections` ADD `embedding_model` text;--> statement-breakpoint
ALTER TABLE `collections` ADD `embedding_dimensions` integer;
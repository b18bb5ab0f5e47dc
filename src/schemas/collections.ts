import { z } from "@hono/zod-openapi";
import { IsoDate } from "./common";

export const CollectionIdParam = z.object({
  id: z
    .string()
    .regex(/^col_[A-Za-z0-9]{16}$/, "must be a collection id")
    .openapi({ param: { name: "id", in: "path" }, example: "col_3kP9x2LmQ7rT1vBz" }),
});

export const CreateCollectionBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    description: z.string().trim().max(1000).optional(),
  })
  .strict()
  .openapi("CreateCollection");

export const PageQuery = z.object({
  cursor: z
    .string()
    .max(200)
    .optional()
    .openapi({ param: { name: "cursor", in: "query" } }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(20)
    .openapi({ param: { name: "limit", in: "query" } }),
});

export const CollectionSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    version: z.number().int().openapi({ description: "Bumped on every content change" }),
    embedding_model: z
      .string()
      .nullable()
      .openapi({ description: "Embedder whose vectors the collection holds; set by its first ingest, never mixed" }),
    embedding_dimensions: z.number().int().nullable(),
    created_at: IsoDate,
    updated_at: IsoDate,
  })
  .openapi("Collection");

export const CollectionListSchema = z
  .object({
    items: z.array(CollectionSchema),
    next_cursor: z.string().nullable().openapi({ description: "Pass as ?cursor= for the next page; null at the end" }),
  })
  .openapi("CollectionList");

export type CollectionView = z.infer<typeof CollectionSchema>;

export const RebuildSchema = z
  .object({ queued: z.number().int().openapi({ description: "Documents queued for re-ingestion" }) })
  .openapi("Rebuild");

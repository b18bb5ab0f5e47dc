import { z } from "@hono/zod-openapi";

const CollectionId = z.string().regex(/^col_[A-Za-z0-9]{16}$/, "must be a collection id");
const DocumentId = z.string().regex(/^doc_[A-Za-z0-9]{16}$/, "must be a document id");

export const STRATEGIES = ["hybrid", "vector", "keyword"] as const;

/** Fields shared by /v1/search and /v1/query. */
export const QueryText = z
  .string()
  .transform((q) => q.trim())
  .pipe(z.string().min(1, "must not be blank").max(2_000));
export const CollectionIds = z
  .array(CollectionId)
  .min(1)
  .max(20)
  .transform((ids) => [...new Set(ids)]);
export const DocumentFilter = z
  .object({ document_ids: z.array(DocumentId).min(1).max(50).optional() })
  .strict()
  .optional();

export const SearchBody = z
  .object({
    query: QueryText,
    collection_ids: CollectionIds,
    top_k: z
      .number()
      .int()
      .min(1)
      .max(200)
      .default(10)
      .openapi({ description: "At most SEARCH_MAX_TOP_K (50 unless the operator set it otherwise)" }),
    strategy: z.enum(STRATEGIES).default("hybrid"),
    filter: DocumentFilter,
  })
  .strict()
  .openapi("Search");

export const SearchResultSchema = z
  .object({
    results: z.array(
      z.object({
        chunk_id: z.string(),
        document_id: z.string(),
        collection_id: z.string(),
        title: z.string(),
        heading: z.string().nullable(),
        text: z.string(),
        page: z.number().int().nullable(),
        score: z.number(),
        ranks: z.object({ vector: z.number().int().optional(), keyword: z.number().int().optional() }),
      }),
    ),
    timings: z.record(z.string(), z.number()).openapi({ description: "Milliseconds per stage" }),
  })
  .openapi("SearchResults");

export type SearchInput = z.infer<typeof SearchBody>;
export type SearchResults = z.infer<typeof SearchResultSchema>;

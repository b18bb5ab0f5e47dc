import { z } from "@hono/zod-openapi";
import {
  MAX_CLAUSES,
  MAX_DEPTH,
  MAX_IN_VALUES,
  MAX_VALUE_BYTES,
  parseMetadataFilter,
  toExpression,
} from "../lib/metadata-filter";

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
const FILTER_DESCRIPTION =
  `Documents whose metadata matches, in the Mongo/Pinecone style: {"field": value}, ` +
  `{"field": {"$eq"|"$ne"|"$gt"|"$gte"|"$lt"|"$lte": v}}, {"field": {"$in"|"$nin": [...]}}, ` +
  `{"field": {"$exists": bool}}, combined with $and, $or, $not. At most ${MAX_CLAUSES} operators, ` +
  `nested ${MAX_DEPTH} deep, ${MAX_IN_VALUES} values per $in; strings up to ${MAX_VALUE_BYTES} bytes, compared whole.`;
const FILTER_EXAMPLE = { department: "hr", year: { $gte: 2024 }, tags: { $in: ["policy", "benefits"] } };

/** A metadata expression as the caller wrote it, checked (422 with each offending clause's path). */
export const MetadataExpression = z
  .record(z.string(), z.unknown())
  .superRefine((value, ctx) => {
    for (const problem of parseMetadataFilter(value).problems ?? []) {
      ctx.addIssue({ code: "custom", message: problem.message, path: problem.path });
    }
  })
  .openapi({ description: FILTER_DESCRIPTION, example: FILTER_EXAMPLE });

/** A metadata expression, checked and parsed into the tree the shards compile (lib/metadata-filter.ts). */
export const MetadataFilterSchema = z
  .record(z.string(), z.unknown())
  .transform((value, ctx) => {
    const parsed = parseMetadataFilter(value);
    if (parsed.problems) {
      for (const problem of parsed.problems) {
        ctx.addIssue({ code: "custom", message: problem.message, path: problem.path });
      }
      return z.NEVER;
    }
    return parsed.filter;
  })
  .openapi({ description: FILTER_DESCRIPTION, example: FILTER_EXAMPLE });

export const DocumentFilter = z
  .object({
    document_ids: z.array(DocumentId).min(1).max(50).optional(),
    metadata: MetadataFilterSchema.optional(),
  })
  .strict()
  .optional();

/** A parsed `filter` as JSON a request body could carry again (stored, then parsed when replayed). */
export function filterJson(filter: z.infer<typeof DocumentFilter>): Record<string, unknown> | null {
  if (!filter) {
    return null;
  }
  return {
    ...(filter.document_ids ? { document_ids: filter.document_ids } : {}),
    ...(filter.metadata ? { metadata: toExpression(filter.metadata) } : {}),
  };
}

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
    degraded: z.array(z.string()).optional().openapi({
      description:
        "Present when part of the search was left out: `vector_filter_too_broad` — the metadata filter matched more documents than an external vector index can be sent, so results are keyword-only there",
    }),
  })
  .openapi("SearchResults");

export type SearchInput = z.infer<typeof SearchBody>;
export type SearchResults = z.infer<typeof SearchResultSchema>;

import { z } from "@hono/zod-openapi";

const CollectionId = z.string().regex(/^col_[A-Za-z0-9]{16}$/, "must be a collection id");
const DocumentId = z.string().regex(/^doc_[A-Za-z0-9]{16}$/, "must be a document id");

export const MODES = ["fast", "balanced", "deep"] as const;
export type Mode = (typeof MODES)[number];

export const QueryBody = z
  .object({
    query: z
      .string()
      .transform((q) => q.trim())
      .pipe(z.string().min(1, "must not be blank").max(2_000)),
    collection_ids: z
      .array(CollectionId)
      .min(1)
      .max(20)
      .transform((ids) => [...new Set(ids)]),
    mode: z.enum(MODES).default("balanced"),
    top_k: z.number().int().min(1).max(50).default(5).openapi({ description: "Sources returned (ranked)" }),
    stream: z.boolean().default(false).openapi({ description: "Same as Accept: text/event-stream" }),
    filter: z
      .object({ document_ids: z.array(DocumentId).min(1).max(50).optional() })
      .strict()
      .optional(),
  })
  .strict()
  .openapi("Query");

export const CitationSchema = z.object({
  n: z.number().int(),
  document_id: z.string(),
  chunk_id: z.string(),
  title: z.string(),
  quote: z.string(),
});

export const SourceSchema = z.object({
  document_id: z.string(),
  chunk_id: z.string(),
  title: z.string(),
  score: z.number(),
});

export const QueryResultSchema = z
  .object({
    answer: z.string(),
    citations: z.array(CitationSchema),
    sources: z.array(SourceSchema).openapi({ description: "The ranked chunks that fed the answer, best first" }),
    mode: z.enum(MODES),
    generator: z.string(),
    cache: z.enum(["hit", "miss"]),
    degraded: z.array(z.string()).openapi({ description: "Stages skipped or replaced to stay on time" }),
    timings: z.record(z.string(), z.number()).openapi({ description: "Milliseconds per stage" }),
  })
  .openapi("QueryResult");

export type QueryInput = z.infer<typeof QueryBody>;
export type QueryResult = z.infer<typeof QueryResultSchema>;
export type Citation = z.infer<typeof CitationSchema>;
export type Source = z.infer<typeof SourceSchema>;

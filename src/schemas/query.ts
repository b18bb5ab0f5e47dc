import { z } from "@hono/zod-openapi";
import { CollectionIds, DocumentFilter, QueryText } from "./search";

export const MODES = ["fast", "balanced", "deep"] as const;
export type Mode = (typeof MODES)[number];

/** Largest /v1/query body (the query itself is at most 2,000 characters). */
export const QUERY_BODY_MAX_BYTES = 65_536;

export const QueryBody = z
  .object({
    query: QueryText,
    collection_ids: CollectionIds,
    mode: z.enum(MODES).default("balanced"),
    top_k: z.number().int().min(1).max(50).default(5).openapi({ description: "Sources returned (ranked)" }),
    stream: z.boolean().default(false).openapi({ description: "Same as Accept: text/event-stream" }),
    filter: DocumentFilter,
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
    abstained: z.boolean().openapi({
      description:
        "True when the documents do not answer the question: `answer` then says so in one sentence, and `citations` is empty",
    }),
    timings: z.record(z.string(), z.number()).openapi({ description: "Milliseconds per stage" }),
  })
  .openapi("QueryResult");

export type QueryInput = z.infer<typeof QueryBody>;
export type QueryResult = z.infer<typeof QueryResultSchema>;
export type Citation = z.infer<typeof CitationSchema>;
export type Source = z.infer<typeof SourceSchema>;

import { z } from "@hono/zod-openapi";
import { ConversationId, TurnSchema } from "./conversations";
import { CollectionIds, DocumentFilter, QueryText } from "./search";

export const MODES = ["fast", "balanced", "deep"] as const;
export type Mode = (typeof MODES)[number];

/** Largest /v1/query body (the query is at most 2,000 characters; `history` 20 turns of 4,000). */
export const QUERY_BODY_MAX_BYTES = 262_144;

/** The body's fields (other interfaces — MCP's `ask` — take a subset of them). */
export const QueryFields = z
  .object({
    query: QueryText,
    collection_ids: CollectionIds,
    mode: z.enum(MODES).default("balanced"),
    top_k: z.number().int().min(1).max(50).default(5).openapi({ description: "Sources returned (ranked)" }),
    stream: z.boolean().default(false).openapi({ description: "Same as Accept: text/event-stream" }),
    filter: DocumentFilter,
    conversation_id: ConversationId.optional().openapi({
      description:
        "A conversation (POST /v1/conversations): the question is rewritten with its turns before retrieval, and it and the answer are added to it",
    }),
    history: z.array(TurnSchema).max(20).optional().openapi({
      description: "Earlier turns given inline (instead of conversation_id): the question is rewritten with them",
    }),
  })
  .strict();

export const QueryBody = QueryFields.refine((q) => q.conversation_id === undefined || q.history === undefined, {
  message: "give conversation_id or history, not both",
  path: ["history"],
}).openapi("Query");

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
    rewritten_query: z.string().optional().openapi({
      description:
        "With conversation_id or history: the standalone question retrieval and the answer used (the question itself when it stood alone)",
    }),
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

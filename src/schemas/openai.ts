import { z } from "@hono/zod-openapi";
import { MODES } from "./query";
import { CollectionIds, DocumentFilter } from "./search";

/** The models `/v1/chat/completions` answers as: one per query mode. */
export const MODELS = MODES.map((mode) => `edgerag-${mode}` as const);

const ContentPart = z
  .object({ type: z.string(), text: z.string().optional() })
  .passthrough()
  .openapi({ description: "Text parts are read; other parts (images, audio) are ignored" });

const Message = z
  .object({
    role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
    content: z.union([z.string(), z.array(ContentPart), z.null()]).optional(),
  })
  .passthrough();

/**
 * An OpenAI chat completion request. Fields EdgeRAG does not use (temperature, max_tokens, n, user,
 * tools …) are accepted and ignored, as OpenAI-compatible servers do, so clients work unmodified.
 */
export const ChatCompletionBody = z
  .object({
    model: z.enum(MODELS).openapi({ description: "edgerag-fast, edgerag-balanced or edgerag-deep: the query mode" }),
    messages: z
      .array(Message)
      .min(1)
      .max(200)
      .openapi({ description: "The conversation: the last user message is the question, earlier turns its history" }),
    stream: z.boolean().default(false),
    stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().optional(),
    collection_ids: CollectionIds.optional().openapi({
      description: "Extension: the collections to answer from (default: the key's collections, when it is restricted)",
    }),
    filter: DocumentFilter.openapi({ description: "Extension: as on /v1/query" }),
    top_k: z.number().int().min(1).max(50).default(5).openapi({ description: "Extension: sources ranked" }),
  })
  .passthrough()
  .openapi("ChatCompletionRequest");

const Citation = z.object({
  n: z.number().int(),
  document_id: z.string(),
  chunk_id: z.string(),
  title: z.string(),
  quote: z.string(),
});

const Usage = z.object({
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
});

export const ChatCompletionSchema = z
  .object({
    id: z.string(),
    object: z.literal("chat.completion"),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        message: z.object({
          role: z.literal("assistant"),
          content: z.string(),
          citations: z.array(Citation).openapi({ description: "Extension: the sources the [n] markers cite" }),
        }),
        finish_reason: z.literal("stop"),
      }),
    ),
    usage: Usage.openapi({ description: "Estimated: about four characters a token" }),
    abstained: z.boolean().openapi({ description: "Extension: as on /v1/query" }),
    rewritten_query: z.string().optional().openapi({ description: "Extension: the standalone question searched" }),
  })
  .openapi("ChatCompletion");

export const ModelListSchema = z
  .object({
    object: z.literal("list"),
    data: z.array(
      z.object({ id: z.string(), object: z.literal("model"), created: z.number().int(), owned_by: z.string() }),
    ),
  })
  .openapi("ModelList");

export type ChatCompletionInput = z.infer<typeof ChatCompletionBody>;

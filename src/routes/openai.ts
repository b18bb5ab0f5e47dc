import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { AppEnv } from "../env";
import { AppError, asAppError } from "../errors";
import type { Turn } from "../lib/rewrite";
import { keyOf, requireKey } from "../middleware/auth";
import { jsonBody } from "../middleware/body-limit";
import { openAiErrorBody } from "../middleware/openai-errors";
import { bearerSecurity, commonErrors } from "../schemas/common";
import {
  ChatCompletionBody,
  type ChatCompletionInput,
  ChatCompletionSchema,
  MODELS,
  ModelListSchema,
} from "../schemas/openai";
import { QUERY_BODY_MAX_BYTES, QueryBody, type QueryInput, type QueryResult } from "../schemas/query";
import type { Run } from "../services/query/service";
import { createRoute } from "./route";

/**
 * OpenAI-compatible chat completions over `/v1/query`, so chat UIs and SDKs that speak OpenAI's API
 * (the `openai` client, the AI SDK, Open WebUI) use EdgeRAG with only a base URL and a key. The
 * model picks the mode; `messages` are the conversation (a follow-up is rewritten as on
 * `/v1/query`); the answer keeps its `[n]` markers and carries `citations`. Errors on these routes
 * are in OpenAI's shape (middleware/openai-errors.ts).
 */
export const openai = new OpenAPIHono<AppEnv>();

const CREATED = Math.floor(Date.parse("2026-12-06T00:00:00Z") / 1000);

const models = createRoute({
  method: "get",
  operationId: "listModels",
  path: "/v1/models",
  tags: ["openai-compatible"],
  summary: "The models /v1/chat/completions answers as: edgerag-fast, edgerag-balanced, edgerag-deep",
  security: bearerSecurity,
  middleware: [requireKey("query")] as const,
  responses: {
    200: { description: "The models", content: { "application/json": { schema: ModelListSchema } } },
    ...commonErrors,
  },
});

openai.openapi(models, (c) =>
  c.json(
    {
      object: "list" as const,
      data: MODELS.map((id) => ({ id, object: "model" as const, created: CREATED, owned_by: "edgerag" })),
    },
    200,
  ),
);

const completions = createRoute({
  method: "post",
  operationId: "createChatCompletion",
  path: "/v1/chat/completions",
  tags: ["openai-compatible"],
  summary: "Answer the last user message with citations, OpenAI-style (JSON, or chunks with stream: true)",
  description:
    "The last message must be the user's question; earlier user and assistant messages are its history. " +
    "Collections: `collection_ids` (an extension field) or the key's restriction. With `stream: true`, " +
    "`chat.completion.chunk` events end with `data: [DONE]`; the last chunk carries `citations`. Errors are " +
    "`{error: {message, type, param, code}}` on this route.",
  security: bearerSecurity,
  middleware: [requireKey("query"), jsonBody({ maxBytes: QUERY_BODY_MAX_BYTES })] as const,
  request: { body: { required: true, content: { "application/json": { schema: ChatCompletionBody } } } },
  responses: {
    200: {
      description: "The completion (or a stream of chunks)",
      content: {
        "application/json": { schema: ChatCompletionSchema },
        "text/event-stream": { schema: ChatCompletionSchema },
      },
    },
    ...commonErrors,
  },
});

/** A message's text: a string, or the text of its text parts. */
function textOf(content: ChatCompletionInput["messages"][number]["content"]): string {
  if (typeof content === "string") {
    return content;
  }
  return (content ?? [])
    .filter((p) => p.type === "text" && typeof p.text === "string")
    .map((p) => p.text)
    .join("\n");
}

/** The `/v1/query` input the messages stand for. */
function queryOf(input: ChatCompletionInput, collections: string[] | null): QueryInput {
  const last = input.messages.at(-1);
  if (last?.role !== "user") {
    throw new AppError("validation_failed", "The last message must be the user's question.", {
      errors: [{ path: "messages", message: "the last message must have role user" }],
    });
  }
  const history: Turn[] = input.messages
    .slice(0, -1)
    .filter((m) => m.role === "user" || m.role === "assistant")
    .map((m) => ({ role: m.role as Turn["role"], content: textOf(m.content).slice(0, 4_000) }))
    .filter((t) => t.content.trim() !== "")
    .slice(-20);
  const collectionIds = input.collection_ids ?? collections;
  if (!collectionIds || collectionIds.length === 0) {
    throw new AppError(
      "validation_failed",
      "Which collections? Send collection_ids, or use a key restricted to the collections to answer from.",
      { errors: [{ path: "collection_ids", message: "required for a key that is not restricted to collections" }] },
    );
  }
  const parsed = QueryBody.safeParse({
    query: textOf(last.content),
    collection_ids: collectionIds.slice(0, 20),
    mode: input.model.slice("edgerag-".length),
    top_k: input.top_k,
    ...(history.length > 0 ? { history } : {}),
  });
  if (!parsed.success) {
    throw new AppError("validation_failed", "The question cannot be asked.", {
      errors: parsed.error.issues.map((i) => ({
        path: i.path[0] === "query" ? "messages" : i.path.map(String).join("."),
        message: i.message,
      })),
    });
  }
  // The filter was parsed by the body schema already.
  return { ...parsed.data, ...(input.filter ? { filter: input.filter } : {}) };
}

/** About four characters a token: what a tokenizer-free estimate can say. */
const tokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));

function usageOf(input: ChatCompletionInput, answer: string) {
  const prompt = tokens(input.messages.map((m) => textOf(m.content)).join("\n"));
  const completion = tokens(answer);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

openai.openapi(completions, async (c) => {
  const input = c.req.valid("json");
  const principal = keyOf(c.var.principal);
  const question = await c.var.services.query.ask(principal, queryOf(input, principal.collectionIds));
  const run: Run = { startedAt: performance.now(), signal: c.req.raw.signal };
  const id = `chatcmpl-${c.var.request_id}`;
  const created = Math.floor(Date.now() / 1000);
  if (input.stream) {
    return streamCompletion(c, { id, created, input }, (events, signal) =>
      question.answer({ ...run, signal }, events, signal),
    );
  }
  const result = await question.answer(run);
  return c.json(
    {
      id,
      object: "chat.completion" as const,
      created,
      model: input.model,
      choices: [
        {
          index: 0,
          message: { role: "assistant" as const, content: result.answer, citations: result.citations },
          finish_reason: "stop" as const,
        },
      ],
      usage: usageOf(input, result.answer),
      abstained: result.abstained,
      ...(result.rewritten_query !== undefined ? { rewritten_query: result.rewritten_query } : {}),
    },
    200,
  );
});

/**
 * `chat.completion.chunk` events: the assistant role first, then each answer delta as it is made,
 * then an empty delta with `finish_reason: "stop"` and the citations (the answer's final text may
 * drop sentences the support check refused: the last chunk's `content_final` has it whole), usage
 * when `stream_options.include_usage`, and `data: [DONE]`. A failure mid-stream is an `error`
 * object in OpenAI's shape.
 */
function streamCompletion(
  c: Context<AppEnv>,
  meta: { id: string; created: number; input: ChatCompletionInput },
  answer: (events: { token: (delta: string) => void }, signal: AbortSignal) => Promise<QueryResult>,
) {
  const abort = new AbortController();
  const signal = AbortSignal.any([c.req.raw.signal, abort.signal]);
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => abort.abort(new Error("client disconnected")));
    const chunk = (delta: Record<string, unknown>, finish: "stop" | null, extra: Record<string, unknown> = {}) =>
      stream.writeSSE({
        data: JSON.stringify({
          id: meta.id,
          object: "chat.completion.chunk",
          created: meta.created,
          model: meta.input.model,
          choices: [{ index: 0, delta, finish_reason: finish }],
          ...extra,
        }),
      });
    void chunk({ role: "assistant", content: "" }, null);
    try {
      const result = await answer({ token: (delta) => void chunk({ content: delta }, null) }, signal);
      await chunk({}, "stop", {
        citations: result.citations,
        abstained: result.abstained,
        content_final: result.answer,
        ...(result.rewritten_query !== undefined ? { rewritten_query: result.rewritten_query } : {}),
      });
      if (meta.input.stream_options?.include_usage) {
        await stream.writeSSE({
          data: JSON.stringify({
            id: meta.id,
            object: "chat.completion.chunk",
            created: meta.created,
            model: meta.input.model,
            choices: [],
            usage: usageOf(meta.input, result.answer),
          }),
        });
      }
      await stream.writeSSE({ data: "[DONE]" });
    } catch (error) {
      const appError = asAppError(error);
      if (!signal.aborted) {
        await stream.writeSSE({ data: JSON.stringify(openAiError(appError)) });
      }
    }
  });
}

/** OpenAI's error object for one of our errors (a stream's failure after its status was sent). */
function openAiError(error: AppError) {
  const message = error.status >= 500 && error.code === "internal" ? "An unexpected error occurred." : error.message;
  return openAiErrorBody(error.status, error.code, message, error.errors?.[0]?.path);
}

import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { keyOf, requireKey } from "../middleware/auth";
import { bearerSecurity, commonErrors, notFound } from "../schemas/common";
import { ConversationIdParam, ConversationSchema } from "../schemas/conversations";
import { createRoute } from "./route";

/** Conversations (scope `query`): the turns `/v1/query` rewrites follow-ups with. */
export const conversations = new OpenAPIHono<AppEnv>();

const conversation = (description: string) => ({
  description,
  content: { "application/json": { schema: ConversationSchema } },
});

const create = createRoute({
  method: "post",
  operationId: "createConversation",
  path: "/v1/conversations",
  tags: ["query"],
  summary: "Start a conversation: pass its id as conversation_id to /v1/query",
  description:
    "Each /v1/query with `conversation_id` rewrites a follow-up question into a standalone one with the turns before it, answers that, and adds the question and the answer as two turns. Only the key (or end-user token) that created a conversation, or an unrestricted admin key, can use it. Kept CONVERSATION_RETENTION_DAYS after the last turn.",
  security: bearerSecurity,
  middleware: [requireKey("query")] as const,
  responses: { 201: conversation("Created"), ...commonErrors },
});

conversations.openapi(create, async (c) => {
  return c.json(await c.var.services.conversations.create(keyOf(c.var.principal)), 201);
});

const get = createRoute({
  method: "get",
  operationId: "getConversation",
  path: "/v1/conversations/{id}",
  tags: ["query"],
  summary: "A conversation and its turns, oldest first",
  security: bearerSecurity,
  middleware: [requireKey("query")] as const,
  request: { params: ConversationIdParam },
  responses: { 200: conversation("The conversation"), ...commonErrors, ...notFound },
});

conversations.openapi(get, async (c) => {
  return c.json(await c.var.services.conversations.get(keyOf(c.var.principal), c.req.valid("param").id), 200);
});

const remove = createRoute({
  method: "delete",
  operationId: "deleteConversation",
  path: "/v1/conversations/{id}",
  tags: ["query"],
  summary: "Delete a conversation and its turns",
  security: bearerSecurity,
  middleware: [requireKey("query")] as const,
  request: { params: ConversationIdParam },
  responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFound },
});

conversations.openapi(remove, async (c) => {
  await c.var.services.conversations.delete(keyOf(c.var.principal), c.req.valid("param").id);
  return c.body(null, 204);
});

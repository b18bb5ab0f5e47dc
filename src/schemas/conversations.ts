import { z } from "@hono/zod-openapi";
import { IsoDate } from "./common";

export const ConversationId = z.string().regex(/^conv_[A-Za-z0-9]{16}$/, "must be a conversation id");

export const ConversationIdParam = z.object({
  id: ConversationId.openapi({ param: { name: "id", in: "path" }, example: "conv_3kP9x2LmQ7rT1vBz" }),
});

/** A turn given inline as `history` on /v1/query. */
export const TurnSchema = z
  .object({
    role: z.enum(["user", "assistant"]),
    content: z.string().min(1).max(4_000),
  })
  .strict();

export const ConversationSchema = z
  .object({
    id: z.string(),
    created_at: IsoDate,
    updated_at: IsoDate,
    expires_at: IsoDate.openapi({ description: "CONVERSATION_RETENTION_DAYS after the last turn" }),
    turns: z.array(
      z.object({
        role: z.enum(["user", "assistant"]),
        content: z.string(),
        rewritten_query: z
          .string()
          .nullable()
          .openapi({ description: "User turns: the standalone question retrieval used" }),
        created_at: IsoDate,
      }),
    ),
  })
  .openapi("Conversation");

export type ConversationView = z.infer<typeof ConversationSchema>;

import { z } from "@hono/zod-openapi";
import { IsoDate } from "./common";

/** Every event type a tenant may receive (docs/api.md, "Notifications"). */
export const EVENT_TYPES = [
  "document.processing",
  "document.ready",
  "document.updated",
  "document.failed",
  "export.ready",
  "export.failed",
  "api_key.rotated",
  "rate_limit.exceeded",
  "webhook.disabled",
  "system.alert",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const Seq = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * A seq in a query string. `null` is what a page's `next` says at the end, and a client passing it
 * back as `after` means "none": read as absent (documented as nullable, so a generated client's
 * `after=null` validates and is accepted).
 */
const SeqParam = z.preprocess((v) => (v === "null" || v === "" ? null : v), Seq.nullable());

export const NotificationsQuery = z.object({
  after: SeqParam.optional()
    .transform((v) => v ?? 0)
    .openapi({ description: "Only events with a greater seq (0, null or absent: from the oldest kept)" }),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

export const EventSchema = z
  .object({
    seq: z.number().int().openapi({ description: "Per tenant: gap-free and strictly increasing" }),
    id: z.string().openapi({ example: "evt_7Hc2x9QeLm1Zp0aB" }),
    type: z.string().openapi({ description: `One of: ${EVENT_TYPES.join(", ")}`, example: "document.ready" }),
    data: z.record(z.string(), z.unknown()),
    created_at: IsoDate,
  })
  .openapi("Event");

export const NotificationListSchema = z
  .object({
    items: z.array(EventSchema.extend({ read: z.boolean() })),
    next: z.number().int().nullable().openapi({ description: "Pass as `after` for the next page; null at the end" }),
  })
  .openapi("NotificationList");

export const MarkReadBody = z.object({ up_to_seq: Seq }).strict().openapi("MarkRead");

export const TicketSchema = z
  .object({
    ticket: z.string().openapi({ description: "Single use, for `GET /v1/notifications/ws?ticket=`" }),
    expires_at: IsoDate,
  })
  .openapi("NotificationTicket");

export const SocketQuery = z.object({
  ticket: z.string().max(128).optional(),
  after: SeqParam.optional().openapi({
    description: "Resume: every stored event after this seq, then live ones (null or absent: live ones only)",
  }),
  batch: z
    .enum(["0", "1"])
    .optional()
    .openapi({ description: "1: live events arrive as JSON arrays, one frame per 20 ms at most" }),
});

export const AlertBody = z
  .object({
    tenant_id: z.string().max(64).optional().openapi({ description: "One tenant; omitted: every tenant" }),
    severity: z.enum(["info", "warning", "critical"]),
    message: z.string().trim().min(1).max(2_000),
  })
  .strict()
  .openapi("AlertInput");

export const AlertResultSchema = z.object({ id: z.string(), tenant_id: z.string().nullable() }).openapi("AlertResult");

/** The notification queue's message: events a hub has not stored yet, or a fan-out to every tenant. */
export type NotifyMessage =
  | {
      kind: "publish";
      tenant_id: string;
      events: Array<{ id: string; type: string; data: Record<string, unknown>; createdAt?: number }>;
    }
  | {
      kind: "broadcast";
      event: { id: string; type: string; data: Record<string, unknown>; createdAt: number };
      after?: string;
    };

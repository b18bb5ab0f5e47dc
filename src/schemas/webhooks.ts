import { z } from "@hono/zod-openapi";
import { IsoDate } from "./common";
import { EVENT_TYPES } from "./notifications";

export const WebhookIdParam = z.object({
  id: z
    .string()
    .regex(/^whk_[A-Za-z0-9]{1,64}$/, "must be a webhook id")
    .openapi({ param: { name: "id", in: "path" } }),
});

export const DeliveryParams = WebhookIdParam.extend({
  delivery_id: z
    .string()
    .regex(/^whd_[A-Za-z0-9]{1,64}$/, "must be a delivery id")
    .openapi({ param: { name: "delivery_id", in: "path" } }),
});

export const CreateWebhookBody = z
  .object({
    url: z.string().max(2_048).openapi({ format: "uri", example: "https://example.com/hooks/edgerag" }),
    events: z
      .array(z.enum([...EVENT_TYPES, "*"]))
      .min(1)
      .max(EVENT_TYPES.length + 1)
      .openapi({ description: 'Event types to receive; "*" for all' }),
    description: z.string().trim().max(500).optional(),
  })
  .strict()
  .openapi("WebhookInput");

export const WebhookSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    description: z.string().nullable(),
    disabled_at: IsoDate.nullable(),
    disabled_reason: z.string().nullable(),
    created_at: IsoDate,
  })
  .openapi("Webhook");
export type WebhookView = z.infer<typeof WebhookSchema>;

export const WebhookWithSecretSchema = WebhookSchema.extend({
  secret: z.string().openapi({ description: "`whsec_…`: shown once; verify signatures with it" }),
}).openapi("WebhookWithSecret");

export const WebhookListSchema = z.object({ items: z.array(WebhookSchema) }).openapi("WebhookList");

export const DeliverySchema = z
  .object({
    id: z.string(),
    event_id: z.string(),
    event_type: z.string(),
    status: z.enum(["pending", "succeeded", "failed"]),
    attempts: z.number().int(),
    last_status_code: z.number().int().nullable(),
    last_latency_ms: z.number().int().nullable(),
    last_error: z.string().nullable(),
    next_attempt_at: IsoDate.nullable(),
    created_at: IsoDate,
    updated_at: IsoDate,
  })
  .openapi("WebhookDelivery");
export type DeliveryView = z.infer<typeof DeliverySchema>;

export const DeliveryListSchema = z
  .object({ items: z.array(DeliverySchema), next_cursor: z.string().nullable() })
  .openapi("WebhookDeliveryList");

/** The webhook queue's message: one delivery's next attempt. */
export interface WebhookMessage {
  delivery_id: string;
  tenant_id: string;
}

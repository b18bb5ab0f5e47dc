/** The webhook queue's side: deliveries fanned out from stored events, and the consumer's attempts. */
import { and, eq, isNull } from "drizzle-orm";
import { inPairs } from "../../adapters/db/client";
import { type WebhookDeliveryRow, type WebhookRow, webhookDeliveries, webhooks } from "../../adapters/db/schema";
import type { NewEvent } from "../../adapters/notify/interface";
import type { WebhookMessage } from "../../schemas/webhooks";
import type { WebhookDelivery } from "./delivery";
import type { WebhookDeps } from "./service";

export function webhookConsumer(deps: WebhookDeps, delivery: WebhookDelivery) {
  const { db } = deps;
  const { enqueue, deliveryRow, attempt } = delivery;
  return {
    /** Deliveries for events a hub has stored: one per subscribed, enabled endpoint and event. */
    async fanOut(tenantId: string, events: NewEvent[]): Promise<void> {
      if (events.length === 0) {
        return;
      }
      const endpoints = await db
        .select()
        .from(webhooks)
        .where(and(eq(webhooks.tenantId, tenantId), isNull(webhooks.disabledAt)));
      const now = Date.now();
      await enqueue(
        endpoints.flatMap((webhook) =>
          events
            .filter((event) => webhook.events.includes("*") || webhook.events.includes(event.type))
            .map((event) => deliveryRow(webhook, event, now)),
        ),
      );
    },

    /** The webhook queue's consumer: one attempt per message, in order; the next is sent delayed. */
    async handleBatch(batch: MessageBatch<WebhookMessage>): Promise<void> {
      // Two reads for the whole batch: its deliveries (with their tenant), and their endpoints.
      const pairs = batch.messages.map((m) => [m.body.delivery_id, m.body.tenant_id] as const);
      let deliveries: Map<string, WebhookDeliveryRow>;
      let endpoints: Map<string, WebhookRow>;
      try {
        deliveries = new Map(
          (
            await db
              .select()
              .from(webhookDeliveries)
              .where(inPairs(webhookDeliveries.id, webhookDeliveries.tenantId, pairs))
          ).map((d) => [d.id, d]),
        );
        const hookPairs = [
          ...new Map([...deliveries.values()].map((d) => [d.webhookId, [d.webhookId, d.tenantId] as const])).values(),
        ];
        endpoints = new Map(
          (
            await db
              .select()
              .from(webhooks)
              .where(inPairs(webhooks.id, webhooks.tenantId, hookPairs))
          ).map((w) => [w.id, w]),
        );
      } catch (error) {
        deps.logger.warn("webhook batch could not be read; retrying", { error });
        batch.retryAll({ delaySeconds: 5 });
        return;
      }
      // One endpoint's attempts in queue order; different endpoints side by side.
      const byEndpoint = new Map<string, Array<Message<WebhookMessage>>>();
      for (const message of batch.messages) {
        const delivery = deliveries.get(message.body.delivery_id);
        const webhook = delivery && endpoints.get(delivery.webhookId);
        if (!delivery || !webhook || delivery.status !== "pending" || webhook.disabledAt !== null) {
          message.ack(); // deleted, already done, or its endpoint was disabled meanwhile
          continue;
        }
        byEndpoint.set(webhook.id, [...(byEndpoint.get(webhook.id) ?? []), message]);
      }
      await Promise.all(
        [...byEndpoint.entries()].map(async ([webhookId, messages]) => {
          for (const message of messages) {
            const webhook = endpoints.get(webhookId);
            const delivery = deliveries.get(message.body.delivery_id);
            if (!webhook || !delivery || webhook.disabledAt !== null) {
              message.ack();
              continue;
            }
            try {
              const delay = await attempt(delivery, webhook);
              if (delay !== undefined) {
                await deps.queue.send(message.body, { delaySeconds: delay });
              }
              message.ack();
            } catch (error) {
              deps.logger.warn("webhook attempt could not be recorded; retrying", { error });
              message.retry({ delaySeconds: 5 });
            }
          }
        }),
      );
    },
  };
}

/** The tenant's webhook endpoints: register, list, delete, rotate secrets, test, deliveries, retry. */
import { and, desc, eq } from "drizzle-orm";
import {
  type SealedSecret,
  type WebhookDeliveryRow,
  type WebhookRow,
  webhookDeliveries,
  webhooks,
} from "../../adapters/db/schema";
import { AppError } from "../../errors";
import { newId } from "../../lib/ids";
import { newWebhookSecret } from "../../lib/webhook-signature";
import { iso } from "../../schemas/common";
import type { DeliveryView, WebhookView } from "../../schemas/webhooks";
import { ownedRow } from "../owned";
import { afterCursor, toPage } from "../paging";
import { assertCovers, type KeyPrincipal, TENANT_WIDE } from "../principal";
import { keyRingOf } from "../secrets";
import { secretContext, type WebhookDelivery } from "./delivery";
import type { WebhookDeps } from "./service";

/** How long the previous secret keeps signing after a rotation. */
export const ROTATION_OVERLAP_MS = 24 * 3_600_000;

function toView(row: WebhookRow): WebhookView {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    description: row.description,
    disabled_at: row.disabledAt === null ? null : iso(row.disabledAt),
    disabled_reason: row.disabledReason,
    created_at: iso(row.createdAt),
  };
}

function toDeliveryView(row: WebhookDeliveryRow): DeliveryView {
  return {
    id: row.id,
    event_id: row.eventId,
    event_type: row.eventType,
    status: row.status,
    attempts: row.attempts,
    last_status_code: row.lastStatusCode,
    last_latency_ms: row.lastLatencyMs,
    last_error: row.lastError,
    next_attempt_at: row.nextAttemptAt === null ? null : iso(row.nextAttemptAt),
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
  };
}

/** ±10 % so that endpoints failing together do not retry together. */
export function webhookEndpoints(deps: WebhookDeps, delivery: WebhookDelivery) {
  const { db, config } = deps;
  const settings = config.webhooks;
  const { unsafe, enqueue, deliveryRow } = delivery;

  const owned = async (principal: KeyPrincipal, id: string): Promise<WebhookRow> => {
    assertCovers(principal, TENANT_WIDE, "webhooks");
    return ownedRow(db, webhooks, id, principal.tenantId, "webhook");
  };

  const seal = async (tenantId: string, webhookId: string, secret: string): Promise<SealedSecret> =>
    keyRingOf(config).seal(secret, secretContext(tenantId, webhookId));

  return {
    async create(principal: KeyPrincipal, input: { url: string; events: string[]; description?: string | undefined }) {
      assertCovers(principal, TENANT_WIDE, "webhooks");
      const refusal = await unsafe(input.url);
      if (refusal) {
        throw new AppError("validation_failed", `The webhook ${refusal}.`, {
          errors: [{ path: "url", message: refusal.replace(/^url /, "") }],
        });
      }
      const existing = await db
        .select({ id: webhooks.id })
        .from(webhooks)
        .where(eq(webhooks.tenantId, principal.tenantId))
        .limit(settings.maxPerTenant);
      if (existing.length >= settings.maxPerTenant) {
        throw new AppError("conflict", `A tenant may have at most ${settings.maxPerTenant} webhooks.`);
      }
      const id = newId("whk");
      const secret = newWebhookSecret();
      const row: WebhookRow = {
        id,
        tenantId: principal.tenantId,
        url: input.url,
        events: [...new Set(input.events)],
        description: input.description ?? null,
        secret: await seal(principal.tenantId, id, secret),
        previousSecret: null,
        previousExpiresAt: null,
        disabledAt: null,
        disabledReason: null,
        createdAt: Date.now(),
      };
      await db.insert(webhooks).values(row);
      return { ...toView(row), secret };
    },

    async list(principal: KeyPrincipal) {
      assertCovers(principal, TENANT_WIDE, "webhooks");
      const rows = await db
        .select()
        .from(webhooks)
        .where(eq(webhooks.tenantId, principal.tenantId))
        .orderBy(desc(webhooks.createdAt), desc(webhooks.id));
      return { items: rows.map(toView) };
    },

    get: async (principal: KeyPrincipal, id: string) => toView(await owned(principal, id)),

    async delete(principal: KeyPrincipal, id: string): Promise<void> {
      await owned(principal, id);
      await db
        .delete(webhooks)
        .where(and(eq(webhooks.id, id), eq(webhooks.tenantId, principal.tenantId)))
        .run();
    },

    /** A new secret; the current one keeps signing beside it for 24 h (a second rotation ends it). */
    async rotateSecret(principal: KeyPrincipal, id: string) {
      const row = await owned(principal, id);
      const secret = newWebhookSecret();
      const now = Date.now();
      const updated = await db
        .update(webhooks)
        .set({
          secret: await seal(row.tenantId, row.id, secret),
          previousSecret: row.secret,
          previousExpiresAt: now + ROTATION_OVERLAP_MS,
        })
        .where(and(eq(webhooks.id, id), eq(webhooks.tenantId, principal.tenantId)))
        .returning()
        .get();
      if (!updated) {
        throw new AppError("not_found", "No such webhook.");
      }
      return { ...toView(updated), secret };
    },

    /** A `webhook.test` event to this endpoint only. */
    async test(principal: KeyPrincipal, id: string) {
      const row = await owned(principal, id);
      if (row.disabledAt !== null) {
        throw new AppError("conflict", "The webhook is disabled; create it again to re-enable it.");
      }
      const now = Date.now();
      const delivery = deliveryRow(row, { id: newId("evt"), type: "webhook.test", data: { webhook_id: id } }, now);
      await enqueue([delivery]);
      return toDeliveryView({ ...delivery, lastStatusCode: null, lastLatencyMs: null, lastError: null });
    },

    async deliveries(principal: KeyPrincipal, id: string, page: { cursor?: string | undefined; limit: number }) {
      await owned(principal, id);
      const after = afterCursor(page.cursor, { createdAt: webhookDeliveries.createdAt, id: webhookDeliveries.id });
      const rows = await db
        .select()
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.webhookId, id), eq(webhookDeliveries.tenantId, principal.tenantId), after))
        .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
        .limit(page.limit + 1);
      return toPage(rows, page.limit, toDeliveryView);
    },

    /** One more attempt now, whatever the delivery's state (the schedule starts over from there). */
    async retry(principal: KeyPrincipal, id: string, deliveryId: string) {
      const row = await owned(principal, id);
      if (row.disabledAt !== null) {
        throw new AppError("conflict", "The webhook is disabled; create it again to re-enable it.");
      }
      const now = Date.now();
      const delivery = await db
        .update(webhookDeliveries)
        .set({ status: "pending", attempts: 0, nextAttemptAt: now, updatedAt: now })
        .where(
          and(
            eq(webhookDeliveries.id, deliveryId),
            eq(webhookDeliveries.webhookId, id),
            eq(webhookDeliveries.tenantId, principal.tenantId),
          ),
        )
        .returning()
        .get();
      if (!delivery) {
        throw new AppError("not_found", "No such delivery.");
      }
      await deps.queue.send({ delivery_id: delivery.id, tenant_id: delivery.tenantId });
      return toDeliveryView(delivery);
    },
  };
}

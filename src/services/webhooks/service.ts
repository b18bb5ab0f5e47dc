/**
 * Outbound webhooks (Standard Webhooks v1), delivered at least once through the webhook queue.
 * Every event a hub stores is fanned out to the tenant's endpoints that subscribe to its type as
 * one delivery row each (unique per endpoint and event, so a repeated fan-out adds nothing) and a
 * queue message. An attempt re-checks the URL and its DNS answers, signs the body with the current
 * secret (and the previous one during a rotation), POSTs without following redirects and with a
 * timeout; any 2xx is success, 410 disables the endpoint at once, anything else is retried on the
 * schedule, and an endpoint whose delivery fails the whole schedule is disabled (`webhook.disabled`).
 */
import { and, desc, eq, isNull, lt } from "drizzle-orm";
import { type Db, inList, inPairs } from "../../adapters/db/client";
import {
  type SealedSecret,
  type WebhookDeliveryRow,
  type WebhookRow,
  webhookDeliveries,
  webhooks,
} from "../../adapters/db/schema";
import type { Resolver } from "../../adapters/dns/interface";
import type { NewEvent } from "../../adapters/notify/interface";
import type { Config } from "../../config";
import { AppError } from "../../errors";
import { inBatches } from "../../lib/async";
import { newId } from "../../lib/ids";
import type { Logger } from "../../lib/log";
import { privateAddress, refuseUrl } from "../../lib/net";
import { newWebhookSecret, signWebhook } from "../../lib/webhook-signature";
import { iso } from "../../schemas/common";
import type { DeliveryView, WebhookMessage, WebhookView } from "../../schemas/webhooks";
import type { Notify } from "../notifications/service";
import { afterCursor, toPage } from "../paging";
import { assertCovers, type KeyPrincipal, TENANT_WIDE } from "../principal";
import { sendAll } from "../queue";
import { keyRingOf } from "../secrets";

/** How long the previous secret keeps signing after a rotation. */
export const ROTATION_OVERLAP_MS = 24 * 3_600_000;
/** Deliveries left pending this long past their time are sent again by the sweep (a lost message). */
const STALE_PENDING_MS = 60_000;

export interface WebhookDeps {
  db: Db;
  config: Config;
  queue: Queue<WebhookMessage>;
  resolver: Resolver;
  notify: Notify;
  logger: Pick<Logger, "info" | "warn" | "error">;
  fetch?: typeof fetch;
}

const secretContext = (tenantId: string, webhookId: string) => `edgerag/webhook/v1/${tenantId}/${webhookId}`;

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
const jitter = (seconds: number) => Math.round(seconds * (0.9 + Math.random() * 0.2));

export function webhookService(deps: WebhookDeps) {
  const { db, config } = deps;
  const settings = config.webhooks;
  const doFetch = deps.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));

  /** Why this URL may not be called now: its form, or what its host resolves to. */
  const unsafe = async (url: string): Promise<string | undefined> => {
    const refusal = refuseUrl(url, settings);
    if (refusal) {
      return `url ${refusal}`;
    }
    const host = new URL(url).hostname;
    if (settings.allowLoopback && ["127.0.0.1", "localhost", "[::1]"].includes(host)) {
      return undefined;
    }
    const addresses = await deps.resolver.resolve(host);
    if (addresses.length === 0) {
      return "url does not resolve";
    }
    if (addresses.some(privateAddress)) {
      return "url resolves to a non-public address";
    }
    return undefined;
  };

  const owned = async (principal: KeyPrincipal, id: string): Promise<WebhookRow> => {
    assertCovers(principal, TENANT_WIDE, "webhooks");
    const row = await db
      .select()
      .from(webhooks)
      .where(and(eq(webhooks.id, id), eq(webhooks.tenantId, principal.tenantId)))
      .get();
    if (!row) {
      throw new AppError("not_found", "No such webhook.");
    }
    return row;
  };

  const seal = async (tenantId: string, webhookId: string, secret: string): Promise<SealedSecret> =>
    keyRingOf(config).seal(secret, secretContext(tenantId, webhookId));

  /** New deliveries for these events, and their queue messages (rows first: the sweep resends). */
  const enqueue = async (rows: Array<typeof webhookDeliveries.$inferInsert>) => {
    if (rows.length === 0) {
      return;
    }
    // 14 columns a row: 7 rows a statement stay under D1's 100 bound parameters.
    const inserted = await inBatches(rows, 7, (slice) =>
      db
        .insert(webhookDeliveries)
        .values(slice)
        .onConflictDoNothing()
        .returning({ id: webhookDeliveries.id, tenantId: webhookDeliveries.tenantId }),
    );
    await sendAll(
      deps.queue,
      inserted.map((d) => ({ body: { delivery_id: d.id, tenant_id: d.tenantId } })),
    );
  };

  const deliveryRow = (webhook: WebhookRow, event: NewEvent, now: number) => ({
    id: newId("whd"),
    webhookId: webhook.id,
    tenantId: webhook.tenantId,
    eventId: event.id,
    eventType: event.type,
    payload: JSON.stringify({
      id: event.id,
      type: event.type,
      created_at: new Date(event.createdAt ?? now).toISOString(),
      data: event.data,
    }),
    status: "pending" as const,
    attempts: 0,
    nextAttemptAt: now,
    createdAt: now,
    updatedAt: now,
  });

  /** Signatures for this moment: the current secret, and the previous one while it overlaps. */
  const signatures = async (webhook: WebhookRow, id: string, timestampS: number, body: string, now: number) => {
    const ring = keyRingOf(config);
    const context = secretContext(webhook.tenantId, webhook.id);
    const secrets = [await ring.open(webhook.secret, context)];
    if (webhook.previousSecret && webhook.previousExpiresAt !== null && webhook.previousExpiresAt > now) {
      secrets.push(await ring.open(webhook.previousSecret, context));
    }
    return (await Promise.all(secrets.map((s) => signWebhook(s, id, timestampS, body)))).join(" ");
  };

  const disable = async (webhook: WebhookRow, reason: string) => {
    const now = Date.now();
    const updated = await db
      .update(webhooks)
      .set({ disabledAt: now, disabledReason: reason.slice(0, 500) })
      .where(and(eq(webhooks.id, webhook.id), eq(webhooks.tenantId, webhook.tenantId), isNull(webhooks.disabledAt)))
      .returning({ id: webhooks.id })
      .get();
    webhook.disabledAt = now;
    if (updated) {
      // What was still waiting for this endpoint ends here too (the sweep must not resend it).
      await db
        .update(webhookDeliveries)
        .set({ status: "failed", lastError: "the endpoint was disabled", nextAttemptAt: null, updatedAt: now })
        .where(
          and(
            eq(webhookDeliveries.webhookId, webhook.id),
            eq(webhookDeliveries.tenantId, webhook.tenantId),
            eq(webhookDeliveries.status, "pending"),
          ),
        )
        .run();
      deps.notify(webhook.tenantId, "webhook.disabled", { webhook_id: webhook.id, url: webhook.url, reason });
    }
  };

  /** One attempt of one delivery; returns the delay of the next attempt, or undefined if none. */
  const attempt = async (delivery: WebhookDeliveryRow, webhook: WebhookRow): Promise<number | undefined> => {
    const now = Date.now();
    const attempts = delivery.attempts + 1;
    let statusCode: number | null = null;
    let error: string | null = null;
    const started = performance.now();
    const refusal = await unsafe(webhook.url).catch((e: unknown) => `dns: ${(e as Error).message}`);
    if (refusal) {
      error = refusal;
    } else {
      const timestampS = Math.floor(now / 1000);
      const { id } = JSON.parse(delivery.payload) as { id: string };
      try {
        const res = await doFetch(webhook.url, {
          method: "POST",
          redirect: "manual",
          signal: AbortSignal.timeout(settings.timeoutMs),
          headers: {
            "content-type": "application/json",
            "user-agent": "EdgeRAG-Webhooks/1",
            "webhook-id": id,
            "webhook-timestamp": String(timestampS),
            "webhook-signature": await signatures(webhook, id, timestampS, delivery.payload, now),
          },
          body: delivery.payload,
        });
        statusCode = res.status;
        await res.body?.cancel();
        if (res.status < 200 || res.status >= 300) {
          error = res.status >= 300 && res.status < 400 ? "redirects are not followed" : `answered ${res.status}`;
        }
      } catch (e) {
        error =
          (e as Error).name === "TimeoutError" ? `no answer within ${settings.timeoutMs} ms` : "connection failed";
      }
    }
    const latency = Math.round(performance.now() - started);
    const succeeded = error === null;
    const gone = statusCode === 410;
    const next = succeeded || gone ? undefined : settings.retryScheduleS[attempts];
    const status = succeeded ? "succeeded" : next === undefined ? "failed" : "pending";
    const delay = next === undefined ? undefined : jitter(next);
    await db
      .update(webhookDeliveries)
      .set({
        status,
        attempts,
        lastStatusCode: statusCode,
        lastLatencyMs: latency,
        lastError: error,
        nextAttemptAt: delay === undefined ? null : now + delay * 1000,
        updatedAt: Date.now(),
      })
      .where(and(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.tenantId, delivery.tenantId)))
      .run();
    if (gone) {
      await disable(webhook, "the endpoint answered 410 Gone");
    } else if (status === "failed") {
      await disable(webhook, `a delivery failed ${attempts} attempts (last: ${error})`);
    }
    return delay;
  };

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

    /** Pending deliveries whose message was lost (past due for a minute): sent again (cron). */
    async sweep(now = Date.now()): Promise<number> {
      const due = await db
        .select({ id: webhookDeliveries.id, tenantId: webhookDeliveries.tenantId })
        .from(webhookDeliveries)
        .where(
          and(eq(webhookDeliveries.status, "pending"), lt(webhookDeliveries.nextAttemptAt, now - STALE_PENDING_MS)),
        )
        .limit(500);
      if (due.length > 0) {
        await db
          .update(webhookDeliveries)
          .set({ nextAttemptAt: now, updatedAt: now })
          .where(
            inList(
              webhookDeliveries.id,
              due.map((d) => d.id),
            ),
          )
          .run();
        await sendAll(
          deps.queue,
          due.map((d) => ({ body: { delivery_id: d.id, tenant_id: d.tenantId } })),
        );
      }
      return due.length;
    },
  };
}
export type WebhookService = ReturnType<typeof webhookService>;

/**
 * Sending a webhook delivery: the URL checked again (form and DNS answers), the body signed with
 * the current secret (and the previous one during a rotation), POSTed without following redirects
 * and with a timeout, the outcome recorded; an endpoint that answers 410 or fails a delivery's whole
 * schedule is disabled (`webhook.disabled`). Shared by the endpoints (test sends) and the consumer.
 */
import { and, eq, isNull } from "drizzle-orm";
import { insertRows } from "../../adapters/db/client";
import { type WebhookDeliveryRow, type WebhookRow, webhookDeliveries, webhooks } from "../../adapters/db/schema";
import type { NewEvent } from "../../adapters/notify/interface";
import { inBatches } from "../../lib/async";
import { newId } from "../../lib/ids";
import { privateAddress, refuseUrl } from "../../lib/net";
import { signWebhook } from "../../lib/webhook-signature";
import { sendAll } from "../queue";
import { keyRingOf } from "../secrets";
import type { WebhookDeps } from "./service";

/** What a secret is sealed to: its tenant and endpoint. */
export const secretContext = (tenantId: string, webhookId: string) => `edgerag/webhook/v1/${tenantId}/${webhookId}`;

const jitter = (seconds: number) => Math.round(seconds * (0.9 + Math.random() * 0.2));

export function webhookDelivery(deps: WebhookDeps) {
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

  /** New deliveries for these events, and their queue messages (rows first: the sweep resends). */
  const enqueue = async (rows: Array<typeof webhookDeliveries.$inferInsert>) => {
    if (rows.length === 0) {
      return;
    }
    // 100 rows a statement keeps the bound JSON well under D1's 2 MB value limit.
    const inserted = await inBatches(rows, 100, async (slice) => {
      const statement = insertRows(db, webhookDeliveries, slice, {
        ignoreConflicts: true,
        returning: ["id", "tenantId"],
      });
      return (await statement.run<{ id: string; tenantId: string }>()).results;
    });
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

  return { unsafe, enqueue, deliveryRow, attempt };
}

export type WebhookDelivery = ReturnType<typeof webhookDelivery>;

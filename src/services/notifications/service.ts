/**
 * Notifications: producers publish tenant events without waiting (the hub call runs in the
 * invocation's `waitUntil`); if the hub cannot be reached the events go to the notification queue,
 * whose consumer retries until the hub stores them. A hub stores an event id once, so a retry
 * never doubles an event. Reading, read state, tickets and sockets are tenant-wide: only an
 * unrestricted admin key reaches them (403 otherwise).
 */
import { and, eq, gt, isNull, lt } from "drizzle-orm";
import type { Db } from "../../adapters/db/client";
import { apiKeys, notificationTickets, tenants } from "../../adapters/db/schema";
import { CLOSE, type NewEvent, type NotificationHubs } from "../../adapters/notify/interface";
import { AppError } from "../../errors";
import { sha256Hex } from "../../lib/crypto";
import { newId, randomBase62 } from "../../lib/ids";
import type { Logger } from "../../lib/log";
import type { EventType, NotifyMessage } from "../../schemas/notifications";
import { assertCovers, type KeyPrincipal, keyPrincipal, TENANT_WIDE } from "../principal";
import { MAX_BATCH_MESSAGES, sendAll } from "../queue";

/** How long a WebSocket ticket is valid. */
export const TICKET_TTL_MS = 60_000;
/** Tenants read per broadcast message; the rest follow in a continuation message. */
/**
 * Tenants per broadcast page: with the page's continuation message that is 100, the most one
 * `sendBatch` takes, so a page is queued whole or not at all (a retried page never half-sends).
 */
const BROADCAST_PAGE = MAX_BATCH_MESSAGES - 1;

export interface NotifyDeps {
  db: Db;
  hubs: NotificationHubs;
  /** The notification queue: events whose hub call failed, and broadcasts. */
  queue: Queue<NotifyMessage>;
  defer: (work: Promise<unknown>) => void;
  logger: Pick<Logger, "warn" | "error">;
  /** After a hub stored events: the webhook deliveries for them (idempotent per endpoint and event). */
  fanOut: (tenantId: string, events: NewEvent[]) => Promise<void>;
}

/** What producers call: fire and forget; returns the event id. */
export type Notify = (tenantId: string, type: EventType, data: Record<string, unknown>, id?: string) => string;

export function notificationService(deps: NotifyDeps) {
  const { db, hubs, queue, logger } = deps;

  /** Into the tenant's hub, then to its webhooks; both are idempotent, so a retry may repeat them. */
  const store = async (tenantId: string, events: NewEvent[]) => {
    await hubs.publish(tenantId, events);
    await deps.fanOut(tenantId, events);
  };

  /** Stored now; on failure through the queue; only if both fail is the event lost (logged). */
  const deliver = async (tenantId: string, events: NewEvent[]) => {
    try {
      await store(tenantId, events);
    } catch (error) {
      logger.warn("notification hub unreachable; queued for retry", { tenant_id: tenantId, error });
      await queue.send({ kind: "publish", tenant_id: tenantId, events });
    }
  };

  const publish: Notify = (tenantId, type, data, id = newId("evt")) => {
    const event: NewEvent = { id, type, data, createdAt: Date.now() };
    deps.defer(
      deliver(tenantId, [event]).catch((error: unknown) =>
        logger.error("notification lost: hub and queue both failed", { tenant_id: tenantId, type, error }),
      ),
    );
    return id;
  };

  /** The principal a ticket was issued to, if the ticket is unused, unexpired, and its key valid. */
  const redeem = async (ticket: string): Promise<KeyPrincipal> => {
    const now = Date.now();
    const used = await db
      .update(notificationTickets)
      .set({ usedAt: now })
      .where(
        and(
          eq(notificationTickets.hash, await sha256Hex(ticket)),
          isNull(notificationTickets.usedAt),
          gt(notificationTickets.expiresAt, now),
        ),
      )
      .returning({ tenantId: notificationTickets.tenantId, keyId: notificationTickets.keyId })
      .get();
    const key =
      used &&
      (await db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.id, used.keyId), eq(apiKeys.tenantId, used.tenantId)))
        .get());
    if (!key || (key.expiresAt !== null && key.expiresAt <= now)) {
      throw new AppError("unauthorized", "The ticket is unknown, expired or already used.");
    }
    return keyPrincipal(key);
  };

  return {
    publish,

    /** `system.alert` to one tenant, or to every tenant through the queue (paged fan-out). */
    async alert(input: { tenant_id?: string | undefined; severity: string; message: string }) {
      const data = { severity: input.severity, message: input.message };
      const id = newId("evt");
      if (input.tenant_id !== undefined) {
        const tenant = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, input.tenant_id)).get();
        if (!tenant) {
          throw new AppError("not_found", "No such tenant.");
        }
        publish(tenant.id, "system.alert", data, id);
        return { id, tenant_id: tenant.id };
      }
      await queue.send({ kind: "broadcast", event: { id, type: "system.alert", data, createdAt: Date.now() } });
      return { id, tenant_id: null };
    },

    async list(principal: KeyPrincipal, page: { after: number; limit: number }) {
      assertCovers(principal, TENANT_WIDE, "notifications");
      return hubs.list(principal.tenantId, page.after, page.limit);
    },

    async markRead(principal: KeyPrincipal, upTo: number): Promise<void> {
      assertCovers(principal, TENANT_WIDE, "notifications");
      await hubs.markRead(principal.tenantId, upTo);
    },

    /** A single-use ticket for a browser's WebSocket, valid 60 s; only its digest is stored. */
    async ticket(principal: KeyPrincipal): Promise<{ ticket: string; expires_at: string }> {
      assertCovers(principal, TENANT_WIDE, "notifications");
      const ticket = `ntk_${randomBase62(32)}`;
      const expiresAt = Date.now() + TICKET_TTL_MS;
      await db.insert(notificationTickets).values({
        hash: await sha256Hex(ticket),
        tenantId: principal.tenantId,
        keyId: principal.keyId,
        expiresAt,
      });
      return { ticket, expires_at: new Date(expiresAt).toISOString() };
    },

    /**
     * Hands a WebSocket upgrade to the caller's hub: the caller is the key of the Authorization
     * header or of a ticket (used up here). The hub is always the authenticated tenant's.
     */
    async connect(request: Request, principal: KeyPrincipal | undefined, ticket: string | undefined) {
      const caller = principal ?? (ticket !== undefined ? await redeem(ticket) : undefined);
      if (!caller) {
        throw new AppError("unauthorized", "Authorization: Bearer <api key> or ?ticket= is required.");
      }
      assertCovers(caller, TENANT_WIDE, "notifications");
      return hubs.connect(caller.tenantId, caller.keyId, request);
    },

    /** Closes a key's sockets at once, revoked or rotated (best effort: the hub may be asleep with none). */
    disconnectKey(tenantId: string, keyId: string, reason: string): void {
      deps.defer(
        hubs
          .disconnect(tenantId, keyId, CLOSE.unauthorized, reason)
          .catch((error: unknown) => logger.warn("could not close a key's sockets", { key_id: keyId, reason, error })),
      );
    },

    /** Deletes tickets that expired more than an hour ago (cron). */
    async sweepTickets(now = Date.now()): Promise<void> {
      await db
        .delete(notificationTickets)
        .where(lt(notificationTickets.expiresAt, now - 3_600_000))
        .run();
    },

    /** The notification queue's consumer: stores each message's events, or retries it later. */
    async handleBatch(batch: MessageBatch<NotifyMessage>): Promise<void> {
      for (const message of batch.messages) {
        try {
          const body = message.body;
          if (body.kind === "publish") {
            await store(body.tenant_id, body.events);
          } else {
            await fanOut(body);
          }
          message.ack();
        } catch (error) {
          const delaySeconds = Math.min(300, 5 * 2 ** Math.min(message.attempts - 1, 6));
          logger.warn("notification not stored yet; retrying", { attempts: message.attempts, delaySeconds, error });
          message.retry({ delaySeconds });
        }
      }
    },
  };

  /** One page of tenants gets the event (one publish message each), then the next page follows. */
  async function fanOut(body: Extract<NotifyMessage, { kind: "broadcast" }>): Promise<void> {
    const page = await db
      .select({ id: tenants.id })
      .from(tenants)
      .where(body.after ? gt(tenants.id, body.after) : undefined)
      .orderBy(tenants.id)
      .limit(BROADCAST_PAGE);
    const messages: Array<MessageSendRequest<NotifyMessage>> = page.map((tenant) => ({
      body: { kind: "publish", tenant_id: tenant.id, events: [body.event] },
    }));
    const last = page.at(-1);
    if (page.length === BROADCAST_PAGE && last) {
      messages.push({ body: { ...body, after: last.id } });
    }
    await sendAll(queue, messages);
  }
}
export type NotificationService = ReturnType<typeof notificationService>;

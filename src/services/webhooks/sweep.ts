/** The cron's part: pending deliveries whose queue message was lost are sent again. */
import { and, eq, lt } from "drizzle-orm";
import { inList } from "../../adapters/db/client";
import { webhookDeliveries } from "../../adapters/db/schema";
import { sendAll } from "../queue";
import type { WebhookDeps } from "./service";

/** Deliveries left pending this long past their time are sent again by the sweep (a lost message). */
const STALE_PENDING_MS = 60_000;

export function webhookSweep(deps: WebhookDeps) {
  const { db } = deps;
  return {
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

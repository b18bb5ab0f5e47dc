/** The cron sweep: documents stuck in `queued`/`processing` are re-queued, or failed after the last attempt. */

import { and, count, inArray, lt } from "drizzle-orm";
import { type Db, inList } from "../../adapters/db/client";
import { documents } from "../../adapters/db/schema";
import type { Logger } from "../../lib/log";
import type { Notify } from "../notifications/service";
import { enqueueDocuments, type IngestQueues } from "../queue";
import { markFailed } from "./commit";

/** A document not settled this long after its last change is presumed lost in transit. */
export const STALE_AFTER_MS = 15 * 60_000;
/** After this many processing attempts a stale document is failed rather than sent again. */
export const MAX_ATTEMPTS = 6;

/**
 * The scheduled sweep: re-enqueues documents left `queued` or `processing` (a lost message, a
 * consumer killed mid-way) and fails the ones that already had every attempt. At most 200 a run.
 */
export async function sweepStale(
  deps: { db: Db; queues: IngestQueues; logger: Logger; notify: Notify },
  now = Date.now(),
): Promise<{ requeued: number; failed: number }> {
  const stale = await deps.db
    .select({
      id: documents.id,
      tenantId: documents.tenantId,
      priority: documents.priority,
      attempts: documents.attempts,
    })
    .from(documents)
    .where(and(inArray(documents.status, ["queued", "processing"]), lt(documents.updatedAt, now - STALE_AFTER_MS)))
    .limit(200);
  const hopeless = stale.filter((doc) => doc.attempts >= MAX_ATTEMPTS);
  for (const doc of hopeless) {
    await markFailed(
      deps,
      { document_id: doc.id, tenant_id: doc.tenantId },
      `processing did not finish after ${doc.attempts} attempts`,
    );
  }
  const again = stale.filter((doc) => doc.attempts < MAX_ATTEMPTS);
  if (again.length > 0) {
    await deps.db
      .update(documents)
      .set({ status: "queued", updatedAt: now })
      .where(
        inList(
          documents.id,
          again.map((doc) => doc.id),
        ),
      )
      .run();
    await enqueueDocuments(deps.queues, again);
  }
  const requeued = again.length;
  const failed = hopeless.length;
  if (stale.length > 0) {
    deps.logger.warn("swept stale documents", { requeued, failed });
  }
  return { requeued, failed };
}

/**
 * Documents waiting for or in ingestion, over every tenant (the `ingest_backlog` gauge; an
 * operator's figure, like the sweep). Counted on the status index.
 */
export async function backlog(db: Db): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(documents)
    .where(inArray(documents.status, ["queued", "processing"]));
  return row?.n ?? 0;
}

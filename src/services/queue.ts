import type { DocumentRow } from "../adapters/db/schema";
import type { IngestMessage } from "../schemas/queue";

/** The ingestion queues: `high` has its own so it is never stuck behind bulk imports. */
export interface IngestQueues {
  high: Queue<IngestMessage>;
  bulk: Queue<IngestMessage>;
}

/** Cloudflare Queues takes at most 100 messages per sendBatch. */
const BATCH = 100;

/** Sends one message per document to the queue of its priority, in as few batches as the limit allows. */
export async function enqueueDocuments(
  queues: IngestQueues,
  docs: ReadonlyArray<Pick<DocumentRow, "id" | "tenantId" | "priority">>,
): Promise<void> {
  for (const priority of ["high", "bulk"] as const) {
    const messages = docs
      .filter((doc) => (doc.priority === "high") === (priority === "high"))
      .map((doc) => ({ body: { document_id: doc.id, tenant_id: doc.tenantId }, contentType: "json" as const }));
    for (let i = 0; i < messages.length; i += BATCH) {
      await queues[priority].sendBatch(messages.slice(i, i + BATCH));
    }
  }
}

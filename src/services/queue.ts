import type { DocumentRow } from "../adapters/db/schema";
import type { IngestMessage } from "../schemas/queue";

/** The ingestion queues: `high` has its own so it is never stuck behind bulk imports. */
export interface IngestQueues {
  high: Queue<IngestMessage>;
  bulk: Queue<IngestMessage>;
}

/** Cloudflare Queues takes at most 100 messages, and 256 KB of them, per `sendBatch`. */
export const MAX_BATCH_MESSAGES = 100;
export const MAX_BATCH_BYTES = 256 * 1024;
/** Counted per message beside its JSON body: room for what the platform adds (content type, delay). */
const MESSAGE_OVERHEAD_BYTES = 256;
const encoder = new TextEncoder();

/** Messages in the fewest batches that keep under both limits, in order. */
export function batchesOf<T>(messages: ReadonlyArray<MessageSendRequest<T>>): Array<Array<MessageSendRequest<T>>> {
  const batches: Array<Array<MessageSendRequest<T>>> = [];
  let current: Array<MessageSendRequest<T>> = [];
  let bytes = 0;
  for (const message of messages) {
    const size = encoder.encode(JSON.stringify(message.body)).byteLength + MESSAGE_OVERHEAD_BYTES;
    if (current.length > 0 && (current.length === MAX_BATCH_MESSAGES || bytes + size > MAX_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) {
    batches.push(current);
  }
  return batches;
}

/**
 * The one way producers send several messages: split under the batch limits and sent in order.
 * A batch is atomic; several are not, so a producer that must not half-send keeps its messages to
 * one batch (the broadcast's pages are sized for that).
 */
export async function sendAll<T>(queue: Queue<T>, messages: ReadonlyArray<MessageSendRequest<T>>): Promise<void> {
  for (const batch of batchesOf(messages)) {
    await queue.sendBatch(batch);
  }
}

/** Sends one message per document to the queue of its priority, in as few batches as the limit allows. */
export async function enqueueDocuments(
  queues: IngestQueues,
  docs: ReadonlyArray<Pick<DocumentRow, "id" | "tenantId" | "priority">>,
): Promise<void> {
  for (const priority of ["high", "bulk"] as const) {
    const messages = docs
      .filter((doc) => (doc.priority === "high") === (priority === "high"))
      .map((doc) => ({ body: { document_id: doc.id, tenant_id: doc.tenantId }, contentType: "json" as const }));
    await sendAll(queues[priority], messages);
  }
}

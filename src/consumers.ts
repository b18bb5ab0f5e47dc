/**
 * Which service consumes each queue: the table wrangler.toml's `[[queues.consumers]]` must match
 * (test/node/deploy.test.mjs checks it). The Worker's `queue` handler calls `handleBatch`.
 */
import type { Services } from "./container";
import type { ExportMessage } from "./schemas/exports";
import type { NotifyMessage } from "./schemas/notifications";
import type { IngestMessage } from "./schemas/queue";
import type { WebhookMessage } from "./schemas/webhooks";

type Consumer = (batch: MessageBatch, services: Services) => Promise<void>;

/** The ingestion consumer; `dead` for the dead-letter queue (what is left there is marked failed). */
const ingest =
  (dead: boolean): Consumer =>
  (batch, s) =>
    s.ingest.handleBatch(batch as MessageBatch<IngestMessage>, dead);

/** Which service consumes each queue (wrangler.toml's `[[queues.consumers]]`). */
export const consumers: Record<string, Consumer> = {
  "edgerag-ingest-high": ingest(false),
  "edgerag-ingest": ingest(false),
  "edgerag-ingest-dlq": ingest(true),
  "edgerag-notify": (batch, s) => s.notifications.handleBatch(batch as MessageBatch<NotifyMessage>),
  "edgerag-exports": (batch, s) => s.exports.handleBatch(batch as MessageBatch<ExportMessage>),
  "edgerag-webhooks": (batch, s) => s.webhooks.handleBatch(batch as MessageBatch<WebhookMessage>),
};

/** A queue nobody consumes is a wiring mistake: the batch fails (and is retried), never misread. */
export async function handleBatch(batch: MessageBatch, services: Services): Promise<void> {
  const consume = consumers[batch.queue];
  if (!consume) {
    throw new Error(`no consumer for queue "${batch.queue}"`);
  }
  await consume(batch, services);
}

import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { createApp } from "../../src/app";
import type { IngestMessage } from "../../src/schemas/queue";
import { MemoryQueue } from "./memory-queue";

/**
 * Ingestion driven by the test instead of the local queue's batch timer. Uploads sent through
 * `fetchQueued` land in memory queues; `settleIngest` hands what they hold to the Worker's real
 * queue handler, as the runtime would (retries come back with one more attempt, and after the
 * last one the batch goes to the dead-letter consumer), until nothing is left.
 */
const high = new MemoryQueue();
const bulk = new MemoryQueue();
const queuedEnv = { ...env, INGEST_HIGH: high, INGEST: bulk } as unknown as Env;
const app = createApp();

/** wrangler.toml's `max_retries` for both ingestion queues. */
const MAX_RETRIES = 4;

/** A request through the Worker whose ingestion queues are the memory ones above. */
export async function fetchQueued(request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(request, queuedEnv, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

type Pending = { queue: string; body: IngestMessage; attempts: number };

/** Runs the consumer over everything queued (and everything it queues in turn). */
export async function settleIngest(): Promise<void> {
  const { default: worker } = await import("../../src/index");
  let pending: Pending[] = [];
  for (let round = 0; round < 50; round++) {
    pending.push(
      ...high.sent.splice(0).map((body) => ({ queue: "edgerag-ingest-high", body, attempts: 1 })),
      ...bulk.sent.splice(0).map((body) => ({ queue: "edgerag-ingest", body, attempts: 1 })),
    );
    if (pending.length === 0) {
      return;
    }
    const next: Pending[] = [];
    for (const queue of new Set(pending.map((p) => p.queue))) {
      const items = pending.filter((p) => p.queue === queue);
      const batch = createMessageBatch<IngestMessage>(
        queue,
        items.map((p, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: p.attempts, body: p.body })),
      );
      const ctx = createExecutionContext();
      await worker.queue(batch as MessageBatch, queuedEnv, ctx);
      const result = await getQueueResult(batch, ctx);
      // A handler that throws has its whole batch retried, as one that calls retryAll.
      const retried =
        result.outcome !== "ok" || result.retryBatch.retry
          ? items.map((_, i) => `m${i}`)
          : result.retryMessages.map((m) => m.msgId);
      for (const id of retried) {
        const item = items[Number(id.slice(1))];
        if (!item) {
          continue;
        }
        if (queue === "edgerag-ingest-dlq") {
          throw new Error(`the dead-letter consumer retried ${JSON.stringify(item.body)}`);
        }
        next.push(
          item.attempts > MAX_RETRIES
            ? { queue: "edgerag-ingest-dlq", body: item.body, attempts: 1 }
            : { ...item, attempts: item.attempts + 1 },
        );
      }
    }
    pending = next;
  }
  throw new Error("ingestion did not settle in 50 rounds");
}

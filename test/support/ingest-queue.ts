import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { createApp } from "../../src/app";
import type { IngestMessage } from "../../src/schemas/queue";
import { MemoryQueue } from "./memory-queue";

/**
 * Queue work driven by the test instead of the local queues' batch timers. Requests sent through
 * `fetchQueued` put ingestion and export messages in memory queues; `settleQueues` hands what they
 * hold to the Worker's real queue handler, as the runtime would (retries come back with one more
 * attempt; after the last, an ingestion message goes to the dead-letter consumer and an export
 * message is dropped), until nothing is left.
 */
const DLQ = "edgerag-ingest-dlq";
const queues = {
  // wrangler.toml's max_batch_size and max_retries for each.
  "edgerag-ingest-high": { binding: "INGEST_HIGH", queue: new MemoryQueue(), batch: 5, maxRetries: 4, dead: DLQ },
  "edgerag-ingest": { binding: "INGEST", queue: new MemoryQueue(), batch: 100, maxRetries: 4, dead: DLQ },
  "edgerag-exports": { binding: "EXPORTS", queue: new MemoryQueue(), batch: 1, maxRetries: 5, dead: undefined },
  [DLQ]: { binding: undefined, queue: undefined, batch: 10, maxRetries: 0, dead: undefined },
} as const;
const queuedEnv = {
  ...env,
  ...Object.fromEntries(Object.values(queues).flatMap(({ binding, queue }) => (binding ? [[binding, queue]] : []))),
} as unknown as Env;
const app = createApp();

/** A request through the Worker whose ingestion queues are the memory ones above. */
export async function fetchQueued(request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(request, queuedEnv, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

type Pending = { queue: string; body: IngestMessage; attempts: number };

/** Runs the consumers over everything queued (and everything they queue in turn). */
export async function settleQueues(): Promise<void> {
  const { default: worker } = await import("../../src/index");
  let pending: Pending[] = [];
  for (let round = 0; round < 50; round++) {
    for (const [name, { queue }] of Object.entries(queues)) {
      pending.push(...(queue?.sent.splice(0) ?? []).map((body) => ({ queue: name, body, attempts: 1 })));
    }
    if (pending.length === 0) {
      return;
    }
    const next: Pending[] = [];
    for (const queue of new Set(pending.map((p) => p.queue))) {
      const settings = queues[queue as keyof typeof queues];
      const waiting = pending.filter((p) => p.queue === queue);
      for (let from = 0; from < waiting.length; from += settings.batch) {
        next.push(...(await deliver(worker, queue, waiting.slice(from, from + settings.batch))));
      }
    }
    pending = next;
  }
  throw new Error("the queues did not settle in 50 rounds");
}

/** One batch through the Worker's queue handler; what it retries, as the runtime would send it next. */
async function deliver(worker: ExportedHandler<Env>, queue: string, items: Pending[]): Promise<Pending[]> {
  const batch = createMessageBatch<IngestMessage>(
    queue,
    items.map((p, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: p.attempts, body: p.body })),
  );
  const ctx = createExecutionContext();
  await worker.queue?.(batch as MessageBatch, queuedEnv, ctx);
  const result = await getQueueResult(batch, ctx);
  // A handler that throws has its whole batch retried, as one that calls retryAll.
  const retried =
    result.outcome !== "ok" || result.retryBatch.retry
      ? items.map((_, i) => `m${i}`)
      : result.retryMessages.map((m) => m.msgId);
  const next: Pending[] = [];
  for (const id of retried) {
    const item = items[Number(id.slice(1))];
    if (!item) {
      continue;
    }
    if (queue === DLQ) {
      throw new Error(`the dead-letter consumer retried ${JSON.stringify(item.body)}`);
    }
    const { maxRetries, dead } = queues[queue as keyof typeof queues];
    if (item.attempts <= maxRetries) {
      next.push({ ...item, attempts: item.attempts + 1 });
    } else if (dead) {
      next.push({ queue: dead, body: item.body, attempts: 1 });
    }
  }
  return next;
}

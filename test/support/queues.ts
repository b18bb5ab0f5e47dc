import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { createApp } from "../../src/app";
import type { IngestMessage } from "../../src/schemas/queue";
import { MemoryQueue } from "./memory-queue";

/**
 * Queue work driven by the test instead of the local queues' batch timers. Requests sent through
 * `fetchQueued` put ingestion and export messages in memory queues; `settleQueues` hands what they
 * hold to the Worker's real queue handler, as the runtime would: in batches of each consumer's
 * `max_batch_size`, retries back with one more attempt, and after the last `max_retries` a message
 * goes to the consumer's dead-letter queue or is dropped. The settings are wrangler.toml's
 * (`TEST_QUEUES`, read by vitest.config.ts), so they cannot drift from what production runs.
 */
const DRIVEN = ["edgerag-ingest-high", "edgerag-ingest", "edgerag-exports"];

interface QueueConfig {
  producers: Array<{ binding: string; queue: string }>;
  consumers: Array<{ queue: string; max_batch_size?: number; max_retries?: number; dead_letter_queue?: string }>;
}
const config = JSON.parse(env.TEST_QUEUES) as QueueConfig;
const memory = new Map(DRIVEN.map((name) => [name, new MemoryQueue()]));
const consumerOf = (name: string) => {
  const consumer = config.consumers.find((c) => c.queue === name);
  if (!consumer) {
    throw new Error(`wrangler.toml has no consumer for ${name}`);
  }
  // Cloudflare's defaults where wrangler.toml says nothing.
  return {
    batch: consumer.max_batch_size ?? 10,
    maxRetries: consumer.max_retries ?? 3,
    dead: consumer.dead_letter_queue,
  };
};
const queuedEnv = {
  ...env,
  ...Object.fromEntries(
    config.producers.flatMap(({ binding, queue }) => (memory.has(queue) ? [[binding, memory.get(queue)]] : [])),
  ),
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
    for (const [name, queue] of memory) {
      pending.push(...queue.sent.splice(0).map((body) => ({ queue: name, body, attempts: 1 })));
    }
    if (pending.length === 0) {
      return;
    }
    const next: Pending[] = [];
    for (const queue of new Set(pending.map((p) => p.queue))) {
      const { batch } = consumerOf(queue);
      const waiting = pending.filter((p) => p.queue === queue);
      for (let from = 0; from < waiting.length; from += batch) {
        next.push(...(await deliver(worker, queue, waiting.slice(from, from + batch))));
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
  const all = result.outcome !== "ok" || result.retryBatch.retry;
  const ids = new Set(result.retryMessages.map((m) => m.msgId));
  const retried = items.filter((_, i) => all || ids.has(`m${i}`));
  const { maxRetries, dead } = consumerOf(queue);
  const next: Pending[] = [];
  for (const item of retried) {
    if (!memory.has(queue)) {
      throw new Error(`the ${queue} consumer retried ${JSON.stringify(item.body)}`);
    }
    if (item.attempts <= maxRetries) {
      next.push({ ...item, attempts: item.attempts + 1 });
    } else if (dead) {
      next.push({ queue: dead, body: item.body, attempts: 1 });
    }
  }
  return next;
}

import { describe, expect, it } from "vitest";
import { consumers, handleBatch } from "../../src/consumers";
import type { Services } from "../../src/container";
import { batchesOf, MAX_BATCH_BYTES, MAX_BATCH_MESSAGES, sendAll } from "../../src/services/queue";

const message = (i: number, bytes = 10) => ({ body: { i, pad: "x".repeat(bytes) } });

describe("queue batches", () => {
  it("splits at 100 messages, in order", () => {
    const batches = batchesOf(Array.from({ length: 201 }, (_, i) => message(i)));
    expect(batches.map((b) => b.length)).toEqual([MAX_BATCH_MESSAGES, MAX_BATCH_MESSAGES, 1]);
    expect(batches.flat().map((m) => m.body.i)).toEqual(Array.from({ length: 201 }, (_, i) => i));
  });

  it("splits at the byte limit before the count limit", () => {
    // 40 messages of ~20 KB: 256 KB holds 12 of them.
    const batches = batchesOf(Array.from({ length: 40 }, (_, i) => message(i, 20_000)));
    expect(batches.length).toBeGreaterThan(1);
    for (const batch of batches) {
      const bytes = batch.reduce((sum, m) => sum + JSON.stringify(m.body).length + 256, 0);
      expect(bytes).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    }
    expect(batches.flat()).toHaveLength(40);
  });

  it("sends every batch through the queue, and nothing for no messages", async () => {
    const sent: number[] = [];
    const queue = {
      sendBatch: async (batch: Iterable<unknown>) => {
        sent.push([...batch].length);
      },
    } as unknown as Queue<unknown>;
    await sendAll(
      queue,
      Array.from({ length: 101 }, (_, i) => message(i)),
    );
    await sendAll(queue, []);
    expect(sent).toEqual([100, 1]);
  });
});

describe("queue consumers", () => {
  const batchOf = (queue: string) => ({ queue, messages: [] }) as unknown as MessageBatch;

  it("hands each queue's batch to its service, and the dead-letter queue as dead", async () => {
    const calls: string[] = [];
    const record = (name: string) => async (_batch: MessageBatch, dead?: boolean) =>
      void calls.push(dead ? `${name} (dead)` : name);
    const services = {
      ingest: { handleBatch: record("ingest") },
      notifications: { handleBatch: record("notifications") },
      exports: { handleBatch: record("exports") },
      webhooks: { handleBatch: record("webhooks") },
    } as unknown as Services;
    for (const queue of Object.keys(consumers)) {
      await handleBatch(batchOf(queue), services);
    }
    expect(calls).toEqual(["ingest", "ingest", "ingest (dead)", "notifications", "exports", "webhooks"]);
  });

  it("fails a batch from a queue it does not know, rather than reading it as ingestion", async () => {
    await expect(handleBatch(batchOf("edgerag-ingest-typo"), {} as Services)).rejects.toThrow(
      'no consumer for queue "edgerag-ingest-typo"',
    );
  });
});

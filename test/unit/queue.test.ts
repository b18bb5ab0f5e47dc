import { describe, expect, it } from "vitest";
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

import { describe, expect, it } from "vitest";
import { readCapped } from "../../src/middleware/body-limit";

/** A body that sends one chunk and then stalls, recording whether it was cancelled. */
function stalling() {
  const state = { cancelled: false, pulls: 0 };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      state.pulls++;
      if (state.pulls === 1) {
        controller.enqueue(new TextEncoder().encode('{"name":"'));
      }
      return new Promise(() => undefined); // never more
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, state };
}

const request = (body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
  new Request("http://edgerag.test/", { method: "POST", body, headers, duplex: "half" } as RequestInit);

describe("readCapped", () => {
  it("refuses a declared length over the limit without reading, and cancels the body", async () => {
    const { stream, state } = stalling();
    await expect(readCapped(request(stream, { "Content-Length": "1000000000000" }), 1_024)).rejects.toMatchObject({
      code: "payload_too_large",
    });
    // (workerd's dev proxy otherwise keeps draining the declared bytes before the 413 goes out.)
    await new Promise((r) => setTimeout(r, 10));
    expect(state.cancelled).toBe(true);
  });

  it("stops reading and cancels the body when its deadline aborts", async () => {
    const { stream, state } = stalling();
    const controller = new AbortController();
    const reading = readCapped(request(stream), 1_024, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(reading).rejects.toMatchObject({ code: "request_timeout" });
    expect(state.cancelled).toBe(true);
  });

  it("reads a body of unknown length into one buffer, growing it, up to the limit", async () => {
    const parts = Array.from({ length: 40 }, (_, i) => new Uint8Array(1_000).fill(i));
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = parts.shift();
        if (next) {
          controller.enqueue(next);
        } else {
          controller.close();
        }
      },
    });
    const bytes = await readCapped(request(stream), 40_000);
    expect(bytes.byteLength).toBe(40_000);
    expect(bytes[39_999]).toBe(39);
    expect(bytes[0]).toBe(0);
  });
});

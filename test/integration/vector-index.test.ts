import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ShardRouter } from "../../src/adapters/shards/router";
import { DurableObjectVectorIndex } from "../../src/adapters/vector/durable-object";
import type { VectorIndex } from "../../src/adapters/vector/interface";
import { MemoryVectorIndex } from "../../src/adapters/vector/memory";
import { UpstashVectorIndex } from "../../src/adapters/vector/upstash";
import { VectorizeVectorIndex } from "../../src/adapters/vector/vectorize";
import { VectorizeStandIn } from "../support/standins/vectorize";

/** Shards that never split: these tests are about one shard's index. */
const unsplit = () => new ShardRouter(env.VECTOR_SHARD, { splitAtChunks: Number.MAX_SAFE_INTEGER, maxShards: 1 });

/**
 * Behaviour every VectorIndex implementation must have: the Durable Object shards for real, and
 * Vectorize and Upstash Vector against local stand-ins of their protocols (test/support/standins).
 * `make(dimensions)` gives an index of that size (Vectorize and Upstash fix it per index).
 * Vectorize counts vectors per index only, so its namespace counts are null.
 */
interface Implementation {
  name: string;
  make: (dimensions: number) => VectorIndex;
  countsPerNamespace: boolean;
}
const implementations: Implementation[] = [
  { name: "durable-object", make: () => new DurableObjectVectorIndex(unsplit()), countsPerNamespace: true },
  { name: "memory (unit tests)", make: () => new MemoryVectorIndex(), countsPerNamespace: true },
  {
    name: "vectorize (stand-in binding)",
    make: (d) => new VectorizeVectorIndex(new VectorizeStandIn(d)),
    countsPerNamespace: false,
  },
  {
    name: "upstash-vector (stand-in REST server)",
    make: (d) =>
      new UpstashVectorIndex({
        url: `${env.TEST_UPSTASH_VECTOR_URL}/d${d}`,
        token: env.TEST_UPSTASH_VECTOR_TOKEN,
        timeoutMs: 2_000,
      }),
    countsPerNamespace: true,
  },
];

const unit = (values: number[]) => {
  const v = Float32Array.from(values);
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / norm);
};
const ns = () => `ten_test/${crypto.randomUUID()}`;

for (const { name, make, countsPerNamespace } of implementations) {
  describe(`VectorIndex conformance: ${name}`, () => {
    it("returns the exact top-k by cosine, best first, with document ids", async () => {
      const index = make(3);
      const space = ns();
      await index.upsert(space, [
        { id: "a", documentId: "d1", vector: unit([1, 0, 0]) },
        { id: "b", documentId: "d1", vector: unit([0.8, 0.2, 0]) },
        { id: "c", documentId: "d2", vector: unit([0, 1, 0]) },
        { id: "d", documentId: "d3", vector: unit([0, 0, 1]) },
      ]);
      const matches = await index.query(space, unit([1, 0.1, 0]), 2);
      expect(matches.map((m) => m.id)).toEqual(["a", "b"]);
      expect(matches[0]?.documentId).toBe("d1");
      expect(matches[0]?.score).toBeGreaterThan(matches[1]?.score ?? 1);
      expect(await index.stats(space)).toEqual({ vectors: countsPerNamespace ? 4 : null, dimensions: 3 });
    });

    it("filters by document, replaces on upsert, deletes by id, and drops a namespace", async () => {
      const index = make(2);
      const space = ns();
      await index.upsert(space, [
        { id: "a", documentId: "d1", vector: unit([1, 0]) },
        { id: "b", documentId: "d2", vector: unit([1, 0.1]) },
      ]);
      expect((await index.query(space, unit([1, 0]), 5, { documentIds: ["d2"] })).map((m) => m.id)).toEqual(["b"]);
      await index.upsert(space, [{ id: "a", documentId: "d1", vector: unit([0, 1]) }]);
      expect((await index.query(space, unit([1, 0]), 1)).map((m) => m.id)).toEqual(["b"]);
      await index.delete(space, ["b"]);
      expect((await index.query(space, unit([1, 0]), 5)).map((m) => m.id)).toEqual(["a"]);
      await index.drop(space, ["a"]);
      expect(await index.query(space, unit([1, 0]), 5)).toEqual([]);
      if (countsPerNamespace) {
        expect(await index.stats(space)).toEqual({ vectors: 0, dimensions: null });
      }
      // Dropping a namespace that never held a vector is not an error.
      await index.drop(ns(), []);
    });

    it("keeps namespaces apart and refuses vectors of another size", async () => {
      const index = make(2);
      const one = ns();
      const two = ns();
      await index.upsert(one, [{ id: "a", documentId: "d", vector: unit([1, 0]) }]);
      expect(await index.query(two, unit([1, 0]), 5)).toEqual([]);
      await expect(index.upsert(one, [{ id: "b", documentId: "d", vector: unit([1, 0, 0]) }])).rejects.toThrow(
        /dimensions/,
      );
    });
  });
}

describe("VectorShard", () => {
  it("serves its vectors again after an eviction (storage, not memory, is the truth)", async () => {
    const index = new DurableObjectVectorIndex(unsplit());
    const space = ns();
    await index.upsert(space, [{ id: "a", documentId: "d", vector: unit([1, 2, 3]) }]);
    await evictDurableObject(env.VECTOR_SHARD.get(env.VECTOR_SHARD.idFromName(space)));
    expect((await index.query(space, unit([1, 2, 3]), 1))[0]?.id).toBe("a");
  });

  it("refuses politely beyond its capacity with 409 conflict", async () => {
    const index = new DurableObjectVectorIndex(unsplit());
    const space = ns();
    // The test shard holds 1,000 vectors of 384 dimensions.
    const batch = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        id: `v${from + i}`,
        documentId: "d",
        vector: new Float32Array(384).fill(0.05),
      }));
    await index.upsert(space, batch(0, 600));
    await index.upsert(space, batch(600, 400));
    const big = batch(1_000, 1);
    await expect(index.upsert(space, big)).rejects.toMatchObject({ code: "conflict" });
    expect((await index.stats(space)).vectors).toBe(1_000);
  });
});

describe("Upstash Vector adapter", () => {
  const upstash = (overrides: Partial<{ url: string; token: string; timeoutMs: number }> = {}) =>
    new UpstashVectorIndex({
      url: `${env.TEST_UPSTASH_VECTOR_URL}/d2`,
      token: env.TEST_UPSTASH_VECTOR_TOKEN,
      timeoutMs: 2_000,
      ...overrides,
    });

  it("reports cosine scores on the same scale as the other indexes", async () => {
    const index = upstash();
    const space = ns();
    await index.upsert(space, [
      { id: "same", documentId: "d", vector: unit([1, 0]) },
      { id: "opposite", documentId: "d", vector: unit([-1, 0]) },
    ]);
    const matches = await index.query(space, unit([1, 0]), 2);
    expect(matches[0]?.score).toBeCloseTo(1, 5);
    expect(matches[1]?.score).toBeCloseTo(-1, 5);
  });

  it("never puts a client's text into a filter expression", async () => {
    const index = upstash();
    const space = ns();
    await index.upsert(space, [{ id: "a", documentId: "d1", vector: unit([1, 0]) }]);
    expect(await index.query(space, unit([1, 0]), 5, { documentIds: ["x') OR documentId != ('"] })).toEqual([]);
  });

  it("maps a refused token to misconfigured and a silent server to upstream_timeout", async () => {
    await expect(upstash({ token: "wrong" }).stats(ns())).rejects.toMatchObject({ code: "misconfigured" });
    await expect(upstash({ url: env.TEST_HANG_URL, timeoutMs: 200 }).stats(ns())).rejects.toMatchObject({
      code: "upstream_timeout",
    });
  });
});

describe("Vectorize adapter", () => {
  it("caps topK at Vectorize's limit and filters by document through the metadata index", async () => {
    const index = new VectorizeVectorIndex(new VectorizeStandIn(2));
    const space = ns();
    const records = Array.from({ length: 150 }, (_, i) => ({
      id: `v${i}`,
      documentId: i % 2 ? "odd" : "even",
      vector: unit([1, i / 150]),
    }));
    await index.upsert(space, records);
    expect(await index.query(space, unit([1, 0]), 500)).toHaveLength(100);
    const odd = await index.query(space, unit([1, 0]), 10, { documentIds: ["odd"] });
    expect(odd.every((m) => m.documentId === "odd")).toBe(true);
  });

  it("fails clearly when the index lacks the documentId metadata index", async () => {
    const index = new VectorizeVectorIndex(new VectorizeStandIn(2, []));
    await expect(index.query(ns(), unit([1, 0]), 5, { documentIds: ["d"] })).rejects.toMatchObject({
      code: "upstream_unavailable",
      message: expect.stringMatching(/metadata index/),
    });
  });
});

import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DurableObjectVectorIndex } from "../../src/adapters/vector/durable-object";
import type { VectorIndex } from "../../src/adapters/vector/interface";

/** Behaviour every VectorIndex implementation must have (the Durable Object shard index today). */
const implementations: Array<[string, () => VectorIndex]> = [
  ["durable-object", () => new DurableObjectVectorIndex(env.VECTOR_SHARD)],
];

const unit = (values: number[]) => {
  const v = Float32Array.from(values);
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / norm);
};
const ns = () => `ten_test/${crypto.randomUUID()}`;

for (const [name, make] of implementations) {
  describe(`VectorIndex conformance: ${name}`, () => {
    it("returns the exact top-k by cosine, best first, with document ids", async () => {
      const index = make();
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
      expect(await index.stats(space)).toEqual({ vectors: 4, dimensions: 3 });
    });

    it("filters by document, replaces on upsert, deletes by id, and drops a namespace", async () => {
      const index = make();
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
      await index.drop(space);
      expect(await index.query(space, unit([1, 0]), 5)).toEqual([]);
      expect(await index.stats(space)).toEqual({ vectors: 0, dimensions: null });
    });

    it("keeps namespaces apart and refuses vectors of another size", async () => {
      const index = make();
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
    const index = new DurableObjectVectorIndex(env.VECTOR_SHARD);
    const space = ns();
    await index.upsert(space, [{ id: "a", documentId: "d", vector: unit([1, 2, 3]) }]);
    await evictDurableObject(env.VECTOR_SHARD.get(env.VECTOR_SHARD.idFromName(space)));
    expect((await index.query(space, unit([1, 2, 3]), 1))[0]?.id).toBe("a");
  });

  it("refuses politely beyond its capacity with 409 conflict", async () => {
    const index = new DurableObjectVectorIndex(env.VECTOR_SHARD);
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

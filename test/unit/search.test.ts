import { describe, expect, it } from "vitest";
import { LocalHashEmbedder } from "../../src/adapters/embed/local";
import { type ChunkHit, fuse } from "../../src/services/search";

const RRF = { k: 60, weights: { keyword: 1, vector: 1 } };

const hit = (id: string): ChunkHit => ({
  chunk_id: id,
  document_id: `d_${id}`,
  collection_id: "c",
  title: "t",
  heading: null,
  text: id,
  page: null,
  score: 0,
});

describe("fuse (RRF)", () => {
  it("sums 1/(k + rank) per list, keeps each chunk once with its ranks, best first", () => {
    const fused = fuse({ keyword: [hit("a"), hit("b")], vector: [hit("b"), hit("c")] }, 10, RRF);
    expect(fused.map((f) => f.chunk_id)).toEqual(["b", "a", "c"]);
    expect(fused[0]?.ranks).toEqual({ keyword: 2, vector: 1 });
    expect(fused[0]?.score).toBeCloseTo(1 / (RRF.k + 2) + 1 / (RRF.k + 1));
    expect(fuse({ keyword: [hit("a"), hit("b")], vector: [] }, 1, RRF).map((f) => f.chunk_id)).toEqual(["a"]);
    // Weights scale each list: a light vector list only breaks keyword ties.
    const light = fuse({ keyword: [hit("a"), hit("b")], vector: [hit("b")] }, 10, {
      k: 60,
      weights: { keyword: 1, vector: 0.01 },
    });
    expect(light.map((f) => f.chunk_id)).toEqual(["a", "b"]);
  });
});

/** Dot product of two vectors (0 for a missing one). */
function dot(x?: Float32Array, y?: Float32Array): number {
  let sum = 0;
  for (let i = 0; x && y && i < x.length; i++) {
    sum += (x[i] ?? 0) * (y[i] ?? 0);
  }
  return sum;
}

describe("LocalHashEmbedder", () => {
  const embedder = new LocalHashEmbedder(384);

  it("is deterministic, normalised and of the declared size", async () => {
    const [a, b] = await embedder.embed(["Paid vacation days", "Paid vacation days"], "document");
    expect(a).toEqual(b);
    expect(a).toHaveLength(384);
    const norm = Math.sqrt(dot(a, a));
    expect(norm).toBeCloseTo(1, 5);
    expect(embedder.model).toBe("local/hash-v1-384");
  });

  it("scores shared (stemmed) words above unrelated text", async () => {
    const [query, related, unrelated] = await embedder.embed(
      ["vacations for employees", "Employee vacation policy", "Quarterly revenue grew"],
      "document",
    );
    expect(dot(query, related)).toBeGreaterThan(0.3);
    expect(Math.abs(dot(query, unrelated))).toBeLessThan(0.2);
  });

  it("gives an empty or stop-word-only text the zero vector", async () => {
    const [empty] = await embedder.embed(["the of and"], "query");
    expect([...(empty ?? [])].every((v) => v === 0)).toBe(true);
  });
});

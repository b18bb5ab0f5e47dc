import { describe, expect, it } from "vitest";
import { LocalHashEmbedder } from "../../src/adapters/embed/local";
import { type ChunkHit, fuse, MAX_VECTOR_FILTER_DOCUMENTS, nearestChunks } from "../../src/services/search";

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

describe("nearestChunks with a metadata filter and an index that cannot evaluate it", () => {
  const filter = { field: "team", test: { op: "eq" as const, value: "hr" } };
  const chunk = (id: string, document_id: string) => ({
    id,
    document_id,
    ordinal: 0,
    title: "t",
    heading: null,
    text: "x",
    page: null,
    token_estimate: 1,
    char_start: 0,
    char_end: 1,
  });
  const deps = (matching: { ids: string[]; more: boolean }, asked: unknown[]) => ({
    vectors: {
      name: "external",
      filtersMetadata: false,
      dropNeedsIds: false,
      upsert: async () => {},
      delete: async () => {},
      stats: async () => ({ vectors: 0, dimensions: null }),
      drop: async () => {},
      query: async (_ns: string, _v: Float32Array, _k: number, f?: unknown) => {
        asked.push(f);
        return [{ id: "d1_0", documentId: "d1", score: 0.9 }];
      },
    },
    shards: { matching: async () => matching, get: async () => [chunk("d1_0", "d1")] } as never,
  });

  it("sends the matching documents' ids to the index", async () => {
    const asked: unknown[] = [];
    const { hits, partial } = await nearestChunks(
      deps({ ids: ["d1", "d2"], more: false }, asked),
      "t",
      new Float32Array([1]),
      { collectionIds: ["c"], metadata: filter, limit: 5 },
    );
    expect(asked).toEqual([{ documentIds: ["d1", "d2"], metadata: undefined }]);
    expect(partial).toBe(false);
    expect(hits.map((h) => h.chunk_id)).toEqual(["d1_0"]);
  });

  it("leaves the collection's vector list out when the filter matches more than it can send", async () => {
    const asked: unknown[] = [];
    const { hits, partial } = await nearestChunks(
      deps({ ids: Array.from({ length: MAX_VECTOR_FILTER_DOCUMENTS }, (_, i) => `d${i}`), more: true }, asked),
      "t",
      new Float32Array([1]),
      { collectionIds: ["c"], metadata: filter, limit: 5 },
    );
    expect(asked).toEqual([]);
    expect({ hits, partial }).toEqual({ hits: [], partial: true });
  });

  it("asks nothing when no document matches", async () => {
    const asked: unknown[] = [];
    const { hits } = await nearestChunks(deps({ ids: [], more: false }, asked), "t", new Float32Array([1]), {
      collectionIds: ["c"],
      metadata: filter,
      limit: 5,
    });
    expect(asked).toEqual([]);
    expect(hits).toEqual([]);
  });
});

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { namespaceOf } from "../../src/adapters/vector/interface";
import { ChunkStore } from "../../src/durable-objects/chunk-store";
import type { VectorShard } from "../../src/durable-objects/vector-shard";
import {
  call,
  expectProblem,
  ingestText,
  json,
  newCollection,
  newKey,
  newTenant,
  type TestTenant,
} from "../support/http";

type Result = {
  chunk_id: string;
  document_id: string;
  title: string;
  text: string;
  score: number;
  ranks: { keyword?: number };
};
type Results = { results: Result[]; timings: Record<string, number> };

let tenant: TestTenant;
let col: string;
let otherCol: string;
const docs: Record<string, string> = {};

const ingest = (collection: string, title: string, text: string) => ingestText(tenant, collection, title, text);

const searchFor = (body: Record<string, unknown>, token = tenant.adminKey) =>
  call("POST", "/v1/search", { token, body });

beforeAll(async () => {
  tenant = await newTenant();
  col = await newCollection(tenant);
  otherCol = await newCollection(tenant);
  docs.leave = await ingest(col, "Leave policy", "Employees receive twenty five days of paid vacation every year.");
  docs.pay = await ingest(
    col,
    "Payroll",
    "Salaries are paid monthly by bank transfer; vacation pay follows the same schedule.",
  );
  docs.other = await ingest(otherCol, "Other", "Vacation rules for contractors differ.");
}, 60_000);

describe("POST /v1/search (keyword)", () => {
  it("ranks chunks by bm25 with stemming, best first, with ranks and timings", async () => {
    const res = await searchFor({
      query: "How many vacation days do employees get?",
      collection_ids: [col],
      strategy: "keyword",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("server-timing")).toMatch(/keyword;dur=/);
    const body = await json<Results>(res);
    expect(body.results.map((r) => r.document_id)).toEqual([docs.leave, docs.pay]);
    expect(body.results[0]?.ranks).toEqual({ keyword: 1 });
    expect(body.results[0]?.score).toBeGreaterThan(body.results[1]?.score ?? Number.POSITIVE_INFINITY);
    const { total_ms: total = Number.NaN, ...stages } = body.timings;
    expect(total).toBeGreaterThan(0);
    expect(Object.values(stages).every((ms) => ms >= 0 && ms <= total)).toBe(true);
  });

  it("searches only the collections asked for, and honours top_k and document filters", async () => {
    const both = await json<Results>(await searchFor({ query: "vacation", collection_ids: [col, otherCol] }));
    expect(new Set(both.results.map((r) => r.document_id))).toEqual(new Set([docs.leave, docs.pay, docs.other]));
    const one = await json<Results>(await searchFor({ query: "vacation", collection_ids: [col, otherCol], top_k: 1 }));
    expect(one.results).toHaveLength(1);
    const filtered = await json<Results>(
      await searchFor({ query: "vacation", collection_ids: [col], filter: { document_ids: [docs.pay] } }),
    );
    expect(filtered.results.map((r) => r.document_id)).toEqual([docs.pay]);
  });

  it("treats FTS syntax in the query as plain words", async () => {
    for (const query of ['vacation" OR "x', "NEAR(vacation pay)", "title:Payroll*", "-vacation ^pay", '"""']) {
      const res = await searchFor({ query, collection_ids: [col] });
      expect([200, 422]).toContain(res.status);
    }
    const quoted = await json<Results>(await searchFor({ query: 'salaries" OR "zzz', collection_ids: [col] }));
    expect(quoted.results.map((r) => r.document_id)).toEqual([docs.pay]);
  });

  it("answers a query of only stop words with 422, and validates the body", async () => {
    const stop = await expectProblem(
      await searchFor({ query: "the and of", collection_ids: [col] }),
      422,
      "validation_failed",
    );
    expect(stop.errors).toEqual([expect.objectContaining({ path: "query" })]);
    await expectProblem(await searchFor({ query: "   ", collection_ids: [col] }), 422, "validation_failed");
    await expectProblem(await searchFor({ query: "x".repeat(2_001), collection_ids: [col] }), 422, "validation_failed");
    await expectProblem(await searchFor({ query: "pay", collection_ids: [col], top_k: 51 }), 422, "validation_failed");
    await expectProblem(await searchFor({ query: "pay", collection_ids: [] }), 422, "validation_failed");
  });

  it("never returns another tenant's chunks: their collection is a 404", async () => {
    const stranger = await newTenant("stranger");
    await expectProblem(
      await searchFor({ query: "vacation", collection_ids: [col] }, stranger.adminKey),
      404,
      "not_found",
    );
  });

  it("restricts a key to its collections (403) and needs the query scope", async () => {
    const restricted = await newKey(tenant, { scopes: ["query"], collection_ids: [otherCol] });
    await expectProblem(
      await searchFor({ query: "vacation", collection_ids: [col] }, restricted.key),
      403,
      "forbidden",
    );
    const ok = await json<Results>(await searchFor({ query: "vacation", collection_ids: [otherCol] }, restricted.key));
    expect(ok.results.map((r) => r.document_id)).toEqual([docs.other]);
    const ingestOnly = await newKey(tenant, { scopes: ["ingest"] });
    await expectProblem(
      await searchFor({ query: "vacation", collection_ids: [col] }, ingestOnly.key),
      403,
      "forbidden",
    );
  });
});

describe("POST /v1/search (vector and hybrid)", () => {
  it("defaults to hybrid and reports each result's rank in both lists", async () => {
    const body = await json<Results & { results: Array<Result & { ranks: { vector?: number; keyword?: number } }> }>(
      await searchFor({ query: "paid vacation days", collection_ids: [col] }),
    );
    expect(body.results[0]?.document_id).toBe(docs.leave);
    expect(body.results[0]?.ranks).toEqual({ keyword: 1, vector: 1 });
    expect(Object.keys(body.timings)).toEqual(
      expect.arrayContaining(["keyword_ms", "vector_ms", "embed_ms", "fuse_ms", "total_ms"]),
    );
  });

  it("finds by embedding similarity with the vector strategy, never beyond the asked collections", async () => {
    const body = await json<Results>(
      await searchFor({ query: "monthly salaries", collection_ids: [col], strategy: "vector" }),
    );
    expect(body.results[0]?.document_id).toBe(docs.pay);
    expect(body.results.every((r) => r.document_id !== docs.other)).toBe(true);
    expect(body.results[0]?.score).toBeGreaterThan(0);
    expect(body.results[0]?.score).toBeLessThanOrEqual(1.0001);
  });

  it("drops a deleted document's vectors from results", async () => {
    const gone = await ingest(col, "Temporary", "Quarterly bonus scheme for engineers.");
    const before = await json<Results>(
      await searchFor({ query: "quarterly bonus", collection_ids: [col], strategy: "vector" }),
    );
    expect(before.results[0]?.document_id).toBe(gone);
    expect((await call("DELETE", `/v1/documents/${gone}`, { token: tenant.adminKey })).status).toBe(204);
    const after = await json<Results>(
      await searchFor({ query: "quarterly bonus", collection_ids: [col], strategy: "vector" }),
    );
    expect(after.results.map((r) => r.document_id)).not.toContain(gone);
  });
});

describe("common-term pruning (in each collection's shard, by its own statistics)", () => {
  it("leaves out terms more common than the ratio, by the index's own Porter stems, unless all are", async () => {
    const stub = env.VECTOR_SHARD.get(env.VECTOR_SHARD.idFromName(namespaceOf(tenant.id, col)));
    await runInDurableObject(stub, async (_shard: VectorShard, state) => {
      const store = new ChunkStore(state.storage.sql);
      const count = (stem: string) =>
        state.storage.sql.exec<{ doc: number }>("SELECT doc FROM chunks_fts_vocab WHERE term = ?", stem).toArray()[0]
          ?.doc ?? 0;
      const total = store.count().chunks;
      const rare = count("salari"); // FTS5's Porter stem of "salaries"
      const common = count("vacat");
      expect(common).toBeGreaterThan(rare);
      const ratio = (rare + 0.5) / total;
      expect(store.informative(["vacations", "salaries"], ratio, 0)).toEqual(["salaries"]);
      expect(store.informative(["vacations", "salaries"], 1, 0)).toEqual(["vacations", "salaries"]);
      // Every term common, or only unknown words left: keep the query rather than search for nothing.
      expect(store.informative(["vacations", "zyzzyva"], ratio, 0)).toEqual(["vacations", "zyzzyva"]);
      // A small collection is not worth the lookup.
      expect(store.informative(["vacations", "salaries"], ratio, 2_000)).toEqual(["vacations", "salaries"]);
      expect(store.informative(["vacations", "salaries"], 1e-9, 0)).toEqual(["vacations", "salaries"]);
    });
  });
});

describe("per-collection statistics", () => {
  it("another tenant's uploads, and the tenant's other collections, leave its scores bit-for-bit unchanged", async () => {
    const body = { query: "vacation days salaries policy", collection_ids: [col], strategy: "keyword", top_k: 10 };
    const scores = async () =>
      (await json<Results>(await searchFor(body))).results.map((r) => [r.chunk_id, r.score] as const);
    const before = await scores();
    expect(before.length).toBeGreaterThan(1);
    // A stranger uploads 30 documents full of the same words, and the tenant fills another collection.
    const stranger = await newTenant("Stranger");
    const strangers = await newCollection(stranger);
    const words = ["vacation", "days", "salaries", "policy", "holiday", "pay"];
    for (let i = 0; i < 30; i++) {
      const text = Array.from({ length: 40 }, (_, j) => words[(i + j) % words.length]).join(" ");
      await call("POST", `/v1/collections/${strangers}/documents`, {
        token: stranger.adminKey,
        body: { title: `Stranger ${i}`, text, priority: "high" },
      });
    }
    await ingestText(stranger, strangers, "Last stranger", "vacation vacation salaries policy");
    await ingest(otherCol, "Other collection", "vacation days salaries policy vacation days salaries policy");
    expect(await scores()).toEqual(before);
  }, 60_000);
});

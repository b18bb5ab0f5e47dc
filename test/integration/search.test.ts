import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/adapters/db/client";
import { informativeTerms } from "../../src/services/search";
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

describe("common-term pruning", () => {
  it("leaves out terms more common than the ratio, by the index's own Porter stems, unless all are", async () => {
    const db = createDb(env.DB);
    const count = async (stem: string) =>
      (await env.DB.prepare("SELECT doc FROM chunks_fts_vocab WHERE term = ?").bind(stem).first<{ doc: number }>())
        ?.doc ?? 0;
    const total = (await env.DB.prepare("SELECT COUNT(*) AS n FROM chunks").first<{ n: number }>())?.n ?? 0;
    const rare = await count("salari"); // FTS5's Porter stem of "salaries"
    const common = await count("vacat");
    expect(common).toBeGreaterThan(rare + 1);
    const ratio = (rare + 0.5) / total;
    expect(await informativeTerms(db, ["vacations", "salaries"], ratio, 0)).toEqual(["salaries"]);
    expect(await informativeTerms(db, ["vacations", "salaries"], 1)).toEqual(["vacations", "salaries"]);
    // Every term common, or only unknown words left: keep the query rather than search for nothing.
    expect(await informativeTerms(db, ["vacations", "zyzzyva"], ratio, 0)).toEqual(["vacations", "zyzzyva"]);
    // A small index is not worth the lookup.
    expect(await informativeTerms(db, ["vacations", "salaries"], ratio)).toEqual(["vacations", "salaries"]);
    expect(await informativeTerms(db, ["vacations", "salaries"], 1e-9, 0)).toEqual(["vacations", "salaries"]);
  });

  it("remembers a parse in the isolate (L1): a repeated query costs no vocabulary round trip", async () => {
    const db = createDb(env.DB);
    const terms = ["vacations", `salaries${crypto.randomUUID().slice(0, 8)}`];
    let reads = 0;
    const counting = new Proxy(db, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        return name === "all" || name === "get"
          ? (...args: unknown[]) => {
              reads++;
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            }
          : value;
      },
    });
    const first = await informativeTerms(counting, terms, 0.5, 0);
    expect(reads).toBeGreaterThan(0);
    const before = reads;
    expect(await informativeTerms(counting, terms, 0.5, 0)).toEqual(first);
    expect(reads).toBe(before);
  });
});

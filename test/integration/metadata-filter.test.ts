/**
 * Metadata filters: evaluated inside each search shard before ranking, by keyword, vector and
 * hybrid search and by answers. The shard's SQL is checked against the JavaScript reference
 * (`matchesIndexed`) for randomized filters over 10,000 documents; the routes are checked end to
 * end through the Worker.
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { namespaceOf } from "../../src/adapters/vector/interface";
import type { DocumentFields, ShardChunk } from "../../src/durable-objects/chunk-store";
import {
  type IndexedValue,
  indexedFields,
  type MetadataFilter,
  matchesIndexed,
  parseMetadataFilter,
} from "../../src/lib/metadata-filter";
import { QueryBody } from "../../src/schemas/query";
import { testDb } from "../support/db";
import { call, expectProblem, ingestText, json, newCollection, newTenant } from "../support/http";

const shardNamed = (name: string) => env.VECTOR_SHARD.get(env.VECTOR_SHARD.idFromName(name));

// ---- The shard against the reference, over 10,000 documents ------------------------------------

const TEAMS = ["hr", "it", "sales", "legal", "ops"];
const TAGS = ["policy", "leave", "pay", "travel", "security", "onboarding"];
const DOCUMENTS = 10_000;
const DIMS = 8;

function metadataOf(i: number): Record<string, unknown> {
  const m: Record<string, unknown> = { team: TEAMS[i % 5], year: 2000 + (i % 25), n: i };
  if (i % 3 !== 0) {
    m.tags = [TAGS[i % 6], TAGS[(i * 7) % 6]];
  }
  if (i % 4 === 0) {
    m.public = i % 8 === 0;
  }
  if (i % 10 === 0) {
    m.region = i % 20 === 0 ? "eu" : 7; // the same field with two types
  }
  return m;
}

const docId = (i: number) => `doc_f${String(i).padStart(15, "0")}`;
function vectorOf(i: number): Float32Array {
  const v = Float32Array.from({ length: DIMS }, (_, d) => Math.sin(i * (d + 1)) + 1.5);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

const scalar = fc.oneof(
  fc.constantFrom(...TEAMS, ...TAGS, "eu", "nobody"),
  fc.integer({ min: 1995, max: 2030 }),
  fc.integer({ min: 0, max: DOCUMENTS }),
  fc.boolean(),
  fc.constant(7),
);
const field = fc.constantFrom("team", "year", "n", "tags", "public", "region", "absent");
const leaf = fc.oneof(
  fc.tuple(field, scalar).map(([f, v]) => ({ [f]: v })),
  fc.tuple(field, fc.constantFrom("$eq", "$ne"), scalar).map(([f, op, v]) => ({ [f]: { [op]: v } })),
  fc
    .tuple(
      field,
      fc.constantFrom("$gt", "$gte", "$lt", "$lte"),
      fc.oneof(fc.integer({ min: 1990, max: 10_010 }), fc.constantFrom(...TEAMS, "m")),
    )
    .map(([f, op, v]) => ({ [f]: { [op]: v } })),
  fc
    .tuple(field, fc.constantFrom("$in", "$nin"), fc.array(scalar, { minLength: 1, maxLength: 5 }))
    .map(([f, op, v]) => ({ [f]: { [op]: v } })),
  fc.tuple(field, fc.boolean()).map(([f, v]) => ({ [f]: { $exists: v } })),
);
const filterInput: fc.Arbitrary<Record<string, unknown>> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("node"), { minLength: 1, maxLength: 3 }).map((f) => ({ $and: f })),
    fc.array(tie("node"), { minLength: 1, maxLength: 3 }).map((f) => ({ $or: f })),
    tie("node").map((f) => ({ $not: f })),
  ),
})).node as fc.Arbitrary<Record<string, unknown>>;

describe("metadata filters in a search shard (10,000 documents)", () => {
  const shard = shardNamed(`filter-oracle-${crypto.randomUUID()}`);
  const fields: DocumentFields = {};
  beforeAll(async () => {
    for (let start = 0; start < DOCUMENTS; start += 1_000) {
      const ids: string[] = [];
      const rows: ShardChunk[] = [];
      const batch: DocumentFields = {};
      for (let i = start; i < start + 1_000; i++) {
        const id = docId(i);
        ids.push(id);
        // Every chunk says "alpha"; a varying number of fillers gives each a different bm25.
        const text = `alpha ${"filler ".repeat(i % 37)}beta${i % 11}`;
        rows.push({
          id: `${id}_0`,
          document_id: id,
          ordinal: 0,
          title: `Document ${i}`,
          heading: null,
          text,
          page: null,
          token_estimate: 10,
          char_start: 0,
          char_end: text.length,
        });
        batch[id] = indexedFields(metadataOf(i));
        fields[id] = batch[id] as IndexedValue[];
      }
      const written = await shard.writeChunks(ids, rows, batch);
      expect("refused" in written).toBe(false);
      const vectors = await shard.upsert(
        ids.map((id, j) => ({ id: `${id}_0`, documentId: id, vector: vectorOf(start + j) })),
      );
      expect("refused" in vectors).toBe(false);
    }
  }, 120_000);

  const expected = (filter: MetadataFilter) =>
    Object.keys(fields)
      .filter((id) => matchesIndexed(fields[id] ?? [], filter))
      .sort();

  it("selects exactly the documents the reference selects, for randomized filters", async () => {
    await fc.assert(
      fc.asyncProperty(filterInput, async (input) => {
        const parsed = parseMetadataFilter(input);
        fc.pre(parsed.filter !== undefined);
        const filter = parsed.filter as MetadataFilter;
        const { value } = await shard.matching(filter, DOCUMENTS + 1);
        expect([...value.ids].sort()).toEqual(expected(filter));
      }),
      { numRuns: 150, seed: 20261206 },
    );
  }, 120_000);

  it("ranks keyword and vector results among the matching documents only, missing none", async () => {
    const stats = { title: 1.5, heading: 1.2, text: 1 };
    const all = (
      await shard.keyword({
        terms: ["alpha"],
        limit: DOCUMENTS,
        commonTermRatio: 1,
        pruneFromChunks: 0,
        weights: stats,
      })
    ).value.hits;
    const query = vectorOf(4242);
    const allVectors = await shard.query(query, DOCUMENTS);
    if ("refused" in allVectors) {
      throw new Error(allVectors.message);
    }
    await fc.assert(
      fc.asyncProperty(filterInput, async (input) => {
        const parsed = parseMetadataFilter(input);
        fc.pre(parsed.filter !== undefined);
        const filter = parsed.filter as MetadataFilter;
        const allowed = new Set(expected(filter));
        const keyword = (
          await shard.keyword({
            terms: ["alpha"],
            limit: 20,
            commonTermRatio: 1,
            pruneFromChunks: 0,
            weights: stats,
            filter,
          })
        ).value.hits;
        // The best 20 of what matches: the same scores as the full ranking filtered afterwards.
        const best = all.filter((h) => allowed.has(h.document_id)).slice(0, 20);
        expect(keyword.map((h) => h.score)).toEqual(best.map((h) => h.score));
        expect(keyword.every((h) => allowed.has(h.document_id))).toBe(true);
        const vector = await shard.query(query, 20, undefined, filter);
        if ("refused" in vector) {
          throw new Error(vector.message);
        }
        const nearest = allVectors.value.filter((m) => allowed.has(m.documentId)).slice(0, 20);
        expect(vector.value.map((m) => m.id)).toEqual(nearest.map((m) => m.id));
      }),
      { numRuns: 60, seed: 6122026 },
    );
  }, 120_000);
});

// ---- Through the Worker -------------------------------------------------------------------------

type Results = { results: Array<{ document_id: string; title: string }>; degraded?: string[] };

describe("metadata filters through the API", () => {
  it("narrow keyword, vector and hybrid search and answers, and refuse bad filters with their path", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    const hr = await ingestText(
      tenant,
      collection,
      "Leave (HR)",
      "Employees receive twenty five days of paid vacation.",
      {
        team: "hr",
        year: 2024,
        tags: ["leave", "policy"],
      },
    );
    const it2023 = await ingestText(
      tenant,
      collection,
      "Leave (IT)",
      "IT staff receive thirty days of paid vacation.",
      {
        team: "it",
        year: 2023,
      },
    );
    const plain = await ingestText(tenant, collection, "Leave (all)", "Contractors receive ten days of paid vacation.");
    const search = async (metadata: unknown, strategy = "hybrid") =>
      json<Results>(
        await call("POST", "/v1/search", {
          token: tenant.adminKey,
          body: { query: "days of paid vacation", collection_ids: [collection], strategy, filter: { metadata } },
        }),
      );
    for (const strategy of ["keyword", "vector", "hybrid"]) {
      expect((await search({ team: "hr" }, strategy)).results.map((r) => r.document_id)).toEqual([hr]);
      expect(new Set((await search({ year: { $lt: 2024 } }, strategy)).results.map((r) => r.document_id))).toEqual(
        new Set([it2023]),
      );
      expect(new Set((await search({ team: { $ne: "hr" } }, strategy)).results.map((r) => r.document_id))).toEqual(
        new Set([it2023, plain]),
      );
      expect(
        (await search({ tags: "leave", $not: { year: 2023 } }, strategy)).results.map((r) => r.document_id),
      ).toEqual([hr]);
      expect((await search({ team: "finance" }, strategy)).results).toEqual([]);
    }

    const ask = async (metadata: unknown) =>
      json<{ answer: string; abstained: boolean; citations: Array<{ document_id: string }>; cache: string }>(
        await call("POST", "/v1/query", {
          token: tenant.adminKey,
          body: {
            query: "How many days of paid vacation?",
            collection_ids: [collection],
            mode: "fast",
            filter: { metadata },
          },
        }),
      );
    const hrAnswer = await ask({ team: "hr" });
    expect(hrAnswer.answer).toMatch(/twenty five days/);
    expect(hrAnswer.citations.map((c) => c.document_id)).toEqual([hr]);
    // Another filter is another answer, not the cached one.
    const itAnswer = await ask({ team: "it" });
    expect(itAnswer.cache).toBe("miss");
    expect(itAnswer.answer).toMatch(/thirty days/);
    expect((await ask({ team: "it" })).cache).toBe("hit");
    // The query log keeps the filter as an expression, so a replay (warming, exports) parses it again.
    const latest = () =>
      testDb()
        .prepare(
          "SELECT query_text, mode, params FROM query_log WHERE tenant_id = ? AND query_text LIKE 'How many%' AND CAST(params AS TEXT) LIKE '%\"it\"%' LIMIT 1",
        )
        .bind(tenant.id)
        .first<{ query_text: string; mode: string; params: string }>();
    // Written in the background (waitUntil), after the response.
    await expect.poll(latest, { timeout: 5_000, interval: 50 }).not.toBeNull();
    const logged = await latest();
    const replay = QueryBody.safeParse({
      ...JSON.parse(logged?.params ?? "{}"),
      query: logged?.query_text,
      mode: logged?.mode,
    });
    expect(replay.data?.filter?.metadata).toEqual({ field: "team", test: { op: "eq", value: "it" } });
    const none = await ask({ team: "finance" });
    expect(none.abstained).toBe(true);
    expect(none.citations).toEqual([]);

    const bad = await expectProblem(
      await call("POST", "/v1/search", {
        token: tenant.adminKey,
        body: {
          query: "vacation",
          collection_ids: [collection],
          filter: { metadata: { $or: [{ team: "hr" }, { year: { $gt: true } }] } },
        },
      }),
      422,
      "validation_failed",
    );
    expect(bad.errors).toEqual([{ path: "filter.metadata.$or.1.year.$gt", message: "must be a number or a string" }]);
    await expectProblem(
      await call("POST", "/v1/query", {
        token: tenant.adminKey,
        body: {
          query: "vacation",
          collection_ids: [collection],
          mode: "fast",
          filter: { metadata: { team: { $regex: "h" } } },
        },
      }),
      422,
      "validation_failed",
    );
  });

  it("fills in the metadata of documents a shard holds from before filters existed, then filters them", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    const doc = await ingestText(tenant, collection, "Old", "Employees receive twenty five days of paid vacation.", {
      team: "hr",
    });
    // As an earlier version left the shard: chunks without their document's metadata.
    const shard = shardNamed(namespaceOf(tenant.id, collection));
    const { value: chunks } = await shard.documentChunks(doc);
    await shard.writeChunks([doc], chunks);
    expect((await shard.unindexed(10)).value).toEqual([doc]);
    const found = await json<Results>(
      await call("POST", "/v1/search", {
        token: tenant.adminKey,
        body: {
          query: "vacation",
          collection_ids: [collection],
          strategy: "keyword",
          filter: { metadata: { team: "hr" } },
        },
      }),
    );
    expect(found.results.map((r) => r.document_id)).toEqual([doc]);
    expect((await shard.unindexed(10)).value).toEqual([]);
  });
});

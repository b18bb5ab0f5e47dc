/**
 * A collection that outgrows its shard splits by document id hash, transparently: search, exports,
 * deletes and re-ingestion see the same documents before, during and after, and a split racing
 * deletes and writes loses nothing and brings nothing back. The threshold is the test's own
 * (SEARCH_SHARD_SPLIT_CHUNKS), low enough to split a few dozen chunks; the vitest config moves
 * 8 chunks per step (SEARCH_SHARD_MOVE_CHUNKS), so a split here takes many steps.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DurableObjectChunkShards } from "../../src/adapters/shards/durable-object";
import { ShardRouter } from "../../src/adapters/shards/router";
import { namespaceOf } from "../../src/adapters/vector/interface";
import { homeOf, type ShardView, shardName } from "../../src/durable-objects/shard-layout";
import type { VectorShard } from "../../src/durable-objects/vector-shard";
import type { IngestMessage } from "../../src/schemas/queue";
import { call, callQueued, documentsIn, json, newCollection, newTenant, type TestTenant } from "../support/http";
import { settleQueues } from "../support/queues";
import { servicesFor } from "../support/services";

const stub = (ns: string, index: number) => env.VECTOR_SHARD.get(env.VECTOR_SHARD.idFromName(shardName(ns, index)));

/** A word no other document has (letters only, so FTS5 keeps it one token). */
const word = (i: number) => `zq${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}v`;

/** Uploads `n` one-chunk documents and ingests them with a consumer that splits at `splitAt` chunks. */
async function ingestDocuments(
  tenant: TestTenant,
  collection: string,
  range: { from: number; n: number },
  splitAt: number,
  maxShards = 4,
) {
  const res = await call("POST", `/v1/collections/${collection}/documents/batch`, {
    token: tenant.adminKey,
    body: {
      documents: Array.from({ length: range.n }, (_, k) => {
        const i = range.from + k;
        return {
          title: `Record ${i}`,
          text: `The ${word(i)} record describes the shelving policy of archive room ${i}.`,
          metadata: { room: i, parity: i % 2 === 0 ? "even" : "odd" },
        };
      }),
    },
  });
  expect(res.status).toBe(202);
  const { items } = await json<{ items: Array<{ document: { id: string } }> }>(res);
  const ids = items.map((item) => item.document.id);
  // The bulk queue waits before it delivers: this consumer, with the low threshold, gets there first.
  const batch = createMessageBatch<IngestMessage>(
    "edgerag-ingest",
    ids.map((id, i) => ({
      id: `m${i}`,
      timestamp: new Date(),
      attempts: 1,
      body: { document_id: id, tenant_id: tenant.id },
    })),
  );
  const services = servicesFor({
    LOG_LEVEL: "error",
    SEARCH_SHARD_SPLIT_CHUNKS: String(splitAt),
    SEARCH_SHARD_MAX_COUNT: String(maxShards),
  });
  await services.ingest.handleBatch(batch, false);
  expect((await getQueueResult(batch, createExecutionContext())).retryMessages).toEqual([]);
  return ids;
}

async function settledView(ns: string, count: number): Promise<ShardView> {
  let view: ShardView | undefined;
  await expect
    .poll(
      async () => {
        view = await stub(ns, 0).view();
        return view.splitTo === null && view.count === count;
      },
      { timeout: 15_000, interval: 50 },
    )
    .toBe(true);
  return view as ShardView;
}

/** Every shard's documents (chunks) and vector ids. */
async function contents(ns: string, count: number) {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const shard = stub(ns, index);
      const ids = (await shard.chunkIds()).value;
      return {
        view: await shard.view(),
        documents: [...new Set(ids.map((id) => id.slice(0, id.lastIndexOf("_"))))],
        chunks: ids,
        vectors: (await shard.vectorStats()).value.vectors,
      };
    }),
  );
}

type Results = { results: Array<{ chunk_id: string; document_id: string; score: number }> };
const search = (tenant: TestTenant, collection: string, query: string, strategy: string, topK = 5) =>
  call("POST", "/v1/search", {
    token: tenant.adminKey,
    body: { query, collection_ids: [collection], strategy, top_k: topK },
  }).then((r) => json<Results>(r));

describe("shard splitting", () => {
  it("splits a collection past the threshold by document hash; search, exports, deletes and re-ingestion see the same documents", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    const ns = namespaceOf(tenant.id, collection);
    // Below the threshold: one shard.
    const ids = await ingestDocuments(tenant, collection, { from: 0, n: 40 }, 1_000);
    expect(await stub(ns, 0).view()).toEqual({ index: 0, count: 1, splitTo: null });
    const probes = [0, 7, 13, 22, 31, 39];
    const before = await Promise.all(probes.map((i) => search(tenant, collection, word(i), "vector", 10)));
    for (const i of probes) {
      expect((await search(tenant, collection, word(i), "keyword")).results[0]?.document_id).toBe(ids[i]);
    }

    // Eight more documents with a threshold of 24 chunks: the write asks shard 0 to split.
    const more = await ingestDocuments(tenant, collection, { from: 40, n: 8 }, 24);
    const all = [...ids, ...more];
    const view = await settledView(ns, 2);
    expect(view).toEqual({ index: 0, count: 2, splitTo: null });
    const shards = await contents(ns, 2);
    expect(shards.map((s) => s.view)).toEqual([
      { index: 0, count: 2, splitTo: null },
      { index: 1, count: 2, splitTo: null },
    ]);
    // Each document in exactly its home shard, with its vector beside it.
    for (const [index, shard] of shards.entries()) {
      expect(shard.documents.length).toBeGreaterThan(0);
      expect(shard.documents.every((id) => homeOf(id, 2) === index)).toBe(true);
      expect(shard.vectors).toBe(shard.chunks.length);
    }
    expect(shards.flatMap((s) => s.documents).sort()).toEqual([...all].sort());

    // The same answers: vector scores do not depend on the layout; keyword finds each word's document.
    const after = await Promise.all(probes.map((i) => search(tenant, collection, word(i), "vector", 10)));
    expect(after.map((r) => r.results)).toEqual(before.map((r) => r.results));
    for (const i of probes) {
      expect((await search(tenant, collection, word(i), "keyword")).results[0]?.document_id).toBe(ids[i]);
      expect((await search(tenant, collection, word(i), "hybrid")).results[0]?.document_id).toBe(ids[i]);
    }
    const adapter = new DurableObjectChunkShards(
      new ShardRouter(env.VECTOR_SHARD, { splitAtChunks: 1_000, maxShards: 4 }),
    );
    expect(await adapter.stats(ns)).toEqual({ chunks: 48, documents: 48 });
    // Documents' metadata moved with them: filters see every document, in whichever shard.
    expect(await adapter.unindexed(ns, 100)).toEqual([]);
    const filtered = async (metadata: unknown) =>
      json<Results>(
        await call("POST", "/v1/search", {
          token: tenant.adminKey,
          body: {
            query: "shelving policy",
            collection_ids: [collection],
            strategy: "keyword",
            top_k: 50,
            filter: { metadata },
          },
        }),
      );
    expect((await filtered({ parity: "even" })).results.map((r) => r.document_id).sort()).toEqual(
      [...ids, ...more].filter((_, i) => i % 2 === 0).sort(),
    );
    expect((await filtered({ room: 41 })).results.map((r) => r.document_id)).toEqual([more[1]]);

    // A document that moved: its chunks are found (as exports read them) in shard 1, and it is
    // deleted from there.
    const movedIndex = ids.findIndex((id) => homeOf(id, 2) === 1);
    const moved = ids[movedIndex] as string;
    const [movedChunk] = await adapter.ofDocument(ns, moved);
    expect(movedChunk?.text).toContain(word(movedIndex));
    expect((await call("DELETE", `/v1/documents/${moved}`, { token: tenant.adminKey })).status).toBe(204);
    expect((await stub(ns, 1).documentChunks(moved)).value).toEqual([]);
    expect((await search(tenant, collection, word(movedIndex), "keyword")).results).toEqual([]);
    expect((await contents(ns, 2)).reduce((n, s) => n + s.vectors, 0)).toBe(47);

    // Re-ingestion after the split writes each document to its home: still once each.
    const rebuild = await callQueued("POST", `/v1/collections/${collection}/rebuild`, { token: tenant.adminKey });
    expect(await json(rebuild)).toEqual({ queued: 47 });
    await settleQueues();
    expect(await documentsIn(collection, "ready")).toBe(47);
    const rebuilt = await contents(ns, 2);
    expect(rebuilt.flatMap((s) => s.documents).sort()).toEqual(all.filter((id) => id !== moved).sort());
    expect(rebuilt.every((s, index) => s.documents.every((id) => homeOf(id, 2) === index))).toBe(true);
  });

  it("a shard refuses writes of documents that left it, and a split never overwrites a newer write", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    const ns = namespaceOf(tenant.id, collection);
    const ids = await ingestDocuments(tenant, collection, { from: 0, n: 30 }, 20, 2);
    await settledView(ns, 2);
    const elsewhere = ids.find((id) => homeOf(id, 2) === 1) as string;
    const chunk = (await stub(ns, 1).documentChunks(elsewhere)).value[0];
    expect(chunk).toBeDefined();
    const refusal = await stub(ns, 0).writeChunks([elsewhere], chunk ? [chunk] : []);
    expect(refusal).toMatchObject({ refused: "moved", view: { index: 0, count: 2, splitTo: null } });
    // A document the new shard already holds (written since the split began) is not imported again.
    const newer = { ...(chunk as NonNullable<typeof chunk>), text: "the newer text" };
    await stub(ns, 1).writeChunks([elsewhere], [newer]);
    expect(await stub(ns, 1).importDocuments([elsewhere], chunk ? [chunk] : [], [])).toEqual([]);
    expect((await stub(ns, 1).documentChunks(elsewhere)).value[0]?.text).toBe("the newer text");
    // At the most shards allowed (2), another write past the threshold splits nothing.
    await ingestDocuments(tenant, collection, { from: 30, n: 4 }, 20, 2);
    expect(await stub(ns, 0).view()).toEqual({ index: 0, count: 2, splitTo: null });
  });

  it("a split racing deletes and writes loses no document and brings no deleted one back", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    const ns = namespaceOf(tenant.id, collection);
    const ids = await ingestDocuments(tenant, collection, { from: 0, n: 60 }, 1_000);
    // Start a split from 1 to 2 shards, and while it moves documents in steps of 8 chunks, delete
    // a dozen documents and ingest ten more.
    expect(await stub(ns, 0).requestSplit(ns, 1, 4)).toEqual({ index: 0, count: 1, splitTo: 2 });
    const doomed = ids.filter((_, i) => i % 5 === 0);
    const [, added] = await Promise.all([
      Promise.all(
        doomed.map(async (id) => {
          expect((await call("DELETE", `/v1/documents/${id}`, { token: tenant.adminKey })).status).toBe(204);
        }),
      ),
      ingestDocuments(tenant, collection, { from: 60, n: 10 }, 1_000),
    ]);
    await settledView(ns, 2);
    const shards = await contents(ns, 2);
    const expected = [...ids.filter((id) => !doomed.includes(id)), ...added].sort();
    expect(shards.flatMap((s) => s.documents).sort()).toEqual(expected);
    for (const [index, shard] of shards.entries()) {
      expect(shard.documents.every((id) => homeOf(id, 2) === index)).toBe(true);
      expect(shard.vectors).toBe(shard.chunks.length);
    }
    for (const i of [0, 5, 10]) {
      expect((await search(tenant, collection, word(i), "keyword")).results).toEqual([]);
    }
    expect((await search(tenant, collection, word(1), "keyword")).results[0]?.document_id).toBe(ids[1]);
  });

  it("a document deleted between a split step's copy and its check is not brought back", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    const ns = namespaceOf(tenant.id, collection);
    const ids = await ingestDocuments(tenant, collection, { from: 0, n: 20 }, 1_000);
    let deleted: string | undefined;
    // The worst moment for a delete: after shard 0 exported a step's documents, before the copy.
    await runInDurableObject(stub(ns, 0), (shard: VectorShard) => {
      const exportMoving = shard.exportMoving.bind(shard);
      shard.exportMoving = ((maxChunks: number) => {
        const batch = exportMoving(maxChunks);
        const victim = batch.documentIds[0];
        if (deleted || !victim) {
          return batch;
        }
        deleted = victim;
        return call("DELETE", `/v1/documents/${victim}`, { token: tenant.adminKey }).then((res) => {
          expect(res.status).toBe(204);
          return batch;
        });
      }) as typeof shard.exportMoving;
    });
    await stub(ns, 0).requestSplit(ns, 1, 2);
    await settledView(ns, 2);
    expect(deleted).toBeDefined();
    const shards = await contents(ns, 2);
    expect(shards.flatMap((s) => s.documents).sort()).toEqual(ids.filter((id) => id !== deleted).sort());
    expect(shards.reduce((n, s) => n + s.vectors, 0)).toBe(19);
  });
});

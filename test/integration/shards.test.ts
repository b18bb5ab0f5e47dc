/**
 * Each collection is a search shard (the `VectorShard` Durable Object: its chunks, FTS5 index and
 * vectors). The one-off migration moves the chunks earlier versions kept in D1 into their shards,
 * idempotently; a lost shard is rebuilt from the originals in R2.
 */
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { namespaceOf } from "../../src/adapters/vector/interface";
import { createServices } from "../../src/container";
import type { VectorShard } from "../../src/durable-objects/vector-shard";
import { testDb } from "../support/db";
import {
  call,
  callQueued,
  callWith,
  documentsIn,
  expectProblem,
  ingestText,
  json,
  newCollection,
  newKey,
  newTenant,
} from "../support/http";
import { settleQueues } from "../support/queues";

const shardOf = (tenantId: string, collection: string) =>
  env.VECTOR_SHARD.get(env.VECTOR_SHARD.idFromName(namespaceOf(tenantId, collection)));

type Results = { results: Array<{ chunk_id: string; document_id: string; text: string }> };
const search = (token: string, collection: string, query: string, strategy = "keyword") =>
  call("POST", "/v1/search", { token, body: { query, collection_ids: [collection], strategy } }).then((r) =>
    json<Results>(r),
  );

describe("search shards", () => {
  it("keep FTS5 and its vocabulary in the Durable Object's own SQLite", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    await ingestText(tenant, collection, "Leave", "Employees receive twenty five days of paid vacation.");
    await runInDurableObject(shardOf(tenant.id, collection), async (_shard: VectorShard, state) => {
      const tables = state.storage.sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE name LIKE 'chunks%' ORDER BY name")
        .toArray()
        .map((r) => r.name);
      expect(tables).toEqual(expect.arrayContaining(["chunks", "chunks_fts", "chunks_fts_vocab"]));
      const vocab = state.storage.sql
        .exec<{ doc: number }>("SELECT doc FROM chunks_fts_vocab WHERE term = 'vacat'")
        .one();
      expect(vocab.doc).toBe(1);
    });
  });

  it("the migration moves D1's chunks into their shards once, and a second run changes nothing", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    const now = Date.now();
    const doc = `doc_legacy${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`;
    await testDb().batch([
      testDb()
        .prepare(
          "INSERT INTO documents (id, tenant_id, collection_id, title, mime_type, size_bytes, sha256, status, priority, chunk_count, created_at, updated_at) VALUES (?, ?, ?, 'Old handbook', 'text/plain', 10, ?, 'ready', 'normal', 2, ?, ?)",
        )
        .bind(doc, tenant.id, collection, `sha-${doc}`, now, now),
      ...["Parking permits are renewed every January.", "Bicycles are parked in the courtyard."].map((text, i) =>
        testDb()
          .prepare(
            "INSERT INTO chunks (id, tenant_id, collection_id, document_id, ordinal, title, heading, text, token_estimate, char_start, char_end) VALUES (?, ?, ?, ?, ?, 'Old handbook', NULL, ?, 8, 0, 40)",
          )
          .bind(`${doc}_${i}`, tenant.id, collection, doc, i, text),
      ),
    ]);
    // Before: in D1 only, so the shard's search cannot see it.
    expect((await search(tenant.adminKey, collection, "parking permits")).results).toEqual([]);
    const ctx = createExecutionContext();
    const services = createServices(env, ctx);
    const first = await services.ingest.migrateToShards();
    expect(first.done).toBe(true);
    expect(first.documents).toBeGreaterThanOrEqual(1);
    await waitOnExecutionContext(ctx);
    const left = await testDb()
      .prepare("SELECT COUNT(*) AS n FROM chunks WHERE document_id = ?")
      .bind(doc)
      .first<{ n: number }>();
    expect(left?.n).toBe(0);
    const moved = (await shardOf(tenant.id, collection).documentChunks(doc)).value;
    expect(moved.map((c) => [c.id, c.text])).toEqual([
      [`${doc}_0`, "Parking permits are renewed every January."],
      [`${doc}_1`, "Bicycles are parked in the courtyard."],
    ]);
    const found = await search(tenant.adminKey, collection, "parking permits");
    expect(found.results[0]?.chunk_id).toBe(`${doc}_0`);
    // Run again: nothing left to move, the shard unchanged.
    expect(await services.ingest.migrateToShards()).toEqual({ documents: 0, chunks: 0, done: true });
    expect((await shardOf(tenant.id, collection).documentChunks(doc)).value).toEqual(moved);
  });

  it("a lost shard is rebuilt from the originals in R2, to the same chunks", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    const doc = await ingestText(
      tenant,
      collection,
      "Leave policy",
      "Employees receive twenty five days of paid vacation.",
    );
    const before = await search(tenant.adminKey, collection, "paid vacation", "hybrid");
    expect(before.results.map((r) => r.document_id)).toContain(doc);
    // The shard's storage is lost: chunks, index and vectors.
    const shard = shardOf(tenant.id, collection);
    await shard.dropChunks();
    await shard.drop();
    expect((await search(tenant.adminKey, collection, "paid vacation", "hybrid")).results).toEqual([]);

    const res = await call("POST", `/v1/collections/${collection}/rebuild`, { token: tenant.adminKey });
    expect(res.status).toBe(202);
    expect(await json(res)).toEqual({ queued: 1 });
    await expect
      .poll(
        async () =>
          (await json<{ status: string }>(await call("GET", `/v1/documents/${doc}`, { token: tenant.adminKey })))
            .status,
        {
          timeout: 15_000,
        },
      )
      .toBe("ready");
    const after = await search(tenant.adminKey, collection, "paid vacation", "hybrid");
    expect(after.results.map((r) => r.chunk_id)).toEqual(before.results.map((r) => r.chunk_id));
    // Another tenant cannot rebuild it: 404, as for any collection it cannot see.
    const stranger = await newTenant();
    expect((await call("POST", `/v1/collections/${collection}/rebuild`, { token: stranger.adminKey })).status).toBe(
      404,
    );
  });

  it("refuses a second rebuild while the first runs (409), and charges one rate unit per document it queues", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    for (const n of [1, 2, 3]) {
      await ingestText(tenant, collection, `Doc ${n}`, `Policy number ${n} says something.`);
    }
    const first = await callQueued("POST", `/v1/collections/${collection}/rebuild`, { token: tenant.adminKey });
    expect(await json(first)).toEqual({ queued: 3 });
    // Ten more calls while it runs queue nothing more.
    for (let i = 0; i < 10; i++) {
      await expectProblem(
        await call("POST", `/v1/collections/${collection}/rebuild`, { token: tenant.adminKey }),
        409,
        "conflict",
      );
    }
    expect(await documentsIn(collection, "queued", "processing")).toBe(3);
    await settleQueues();
    expect(await documentsIn(collection, "ready")).toBe(3);

    // A key whose bucket holds 3 units a minute: the route's 1 plus 3 documents is more than it has.
    const tiers = {
      RATE_LIMIT_TIERS: JSON.stringify({
        anonymous: { limit: 100, window_s: 60 },
        standard: { limit: 100, window_s: 60 },
        free: { limit: 3, window_s: 60 },
      }),
    };
    const tiny = await newKey(tenant, { scopes: ["ingest"], rate_tier: "free" });
    const refused = await callWith(tiers, "POST", `/v1/collections/${collection}/rebuild`, { token: tiny.key });
    await expectProblem(refused, 429, "rate_limited");
    expect(await documentsIn(collection, "ready")).toBe(3);
  });
});

/**
 * Upsert by external id: a new version is ingested while the old one keeps answering, then
 * replaces it in its shard in one write; old rows, chunks, vectors and originals go; concurrent
 * PUTs end with the last writer's content and no orphans.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { namespaceOf } from "../../src/adapters/vector/interface";
import { documentHash } from "../../src/durable-objects/shard-layout";
import type { IngestMessage } from "../../src/schemas/queue";
import { siblingId } from "../../src/services/documents";
import { testDb } from "../support/db";
import { call, callQueued, expectProblem, json, newCollection, newTenant, type TestTenant } from "../support/http";
import { settleQueues } from "../support/queues";
import { servicesFor } from "../support/services";

type Doc = { id: string; version: number; replaces: string | null; external_id: string | null; status: string };
type Results = { results: Array<{ document_id: string; text: string }> };

const put = (tenant: TestTenant, collection: string, externalId: string, text: string, extra = {}) =>
  callQueued("PUT", `/v1/collections/${collection}/documents/external/${encodeURIComponent(externalId)}`, {
    token: tenant.adminKey,
    body: { title: "Leave policy", text, priority: "high", ...extra },
  });
const search = (tenant: TestTenant, collection: string, query: string, strategy = "keyword") =>
  call("POST", "/v1/search", { token: tenant.adminKey, body: { query, collection_ids: [collection], strategy } }).then(
    (r) => json<Results>(r),
  );
const shardOf = (tenantId: string, collection: string) =>
  env.VECTOR_SHARD.get(env.VECTOR_SHARD.idFromName(namespaceOf(tenantId, collection)));
const rowsOf = async (collection: string, externalId: string) =>
  (
    await testDb()
      .prepare(
        "SELECT id, version, replaces FROM documents WHERE collection_id = ? AND external_id = ? ORDER BY version",
      )
      .bind(collection, externalId)
      .all<{ id: string; version: number; replaces: string | null }>()
  ).results;
const blobsOf = async (tenantId: string) =>
  (await env.BLOBS.list({ prefix: `t/${tenantId}/d/` })).objects.map((o) => o.key);

describe("PUT /v1/collections/{id}/documents/external/{external_id}", () => {
  it("creates, leaves unchanged, and replaces a document with the old version answering until the swap", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    const first = await put(
      tenant,
      collection,
      "handbook/leave.md",
      "Employees receive twenty five days of paid vacation.",
      {
        metadata: { team: "hr" },
      },
    );
    expect(first.status).toBe(201);
    const v1 = await json<Doc>(first);
    expect(v1).toMatchObject({ version: 1, replaces: null, external_id: "handbook/leave.md", status: "queued" });
    await settleQueues();

    const same = await put(
      tenant,
      collection,
      "handbook/leave.md",
      "Employees receive twenty five days of paid vacation.",
      {
        metadata: { team: "hr" },
      },
    );
    expect(same.status).toBe(200);
    expect((await json<Doc>(same)).id).toBe(v1.id);

    const changed = await put(
      tenant,
      collection,
      "handbook/leave.md",
      "Employees receive thirty days of paid vacation.",
      {
        metadata: { team: "hr" },
      },
    );
    expect(changed.status).toBe(202);
    const v2 = await json<Doc>(changed);
    expect(v2).toMatchObject({ version: 2, replaces: v1.id, status: "queued" });
    // Every version lives in the same shard under any layout.
    expect(documentHash(v2.id) % 1_024).toBe(documentHash(v1.id) % 1_024);
    // Until v2 is processed, v1 answers — search, the external id, the listing.
    expect((await search(tenant, collection, "paid vacation")).results.map((r) => r.document_id)).toEqual([v1.id]);
    expect(
      (
        await json<Doc>(
          await call("GET", `/v1/collections/${collection}/documents/external/handbook%2Fleave.md`, {
            token: tenant.adminKey,
          }),
        )
      ).id,
    ).toBe(v1.id);
    const listed = await json<{ items: Doc[] }>(
      await call("GET", `/v1/collections/${collection}/documents`, { token: tenant.adminKey }),
    );
    expect(listed.items.map((d) => d.id)).toEqual([v1.id]);
    const version = (
      await testDb()
        .prepare("SELECT version FROM collections WHERE id = ?")
        .bind(collection)
        .first<{ version: number }>()
    )?.version;

    await settleQueues();
    for (const strategy of ["keyword", "vector", "hybrid"]) {
      const found = await search(tenant, collection, "paid vacation", strategy);
      expect(
        found.results.map((r) => r.document_id),
        strategy,
      ).toEqual([v2.id]);
      expect(found.results[0]?.text).toMatch(/thirty days/);
    }
    const current = await json<Doc>(
      await call("GET", `/v1/collections/${collection}/documents/external/handbook%2Fleave.md`, {
        token: tenant.adminKey,
      }),
    );
    expect(current).toMatchObject({ id: v2.id, version: 2, replaces: null, status: "ready" });
    await expectProblem(await call("GET", `/v1/documents/${v1.id}`, { token: tenant.adminKey }), 404, "not_found");
    expect(await rowsOf(collection, "handbook/leave.md")).toEqual([{ id: v2.id, version: 2, replaces: null }]);
    expect(await blobsOf(tenant.id)).toEqual([`t/${tenant.id}/d/${v2.id}`]);
    const shard = shardOf(tenant.id, collection);
    expect((await shard.chunkIds()).value.every((id) => id.startsWith(v2.id))).toBe(true);
    expect((await shard.vectorStats()).value.vectors).toBe((await shard.chunkIds()).value.length);
    const after = (
      await testDb()
        .prepare("SELECT version FROM collections WHERE id = ?")
        .bind(collection)
        .first<{ version: number }>()
    )?.version;
    expect(after).toBeGreaterThan(version ?? 0);
    const events = await json<{ items: Array<{ type: string; data: Record<string, unknown> }> }>(
      await call("GET", "/v1/notifications?limit=100", { token: tenant.adminKey }),
    );
    expect(events.items.find((e) => e.type === "document.updated")?.data).toMatchObject({
      document_id: v2.id,
      external_id: "handbook/leave.md",
      version: 2,
      replaced_document_id: v1.id,
    });

    // A metadata-only change is a new version too (the bytes are the same).
    const retagged = await put(
      tenant,
      collection,
      "handbook/leave.md",
      "Employees receive thirty days of paid vacation.",
      {
        metadata: { team: "people" },
      },
    );
    expect(retagged.status).toBe(202);
    await settleQueues();
    const filtered = await call("POST", "/v1/search", {
      token: tenant.adminKey,
      body: { query: "vacation", collection_ids: [collection], filter: { metadata: { team: "people" } } },
    });
    expect((await json<Results>(filtered)).results).toHaveLength(1);

    // DELETE removes every version.
    expect(
      (
        await call("DELETE", `/v1/collections/${collection}/documents/external/handbook%2Fleave.md`, {
          token: tenant.adminKey,
        })
      ).status,
    ).toBe(204);
    expect(await rowsOf(collection, "handbook/leave.md")).toEqual([]);
    expect((await search(tenant, collection, "paid vacation")).results).toEqual([]);
    expect(await blobsOf(tenant.id)).toEqual([]);
    await expectProblem(
      await call("GET", `/v1/collections/${collection}/documents/external/handbook%2Fleave.md`, {
        token: tenant.adminKey,
      }),
      404,
      "not_found",
    );
  });

  it("ends concurrent PUTs with the last writer's content and no orphans, whatever order they are processed in", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    await put(tenant, collection, "faq", "The office opens at eight.");
    await settleQueues();
    // Three new versions at once, then processed newest first: the older two find a later
    // version in the shard and drop themselves.
    const texts = ["The office opens at nine.", "The office opens at ten.", "The office opens at eleven."];
    const versions = await Promise.all(
      texts.map((text) => put(tenant, collection, "faq", text).then((r) => json<Doc>(r))),
    );
    expect(versions.map((v) => v.version).sort()).toEqual([2, 3, 4]);
    // The last writer is the one the store numbered last (D1 numbers them in arrival order;
    // PostgreSQL, running them side by side, in whichever order they commit).
    const last = versions.find((v) => v.version === 4) as Doc;
    const lastText = texts[versions.indexOf(last)];
    const services = servicesFor({ LOG_LEVEL: "error" });
    for (const doc of [...versions].sort((a, b) => b.version - a.version)) {
      const batch = createMessageBatch<IngestMessage>("edgerag-ingest-high", [
        {
          id: `m${doc.version}`,
          timestamp: new Date(),
          attempts: 1,
          body: { document_id: doc.id, tenant_id: tenant.id },
        },
      ]);
      await services.ingest.handleBatch(batch, false);
      expect((await getQueueResult(batch, createExecutionContext())).retryMessages).toEqual([]);
    }
    await settleQueues(); // the queued copies of those messages: nothing left to do
    expect(await rowsOf(collection, "faq")).toEqual([{ id: last.id, version: 4, replaces: null }]);
    const found = await search(tenant, collection, "office opens");
    expect(found.results.map((r) => r.text)).toEqual([lastText]);
    expect(await blobsOf(tenant.id)).toEqual([`t/${tenant.id}/d/${last.id}`]);
    const shard = shardOf(tenant.id, collection);
    expect((await shard.chunkIds()).value.every((id) => id.startsWith(last.id))).toBe(true);
    expect((await shard.vectorStats()).value.vectors).toBe((await shard.chunkIds()).value.length);
  });

  it("refuses bad ids and content another document holds, and keeps a filtered key to its filter", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    await expectProblem(
      await call("PUT", `/v1/collections/${collection}/documents/external/${"x".repeat(201)}`, {
        token: tenant.adminKey,
        body: { title: "t", text: "hello" },
      }),
      422,
      "validation_failed",
    );
    await expectProblem(
      await call("PUT", `/v1/collections/${collection}/documents/external/bad%20id`, {
        token: tenant.adminKey,
        body: { title: "t", text: "hello" },
      }),
      422,
      "validation_failed",
    );
    await callQueued("POST", `/v1/collections/${collection}/documents`, {
      token: tenant.adminKey,
      body: { title: "Plain", text: "Shared words in a plain upload." },
    });
    await expectProblem(await put(tenant, collection, "copy", "Shared words in a plain upload."), 409, "conflict");
    const hrKey = await call("POST", "/v1/api-keys", {
      token: tenant.adminKey,
      body: { name: "hr", scopes: ["ingest", "query"], filter: { team: "hr" } },
    }).then((r) => json<{ key: string }>(r));
    await expectProblem(
      await call("PUT", `/v1/collections/${collection}/documents/external/x`, {
        token: hrKey.key,
        body: { title: "t", text: "hello", metadata: { team: "it" } },
      }),
      403,
      "forbidden",
    );
    await settleQueues();
  });

  it("tries a version that failed again when the same content is PUT again, and keeps the current one meanwhile", async () => {
    const tenant = await newTenant();
    const collection = await newCollection(tenant);
    await put(tenant, collection, "page", "The canteen opens at noon.");
    await settleQueues();
    // HTML with no text: accepted at upload, failed by processing.
    const empty = "<html><body><script>var x = 1;</script></body></html>";
    const failed = await json<Doc>(await put(tenant, collection, "page", empty));
    await settleQueues();
    expect((await json<Doc>(await call("GET", `/v1/documents/${failed.id}`, { token: tenant.adminKey }))).status).toBe(
      "failed",
    );
    expect((await search(tenant, collection, "canteen noon")).results).toHaveLength(1);
    const again = await put(tenant, collection, "page", empty);
    expect(again.status).toBe(202);
    expect((await json<Doc>(again)).version).toBe(3);
    await settleQueues();
  });

  it("gives sibling ids the same home under every shard count up to 1,024", () => {
    for (let i = 0; i < 20; i++) {
      const id = `doc_${crypto.randomUUID().replace(/-/g, "").slice(0, 16)}`;
      const sibling = siblingId(id);
      expect(sibling).toMatch(/^doc_[A-Za-z0-9]{16}$/);
      for (const count of [1, 2, 4, 64, 1_024]) {
        expect(documentHash(sibling) % count).toBe(documentHash(id) % count);
      }
    }
  });
});

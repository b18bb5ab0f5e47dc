import { createExecutionContext, getQueueResult } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { MemoryCache } from "../../src/adapters/cache/memory";
import { insertRows } from "../../src/adapters/db/client";
import { collections, documents } from "../../src/adapters/db/schema";
import { MemoryResolver } from "../../src/adapters/dns/memory";
import { MemoryHubs } from "../../src/adapters/notify/memory";
import { MemoryVectorIndex } from "../../src/adapters/vector/memory";
import type { Services } from "../../src/container";
import { AppError } from "../../src/errors";
import { QueryBody } from "../../src/schemas/query";
import { SearchBody } from "../../src/schemas/search";
import type { Upload } from "../../src/services/documents";
import { ownedRow } from "../../src/services/owned";
import type { KeyPrincipal } from "../../src/services/principal";
import { memoryQueues } from "../support/memory-queue";
import { collectingInvocation, memoryAdapters, servicesFor } from "../support/services";

/**
 * The unit layer: the capabilities exactly as `createServices` binds them, called directly (no
 * HTTP, no middleware), over in-memory adapters for vectors, cache, limiter and queues. Only D1
 * and R2 are the local bindings: the services' SQL is what is under test.
 */
function unitServices() {
  const { queue, queues } = memoryQueues();
  const vectors = new MemoryVectorIndex();
  const cache = new MemoryCache();
  const hubs = new MemoryHubs();
  const resolver = new MemoryResolver({ "hooks.example.com": ["93.184.216.34"], "sneaky.example.com": ["10.1.2.3"] });
  const invocation = collectingInvocation();
  const services = servicesFor({ LOG_LEVEL: "error", WEBHOOK_ALLOW_LOOPBACK: "false" }, invocation, {
    ...memoryAdapters(),
    vectors,
    cache,
    queues,
    hubs,
    resolver,
  });
  return { services, queue, vectors, invocation, hubs };
}

async function tenantOf(services: Services, name = "unit"): Promise<KeyPrincipal> {
  const created = await services.tenants.create({ name });
  const credentials = await services.auth.authenticate(`Bearer ${created.api_key.key}`, false);
  if (credentials.kind !== "ok" || credentials.principal.kind !== "key") {
    throw new Error("the new tenant's key did not authenticate");
  }
  return credentials.principal;
}

const text = (title: string, body: string): Upload => ({
  bytes: new TextEncoder().encode(body),
  title,
  metadata: null,
  priority: "high",
  textOnly: true,
});

const rejection = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return (error as AppError).code;
};

describe("services over in-memory adapters", () => {
  it("takes a document from upload through the consumer to search and a cited, cached answer", async () => {
    const { services, queue, vectors } = unitServices();
    const owner = await tenantOf(services);
    const collection = await services.collections.create(owner, { name: "handbook" });
    const { document } = await services.documents.upload(
      owner,
      collection.id,
      text("Leave", "Employees receive twenty five days of paid vacation every year."),
    );
    expect(document.status).toBe("queued");
    expect(queue.sent).toEqual([{ document_id: document.id, tenant_id: owner.tenantId }]);

    const batch = queue.drain();
    await services.ingest.handleBatch(batch, false);
    const outcome = await getQueueResult(batch, createExecutionContext());
    expect(outcome.explicitAcks).toEqual(["m0"]);
    expect(outcome.retryMessages).toEqual([]);
    const ready = await services.documents.get(owner, document.id);
    expect(ready.status).toBe("ready");
    expect(ready.chunk_count).toBeGreaterThan(0);
    expect((await vectors.stats(`${owner.tenantId}/${collection.id}`)).vectors).toBe(ready.chunk_count);

    const found = await services.search.run(
      owner,
      SearchBody.parse({ query: "paid vacation days", collection_ids: [collection.id] }),
    );
    expect(found.results[0]?.document_id).toBe(document.id);

    const input = QueryBody.parse({ query: "How many vacation days?", collection_ids: [collection.id], mode: "fast" });
    const ask = async () =>
      services.query.answer(owner, input, await services.query.prepare(owner, input), { startedAt: performance.now() });
    const first = await ask();
    expect(first.cache).toBe("miss");
    expect(first.answer).toMatch(/twenty five days.*\[1\]/);
    expect(first.citations[0]?.document_id).toBe(document.id);
    expect((await ask()).cache).toBe("hit");
  });

  it("scopes every capability by the caller's tenant and key", async () => {
    const { services } = unitServices();
    const owner = await tenantOf(services, "owner");
    const stranger = await tenantOf(services, "stranger");
    const collection = await services.collections.create(owner, { name: "private" });
    const { document } = await services.documents.upload(
      owner,
      collection.id,
      text("Secret", "The vault code is 1234."),
    );

    expect(await rejection(services.collections.get(stranger, collection.id))).toBe("not_found");
    expect(await rejection(services.documents.get(stranger, document.id))).toBe("not_found");
    expect(await rejection(services.documents.delete(stranger, document.id))).toBe("not_found");
    expect((await services.collections.list(stranger, { limit: 100 })).items).toEqual([]);
    const search = SearchBody.parse({ query: "vault code", collection_ids: [collection.id] });
    expect(await rejection(services.search.run(stranger, search))).toBe("not_found");

    // A key restricted to another collection of the same tenant: 403, and it cannot widen itself.
    const other = await services.collections.create(owner, { name: "other" });
    const restricted = await services.apiKeys.create(owner, {
      name: "reader",
      scopes: ["query"],
      collection_ids: [other.id],
    });
    const credentials = await services.auth.authenticate(`Bearer ${restricted.key}`, false);
    if (credentials.kind !== "ok" || credentials.principal.kind !== "key") {
      throw new Error("restricted key did not authenticate");
    }
    const reader = credentials.principal;
    expect(await rejection(services.documents.get(reader, document.id))).toBe("forbidden");
    expect(await rejection(services.apiKeys.create(reader, { name: "wider", scopes: ["admin"] }))).toBe("forbidden");
    expect(await rejection(services.secrets.put(reader, { name: "openai", value: "sk-x" }))).toBe("forbidden");
  });

  it("rotates a key: the old secret stops working after its grace period", async () => {
    const { services } = unitServices();
    const owner = await tenantOf(services);
    const key = await services.apiKeys.create(owner, { name: "ci", scopes: ["query"] });
    const rotated = await services.apiKeys.rotate(owner, { id: key.id, graceSeconds: 0 });
    expect(rotated.key).not.toBe(key.key);
    expect((await services.auth.authenticate(`Bearer ${rotated.key}`, false)).kind).toBe("ok");
    expect((await services.auth.authenticate(`Bearer ${key.key}`, false)).kind).toBe("invalid");
    await services.apiKeys.revoke(owner, key.id);
    expect((await services.auth.authenticate(`Bearer ${rotated.key}`, false)).kind).toBe("invalid");
    expect((await services.apiKeys.list(owner)).map((k) => k.id)).not.toContain(key.id);
  });

  it("stores secrets sealed: listed by name, never returned", async () => {
    const { services } = unitServices();
    const owner = await tenantOf(services);
    await services.secrets.put(owner, { name: "openai", value: "sk-unit-test-secret" });
    const listed = await services.secrets.list(owner);
    expect(listed.map((s) => s.name)).toEqual(["openai"]);
    expect(JSON.stringify(listed)).not.toContain("sk-unit-test-secret");
    await services.secrets.delete(owner, "openai");
    expect(await services.secrets.list(owner)).toEqual([]);
  });

  it("deletes a collection with its documents and vectors", async () => {
    const { services, queue, vectors } = unitServices();
    const owner = await tenantOf(services);
    const collection = await services.collections.create(owner, { name: "gone" });
    const { document } = await services.documents.upload(owner, collection.id, text("Doc", "Some words to index."));
    await services.ingest.handleBatch(queue.drain(), false);
    const namespace = `${owner.tenantId}/${collection.id}`;
    expect((await vectors.stats(namespace)).vectors).toBeGreaterThan(0);
    await services.collections.delete(owner, collection.id);
    expect((await vectors.stats(namespace)).vectors).toBe(0);
    expect(await rejection(services.documents.get(owner, document.id))).toBe("not_found");
  });

  it("reports the in-memory providers in health", async () => {
    const { services } = unitServices();
    expect(services.health.providers()).toMatchObject({
      vector_index: "memory",
      cache: "memory",
      rate_limiter: "memory",
    });
    const checks = await services.health.check();
    expect(checks.d1?.status).toBe("ok");
    expect(checks.rate_limiter?.status).toBe("ok");
    expect(checks.vector_index?.status).toBe("ok");
  });
});

describe("notifications and webhooks over in-memory hubs and DNS", () => {
  it("publishes what ingestion and key rotation do, in order, and pages it with read state", async () => {
    const { services, queue, hubs, invocation } = unitServices();
    const owner = await tenantOf(services);
    const collection = await services.collections.create(owner, { name: "events" });
    const { document } = await services.documents.upload(owner, collection.id, text("Doc", "Words to index."));
    await services.ingest.handleBatch(queue.drain(), false);
    const key = await services.apiKeys.create(owner, { name: "k", scopes: ["query"] });
    await services.apiKeys.rotate(owner, { id: key.id, graceSeconds: 0 });
    await Promise.all(invocation.work);
    const log = hubs.logs.get(owner.tenantId) ?? [];
    expect(log.map((e) => e.type)).toEqual(["document.processing", "document.ready", "api_key.rotated"]);
    expect(log[1]?.data).toMatchObject({ document_id: document.id, chunk_count: 1 });
    await services.notifications.markRead(owner, 2);
    const page = await services.notifications.list(owner, { after: 0, limit: 2 });
    expect(page.items.map((e) => [e.seq, e.read])).toEqual([
      [1, true],
      [2, true],
    ]);
    expect(page.next).toBe(2);
    await expect(services.notifications.connect(new Request("https://x"), owner, undefined)).rejects.toThrow(
      /no WebSockets/,
    );
  });

  it("registers a webhook only for a host whose DNS answers are public", async () => {
    const { services } = unitServices();
    const owner = await tenantOf(services);
    const hook = await services.webhooks.create(owner, { url: "https://hooks.example.com/x", events: ["*"] });
    expect(hook.secret).toMatch(/^whsec_/);
    expect(
      await rejection(services.webhooks.create(owner, { url: "https://sneaky.example.com/x", events: ["*"] })),
    ).toBe("validation_failed");
    expect(
      await rejection(services.webhooks.create(owner, { url: "https://unknown.example.com/x", events: ["*"] })),
    ).toBe("validation_failed");
    expect((await services.webhooks.list(owner)).items.map((h) => h.id)).toEqual([hook.id]);
  });
});

describe("MemoryCache", () => {
  it("returns what was put until its time to live ends, as JSON", async () => {
    const cache = new MemoryCache();
    await cache.put("k", { a: 1, when: new Date(0) }, 60);
    expect(await cache.get("k")).toEqual({ a: 1, when: "1970-01-01T00:00:00.000Z" });
    await cache.put("short", 1, 0);
    expect(await cache.get("short")).toBeUndefined();
    expect(await cache.get("missing")).toBeUndefined();
  });
});

describe("ownedRow", () => {
  it("finds a tenant's row by id, and another tenant's row is not found by the same SQL", async () => {
    const { services } = unitServices();
    const owner = await tenantOf(services, "owner");
    const stranger = await tenantOf(services, "stranger");
    const collection = await services.collections.create(owner, { name: "mine" });
    const row = await ownedRow(services.db, collections, collection.id, owner.tenantId, "collection");
    expect(row).toMatchObject({ id: collection.id, tenantId: owner.tenantId, name: "mine" });
    await expect(
      ownedRow(services.db, collections, collection.id, stranger.tenantId, "collection"),
    ).rejects.toMatchObject({ code: "not_found", message: "No such collection." });
  });
});

describe("insertRows", () => {
  it("inserts many rows in one statement, columns and JSON encoding from the drizzle table", async () => {
    const { services } = unitServices();
    const owner = await tenantOf(services, "bulk");
    const collection = await services.collections.create(owner, { name: "bulk" });
    const now = Date.now();
    // 150 rows × 12 columns: far past D1's 100 bound parameters, yet one parameter here.
    const rows = Array.from({ length: 150 }, (_, i) => ({
      id: `doc_bulk${String(i).padStart(12, "0")}`,
      tenantId: owner.tenantId,
      collectionId: collection.id,
      title: `T ${i} "quoted" 한국어`,
      mimeType: "text/plain",
      sizeBytes: i,
      sha256: `sha-${i}`,
      status: "queued" as const,
      priority: "low" as const,
      metadata: i % 2 ? { n: i, tags: ["a", "b"] } : null,
      createdAt: now,
      updatedAt: now,
    }));
    const first = await insertRows(services.db, documents, rows, { ignoreConflicts: true, returning: ["id"] }).run();
    expect(first.results).toHaveLength(150);
    const stored = await services.db
      .select()
      .from(documents)
      .where(eq(documents.id, rows[3]?.id ?? ""))
      .get();
    expect(stored).toMatchObject({ title: 'T 3 "quoted" 한국어', metadata: { n: 3, tags: ["a", "b"] }, chunkCount: 0 });
    // Again: every row conflicts, and none is returned.
    const again = await insertRows(services.db, documents, rows, { ignoreConflicts: true, returning: ["id"] }).run();
    expect(again.results).toHaveLength(0);
  });
});

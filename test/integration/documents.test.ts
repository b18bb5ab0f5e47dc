import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { strToU8, zipSync } from "fflate";
import { describe, expect, it, vi } from "vitest";
import type { createDb } from "../../src/adapters/db/client";
import { namespaceOf } from "../../src/adapters/vector/interface";
import type { Overrides } from "../../src/container";
import type { IngestMessage } from "../../src/schemas/queue";
import { retryDelaySeconds } from "../../src/services/ingest/consumer";
import {
  call,
  callWith,
  expectProblem,
  json,
  newCollection,
  newKey,
  newTenant,
  type TestTenant,
} from "../support/http";
import { makePdf } from "../support/pdf";
import { fetchQueued, settleQueues } from "../support/queues";

/** The collection's search shard (its chunks and keyword index), over RPC. */
const shardOf = (tenant: { id: string }, collection: string) =>
  env.VECTOR_SHARD.get(env.VECTOR_SHARD.idFromName(namespaceOf(tenant.id, collection)));

import { testDb } from "../support/db";
import { servicesFor } from "../support/services";

type Doc = {
  id: string;
  collection_id: string;
  title: string;
  mime_type: string;
  status: string;
  error: string | null;
  chunk_count: number;
  deduplicated?: boolean;
  sha256: string;
};

const HANDBOOK = `# Leave\n\nEmployees receive twenty five days of paid leave each year.\n\n# Pay\n\nSalaries are paid monthly by bank transfer.`;

/** Uploads go through the Worker with memory ingestion queues, which `settled` hands to the consumer. */
async function uploadJson(tenant: TestTenant, collection: string, body: Record<string, unknown>) {
  return fetchQueued(
    new Request(`http://edgerag.test/v1/collections/${collection}/documents`, {
      method: "POST",
      headers: { Authorization: `Bearer ${tenant.adminKey}`, "Content-Type": "application/json" },
      body: JSON.stringify({ priority: "high", ...body }),
    }),
  );
}

function uploadFile(
  tenant: TestTenant,
  collection: string,
  bytes: Uint8Array,
  name: string,
  fields: Record<string, string> = {},
) {
  const form = new FormData();
  form.set("file", new File([bytes], name));
  form.set("priority", "high");
  for (const [k, v] of Object.entries(fields)) {
    form.set(k, v);
  }
  return fetchQueued(
    new Request(`http://edgerag.test/v1/collections/${collection}/documents`, {
      method: "POST",
      headers: { Authorization: `Bearer ${tenant.adminKey}` },
      body: form,
    }),
  );
}

/** Runs the real consumer over what was queued (retries and dead letters included), then reads the document. */
async function settled(tenant: TestTenant, id: string): Promise<Doc> {
  await settleQueues();
  return json<Doc>(await call("GET", `/v1/documents/${id}`, { token: tenant.adminKey }));
}

const version = async (tenant: TestTenant, collection: string) =>
  (await json<{ version: number }>(await call("GET", `/v1/collections/${collection}`, { token: tenant.adminKey })))
    .version;

describe("document upload and processing", () => {
  it("queues JSON text, then chunks it by heading into D1 and the FTS index", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const res = await uploadJson(tenant, col, { title: "Handbook", text: HANDBOOK, metadata: { team: "hr" } });
    expect(res.status).toBe(202);
    const queued = await json<Doc>(res);
    expect(queued).toMatchObject({
      status: "queued",
      mime_type: "text/markdown",
      deduplicated: false,
      title: "Handbook",
    });
    const done = await settled(tenant, queued.id);
    expect(done).toMatchObject({ status: "ready", chunk_count: 2, error: null });
    const rows = (await shardOf(tenant, col).documentChunks(queued.id)).value;
    expect(rows.map((r) => r.heading)).toEqual(["Leave", "Pay"]);
    // In the collection's shard's keyword index, not D1's.
    const {
      hits: [hit],
    } = (
      await shardOf(tenant, col).keyword({
        terms: ["salary"],
        limit: 5,
        commonTermRatio: 1,
        pruneFromChunks: 0,
        weights: { title: 1, heading: 1, text: 1 },
      })
    ).value;
    expect(hit?.document_id).toBe(queued.id);
    const legacy = await testDb()
      .prepare("SELECT COUNT(*) AS n FROM chunks WHERE document_id = ?")
      .bind(queued.id)
      .first<{ n: number }>();
    expect(legacy?.n).toBe(0);
    expect(await version(tenant, col)).toBe(1);
  });

  it("reads PDF pages, DOCX paragraphs and HTML, deciding the type from the bytes", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const pdf = await json<Doc>(
      await uploadFile(tenant, col, makePdf(["Page one text", "Page two text"]), "report.bin"),
    );
    expect(pdf.mime_type).toBe("application/pdf");
    expect(pdf.title).toBe("report");
    const docx = zipSync({
      "[Content_Types].xml": strToU8(
        `<Types><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`,
      ),
      "word/document.xml": strToU8(
        `<w:document><w:body><w:p><w:r><w:t>Docx body text</w:t></w:r></w:p></w:body></w:document>`,
      ),
    });
    const word = await json<Doc>(await uploadFile(tenant, col, docx, "notes.pdf", { title: "Notes" }));
    expect(word.mime_type).toContain("wordprocessingml");
    const html = await json<Doc>(
      await uploadFile(
        tenant,
        col,
        strToU8("<html><body><h1>Intro</h1><p>Hello html</p><script>x()</script></body></html>"),
        "a.txt",
      ),
    );
    expect(html.mime_type).toBe("text/html");
    for (const doc of [pdf, word, html]) {
      expect((await settled(tenant, doc.id)).status).toBe("ready");
    }
    const pages = (await shardOf(tenant, col).documentChunks(pdf.id)).value;
    expect(pages.map((r) => r.page)).toEqual([1]);
    const [htmlText] = (await shardOf(tenant, col).documentChunks(html.id)).value;
    expect(htmlText?.text).toBe("Hello html");
  });

  it("fails an encrypted PDF with a clear error instead of retrying it", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const doc = await json<Doc>(await uploadFile(tenant, col, makePdf(["secret"], { encrypt: true }), "locked.pdf"));
    const done = await settled(tenant, doc.id);
    expect(done.status).toBe("failed");
    expect(done.error).toMatch(/encrypted/);
  });

  it("refuses content that is no supported document with 415", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    await expectProblem(await uploadFile(tenant, col, png, "image.pdf"), 415, "unsupported_media_type");
    const form = await call("POST", `/v1/collections/${col}/documents`, {
      token: tenant.adminKey,
      body: "x",
      headers: { "Content-Type": "text/plain" },
    });
    await expectProblem(form, 415, "unsupported_media_type");
  });

  it("refuses at once what ingestion could only fail: empty, control characters, too long", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const refused = async (res: Response, path: string, detail: string) => {
      const body = await expectProblem(res, 422, "validation_failed");
      expect(body.detail).toContain(detail);
      expect(body.detail).not.toContain("not valid UTF-8");
      expect(body.errors).toEqual([expect.objectContaining({ path })]);
    };
    await refused(await uploadFile(tenant, col, new Uint8Array(0), "empty.txt"), "file", "empty");
    await refused(await uploadJson(tenant, col, { title: "blank", text: " \n\t\n " }), "text", "no text");
    await refused(
      await uploadFile(tenant, col, new TextEncoder().encode(" \n\u3000\n"), "blank.txt"),
      "file",
      "no text",
    );
    await refused(await uploadJson(tenant, col, { title: "nul", text: "a\u0000b" }), "text", "NUL");
    // UTF-16 text: valid UTF-8 bytes, but every other one is NUL.
    const utf16 = new Uint8Array([...new TextEncoder().encode("hello world")].flatMap((b) => [b, 0]));
    await refused(await uploadFile(tenant, col, utf16, "utf16.txt"), "file", "UTF-16");
    // A control character past the first slice the scan decodes is found too.
    const lateNul = new TextEncoder().encode(`${"word ".repeat(30_000)}\u0001`);
    await refused(await uploadFile(tenant, col, lateNul, "late.txt"), "file", "NUL");
    // 5,000 chunks of 2,048 characters at most: one character more than that is refused from its
    // length alone, before any chunking.
    const tooLong = new TextEncoder().encode(`${"abcdefghi ".repeat(1_024_000)}x`);
    await refused(await uploadFile(tenant, col, tooLong, "long.txt"), "file", "at least 5001 chunks");
    const { results } = await testDb().prepare("SELECT id FROM documents WHERE collection_id = ?").bind(col).all();
    expect(results).toEqual([]);
  });

  it("fails in ingestion, with the reason, a document whose headings make too many chunks", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    // 5,001 short sections make 5,001 chunks (only chunking finds that): one over the cap.
    const sections = Array.from({ length: 5_001 }, (_, i) => `# Part ${i}\n\nText of part ${i}.`).join("\n\n");
    const over = await json<Doc>(await uploadJson(tenant, col, { title: "long", text: sections }));
    expect(await settled(tenant, over.id)).toMatchObject({
      status: "failed",
      error: expect.stringContaining("5001 chunks"),
    });
  });

  it("answers the same content twice with 200 and the existing document", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const first = await json<Doc>(await uploadJson(tenant, col, { title: "A", text: "Same text." }));
    const again = await uploadJson(tenant, col, { title: "B", text: "Same text." });
    expect(again.status).toBe(200);
    expect(await json<Doc>(again)).toMatchObject({ id: first.id, deduplicated: true, title: "A" });
    // Another collection is another place: no deduplication across collections.
    const other = await newCollection(tenant);
    expect((await uploadJson(tenant, other, { title: "A", text: "Same text." })).status).toBe(202);
  });

  it("stores a JSON document's text as the UTF-8 of the parsed string: escapes resolved, same as the file", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const text = '휴가는 "연차" \\ 😀\n\tline \u2028 \ud800 end';
    // Escapes JSON.stringify does not write, too: \/ and \u for plain characters.
    const body = JSON.stringify({ title: "Escapes", text })
      .replace("end", "\\u0065n\\u0064")
      .replace('"Escapes"', '"Esc\\/apes"');
    const res = await fetchQueued(
      new Request(`http://edgerag.test/v1/collections/${col}/documents`, {
        method: "POST",
        headers: { Authorization: `Bearer ${tenant.adminKey}`, "Content-Type": "application/json" },
        body,
      }),
    );
    expect(res.status).toBe(202);
    const doc = await json<Doc>(res);
    expect(doc.title).toBe("Esc/apes");
    const stored = new Uint8Array(
      await ((await env.BLOBS.get(`t/${tenant.id}/d/${doc.id}`))?.arrayBuffer() ?? new ArrayBuffer(0)),
    );
    expect(stored).toEqual(new TextEncoder().encode(text));
    // The same text as a file is the same content.
    const file = await uploadFile(tenant, col, new TextEncoder().encode(text), "same.txt");
    expect(file.status).toBe(200);
    expect(await json<Doc>(file)).toMatchObject({ id: doc.id, deduplicated: true });
    // What JSON.parse refuses inside the text is 400; a NUL escaped into it is the usual 422.
    const raw = (text: string) =>
      fetchQueued(
        new Request(`http://edgerag.test/v1/collections/${col}/documents`, {
          method: "POST",
          headers: { Authorization: `Bearer ${tenant.adminKey}`, "Content-Type": "application/json" },
          body: `{"title":"x","text":"${text}"}`,
        }),
      );
    await expectProblem(await raw("a\u0001b"), 400, "bad_request");
    await expectProblem(await raw("a\\qb"), 400, "bad_request");
    await expectProblem(await raw("a\\u0000b"), 422, "validation_failed");
    await expectProblem(await raw(""), 422, "validation_failed");
  });

  it("enforces MAX_UPLOAD_BYTES with 413 and validates fields with 422", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const big = await callWith({ MAX_UPLOAD_BYTES: "2048" }, "POST", `/v1/collections/${col}/documents`, {
      token: tenant.adminKey,
      body: { title: "big", text: "x".repeat(5_000) },
    });
    await expectProblem(big, 413, "payload_too_large");
    await expectProblem(await uploadJson(tenant, col, { title: "", text: "t" }), 422, "validation_failed");
    await expectProblem(
      await uploadJson(tenant, col, { title: "t", text: "t", priority: "urgent" }),
      422,
      "validation_failed",
    );
    const badMeta = await uploadFile(tenant, col, strToU8("hello"), "a.txt", { metadata: "[1,2]" });
    await expectProblem(badMeta, 422, "validation_failed");
  });

  it("caps JSON uploads at MAX_JSON_UPLOAD_BYTES and points larger documents to multipart", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const text = "Words of a longer document. ".repeat(200); // ~5.6 KB
    const capped = { MAX_JSON_UPLOAD_BYTES: "4096" };
    const res = await callWith(capped, "POST", `/v1/collections/${col}/documents`, {
      token: tenant.adminKey,
      body: { title: "json", text },
    });
    const body = await expectProblem(res, 413, "payload_too_large");
    expect(body.detail).toContain("multipart/form-data");
    const form = new FormData();
    form.set("file", new File([text], "doc.txt"));
    const file = await callWith(capped, "POST", `/v1/collections/${col}/documents`, {
      token: tenant.adminKey,
      body: form,
    });
    expect(file.status).toBe(202);
  });

  it("keeps tenants apart: 404 for another tenant's collection and documents", async () => {
    const a = await newTenant("A");
    const b = await newTenant("B");
    const bCol = await newCollection(b);
    const bDoc = await json<Doc>(await uploadJson(b, bCol, { title: "B", text: "b secret text" }));
    await expectProblem(await uploadJson(a, bCol, { title: "x", text: "y" }), 404, "not_found");
    await expectProblem(await call("GET", `/v1/documents/${bDoc.id}`, { token: a.adminKey }), 404, "not_found");
    await expectProblem(await call("DELETE", `/v1/documents/${bDoc.id}`, { token: a.adminKey }), 404, "not_found");
    await expectProblem(
      await call("GET", `/v1/collections/${bCol}/documents`, { token: a.adminKey }),
      404,
      "not_found",
    );
    expect((await call("GET", `/v1/documents/${bDoc.id}`, { token: b.adminKey })).status).toBe(200);
  });

  it("respects a key's collection restriction and scopes", async () => {
    const tenant = await newTenant();
    const mine = await newCollection(tenant);
    const other = await newCollection(tenant);
    const doc = await json<Doc>(await uploadJson(tenant, other, { title: "o", text: "other text" }));
    const key = await newKey(tenant, { scopes: ["ingest"], collection_ids: [mine] });
    const reader = await newKey(tenant, { scopes: ["query"] });
    await expectProblem(await call("GET", `/v1/documents/${doc.id}`, { token: key.key }), 403, "forbidden");
    await expectProblem(
      await call("POST", `/v1/collections/${other}/documents`, { token: key.key, body: { title: "t", text: "t" } }),
      403,
      "forbidden",
    );
    await expectProblem(
      await call("POST", `/v1/collections/${mine}/documents`, { token: reader.key, body: { title: "t", text: "t" } }),
      403,
      "forbidden",
    );
    expect((await call("GET", `/v1/documents/${doc.id}`, { token: reader.key })).status).toBe(200);
  });

  it("pages a collection's documents", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await json<Doc>(await uploadJson(tenant, col, { title: `d${i}`, text: `text ${i}` }))).id);
    }
    const first = await json<{ items: Doc[]; next_cursor: string }>(
      await call("GET", `/v1/collections/${col}/documents?limit=2`, { token: tenant.adminKey }),
    );
    const second = await json<{ items: Doc[]; next_cursor: string | null }>(
      await call("GET", `/v1/collections/${col}/documents?limit=2&cursor=${first.next_cursor}`, {
        token: tenant.adminKey,
      }),
    );
    expect([...first.items, ...second.items].map((d) => d.id)).toEqual([...ids].reverse());
    expect(second.next_cursor).toBeNull();
  });

  it("deletes a document with its chunks, index entries and original, and bumps the version", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const doc = await json<Doc>(await uploadJson(tenant, col, { title: "H", text: HANDBOOK }));
    await settled(tenant, doc.id);
    const before = await version(tenant, col);
    expect((await call("DELETE", `/v1/documents/${doc.id}`, { token: tenant.adminKey })).status).toBe(204);
    expect((await shardOf(tenant, col).documentChunks(doc.id)).value).toEqual([]);
    expect(await env.BLOBS.get(`t/${tenant.id}/d/${doc.id}`)).toBeNull();
    expect(await version(tenant, col)).toBe(before + 1);
    await expectProblem(await call("GET", `/v1/documents/${doc.id}`, { token: tenant.adminKey }), 404, "not_found");
  });

  it("deleting a collection removes its documents' originals too", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const doc = await json<Doc>(await uploadJson(tenant, col, { title: "H", text: "some text" }));
    expect(await env.BLOBS.head(`t/${tenant.id}/d/${doc.id}`)).not.toBeNull();
    expect((await call("DELETE", `/v1/collections/${col}`, { token: tenant.adminKey })).status).toBe(204);
    expect(await env.BLOBS.head(`t/${tenant.id}/d/${doc.id}`)).toBeNull();
    const rows = await testDb()
      .prepare("SELECT COUNT(*) AS n FROM documents WHERE id = ?")
      .bind(doc.id)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });
});

/** The ingestion capability as the Worker wires it, quiet, with `overrides` in place of adapters. */
const ingestWith = (overrides: Overrides = {}) => servicesFor({ LOG_LEVEL: "error" }, undefined, overrides).ingest;

describe("the ingestion consumer", () => {
  it("retries with backoff on a transient failure, and the dead-letter queue marks the document failed", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    // Low priority: the bulk queue waits up to 2 s, so this test settles the message itself first.
    const doc = await json<Doc>(await uploadJson(tenant, col, { title: "T", text: "transient", priority: "low" }));
    const message: IngestMessage = { document_id: doc.id, tenant_id: tenant.id };
    const failingBlobs = {
      get: () => Promise.reject(new Error("R2 is down")),
    } as unknown as R2Bucket;
    const batch = createMessageBatch<IngestMessage>("edgerag-ingest", [
      { id: "m1", timestamp: new Date(), attempts: 2, body: message },
    ]);
    const ctx = createExecutionContext();
    await ingestWith({ blobs: failingBlobs }).handleBatch(batch, false);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m1"]);
    expect(result.explicitAcks).toEqual([]);
    expect([1, 2, 3, 10].map(retryDelaySeconds)).toEqual([10, 40, 90, 900]);
    const retried = await testDb()
      .prepare("SELECT status, error FROM documents WHERE id = ?")
      .bind(doc.id)
      .first<{ status: string; error: string }>();
    expect(retried).toMatchObject({ status: "queued", error: "attempt 2 failed: R2 is down" });

    const dead = createMessageBatch<IngestMessage>("edgerag-ingest-dlq", [
      { id: "m2", timestamp: new Date(), attempts: 1, body: message },
    ]);
    await ingestWith().handleBatch(dead, true);
    const final = await testDb()
      .prepare("SELECT status, error FROM documents WHERE id = ?")
      .bind(doc.id)
      .first<{ status: string; error: string }>();
    expect(final?.status).toBe("failed");
    expect(final?.error).toContain("R2 is down");
  });

  it("is idempotent: a redelivered message for a ready document changes nothing", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const doc = await json<Doc>(await uploadJson(tenant, col, { title: "H", text: HANDBOOK }));
    await settled(tenant, doc.id);
    const snapshot = async () => ({
      document: await testDb().prepare("SELECT * FROM documents WHERE id = ?").bind(doc.id).first(),
      chunks: (await shardOf(tenant, col).documentChunks(doc.id)).value.map((c) => ({ id: c.id, text: c.text })),
      version: await version(tenant, col),
    });
    const before = await snapshot();
    expect(before.chunks).toHaveLength(2);
    const batch = createMessageBatch<IngestMessage>("edgerag-ingest-high", [
      { id: "m3", timestamp: new Date(), attempts: 1, body: { document_id: doc.id, tenant_id: tenant.id } },
    ]);
    await ingestWith().handleBatch(batch, false);
    // The message is acknowledged (not retried), and the row, its chunks and the version stand.
    const outcome = await getQueueResult(batch, createExecutionContext());
    expect(outcome.explicitAcks).toEqual(["m3"]);
    expect(outcome.retryMessages).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });
});

describe("the ingestion consumer at full batch size", () => {
  it("does a document's work once when a batch carries it twice (a redelivery beside a re-queue)", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const doc = await uploadJson(tenant, col, { title: "Twice", text: HANDBOOK, priority: "low" }).then((r) =>
      json<Doc>(r),
    );
    const batch = createMessageBatch<IngestMessage>(
      "edgerag-ingest",
      ["t1", "t2"].map((id) => ({
        id,
        timestamp: new Date(),
        attempts: 1,
        body: { document_id: doc.id, tenant_id: tenant.id },
      })),
    );
    await ingestWith().handleBatch(batch, false);
    const outcome = await getQueueResult(batch, createExecutionContext());
    expect(outcome.retryMessages).toEqual([]);
    expect(outcome.explicitAcks.sort()).toEqual(["t1", "t2"]);
    expect((await shardOf(tenant, col).documentChunks(doc.id)).value.map((c) => c.heading)).toEqual(["Leave", "Pay"]);
  });

  it("takes a batch of 100 messages (more ids than D1 binds parameters) to ready", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const res = await call("POST", `/v1/collections/${col}/documents/batch`, {
      token: tenant.adminKey,
      body: { documents: Array.from({ length: 100 }, (_, i) => ({ title: `d${i}`, text: `document number ${i}` })) },
    });
    const { items } = await json<{ items: Array<{ document: Doc }> }>(res);
    const batch = createMessageBatch<IngestMessage>(
      "edgerag-ingest",
      items.map((item, i) => ({
        id: `big-${i}`,
        timestamp: new Date(),
        attempts: 1,
        body: { document_id: item.document.id, tenant_id: tenant.id },
      })),
    );
    const ctx = createExecutionContext();
    await ingestWith().handleBatch(batch, false);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages).toEqual([]);
    expect(result.retryBatch.retry).toBe(false);
    const ready = await testDb()
      .prepare("SELECT COUNT(*) AS n FROM documents WHERE collection_id = ? AND status = 'ready'")
      .bind(col)
      .first<{ n: number }>();
    expect(ready?.n).toBe(100);
  });

  it("retries the whole batch, later, when it cannot even read it", async () => {
    const brokenDb = {
      select: () => {
        throw new Error("D1 is down");
      },
    } as unknown as ReturnType<typeof createDb>;
    const batch = createMessageBatch<IngestMessage>("edgerag-ingest", [
      { id: "x1", timestamp: new Date(), attempts: 3, body: { document_id: "doc_x", tenant_id: "ten_x" } },
    ]);
    // getQueueResult does not report the delay, so the call itself is observed too.
    const retryAll = vi.spyOn(batch, "retryAll");
    const ctx = createExecutionContext();
    await ingestWith({ db: brokenDb }).handleBatch(batch, false);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryBatch.retry).toBe(true);
    expect(retryAll).toHaveBeenCalledWith({ delaySeconds: 90 });
  });
});

describe("batch upload", () => {
  it("accepts up to 100 JSON documents with one result each, in order", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const res = await fetchQueued(
      new Request(`http://edgerag.test/v1/collections/${col}/documents/batch`, {
        method: "POST",
        headers: { Authorization: `Bearer ${tenant.adminKey}`, "Content-Type": "application/json" },
        body: JSON.stringify({
          documents: [
            { title: "one", text: "first text", priority: "high" },
            { title: "two", text: "second text" },
            { title: "dup", text: "first text" },
          ],
        }),
      }),
    );
    expect(res.status).toBe(202);
    const { items } = await json<{ items: Array<{ index: number; document?: Doc & { priority: string } }> }>(res);
    expect(items.map((i) => i.index)).toEqual([0, 1, 2]);
    expect(items[1]?.document?.priority).toBe("low");
    expect(items[2]?.document).toMatchObject({ id: items[0]?.document?.id, deduplicated: true });
    expect((await settled(tenant, items[0]?.document?.id ?? "")).status).toBe("ready");
  });

  it("stores each document's text as the UTF-8 of the parsed string", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const texts = ['휴가는 "연차"\n😀 \\ end', "second \u2028 \ud800 text"];
    const res = await fetchQueued(
      new Request(`http://edgerag.test/v1/collections/${col}/documents/batch`, {
        method: "POST",
        headers: { Authorization: `Bearer ${tenant.adminKey}`, "Content-Type": "application/json" },
        body: JSON.stringify({ documents: texts.map((text, i) => ({ title: `t${i}`, text })) }),
      }),
    );
    expect(res.status).toBe(202);
    const { items } = await json<{ items: Array<{ document: Doc }> }>(res);
    for (const [i, text] of texts.entries()) {
      const stored = await env.BLOBS.get(`t/${tenant.id}/d/${items[i]?.document.id}`);
      expect(new Uint8Array((await stored?.arrayBuffer()) ?? new ArrayBuffer(0))).toEqual(
        new TextEncoder().encode(text),
      );
    }
  });

  it("reports an entry's own error without failing the others", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const res = await callWith({ MAX_UPLOAD_BYTES: "2048" }, "POST", `/v1/collections/${col}/documents/batch`, {
      token: tenant.adminKey,
      body: {
        documents: [
          { title: "big", text: "x".repeat(3_000) },
          { title: "small", text: "fits" },
        ],
      },
    });
    expect(res.status).toBe(202);
    const { items } = await json<{ items: Array<{ index: number; document?: Doc; error?: { code: string } }> }>(res);
    expect(items[0]).toMatchObject({ index: 0, error: { code: "payload_too_large" } });
    expect(items[1]?.document?.status).toBe("queued");
  });

  it("refuses more than 100 documents and an empty batch with 422", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const many = Array.from({ length: 101 }, (_, i) => ({ title: `t${i}`, text: `x${i}` }));
    for (const documents of [many, []]) {
      const res = await call("POST", `/v1/collections/${col}/documents/batch`, {
        token: tenant.adminKey,
        body: { documents },
      });
      await expectProblem(res, 422, "validation_failed");
    }
  });
});

describe("the stale-document sweep", () => {
  it("re-enqueues a document stuck in processing, and fails one out of attempts", async () => {
    const { STALE_AFTER_MS, MAX_ATTEMPTS } = await import("../../src/services/ingest/sweep");
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const stuck = await json<Doc>(
      await uploadJson(tenant, col, { title: "stuck", text: "stuck text", priority: "low" }),
    );
    const hopeless = await json<Doc>(
      await uploadJson(tenant, col, { title: "hopeless", text: "hopeless text", priority: "low" }),
    );
    const old = Date.now() - STALE_AFTER_MS - 1_000;
    await testDb().batch([
      testDb().prepare("UPDATE documents SET status = 'processing', updated_at = ? WHERE id = ?").bind(old, stuck.id),
      testDb()
        .prepare("UPDATE documents SET status = 'processing', attempts = ?, updated_at = ? WHERE id = ?")
        .bind(MAX_ATTEMPTS, old, hopeless.id),
    ]);
    const sent: unknown[] = [];
    const queue = {
      sendBatch: async (messages: Array<{ body: unknown }>) => void sent.push(...messages.map((m) => m.body)),
    } as unknown as Queue<IngestMessage>;
    const result = await ingestWith({ queues: { high: queue, bulk: queue } }).sweep();
    expect(result.failed).toBeGreaterThanOrEqual(1);
    expect(sent).toContainEqual({ document_id: stuck.id, tenant_id: tenant.id });
    expect(sent).not.toContainEqual({ document_id: hopeless.id, tenant_id: tenant.id });
    const rows = await testDb()
      .prepare("SELECT id, status, error FROM documents WHERE id IN (?, ?)")
      .bind(stuck.id, hopeless.id)
      .all<{ id: string; status: string; error: string | null }>();
    const byId = Object.fromEntries(rows.results.map((r) => [r.id, r]));
    expect(byId[stuck.id]?.status).toMatch(/queued|processing|ready/);
    expect(byId[hopeless.id]).toMatchObject({ status: "failed" });
    expect(byId[hopeless.id]?.error).toContain("did not finish");
  });

  it("runs from the Worker's scheduled handler", async () => {
    const { createScheduledController } = await import("cloudflare:test");
    const { default: worker } = await import("../../src/index");
    const controller = createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() });
    const ctx = createExecutionContext();
    await expect(worker.scheduled(controller, env, ctx)).resolves.toBeUndefined();
  });
});

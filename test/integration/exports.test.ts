import { createMessageBatch } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { launchError, lockedDown } from "../../src/adapters/browser/browser-rendering";
import { type PdfRenderer, pageCount } from "../../src/adapters/browser/interface";
import { escapeHtml } from "../../src/lib/html";
import type { ExportMessage } from "../../src/schemas/exports";
import type { KeyPrincipal } from "../../src/services/principal";
import { testDb } from "../support/db";
import {
  call,
  callQueued,
  expectProblem,
  ingestText,
  json,
  newCollection,
  newKey,
  newTenant,
  type TestTenant,
} from "../support/http";
import { settleQueues } from "../support/queues";
import { servicesFor } from "../support/services";

/**
 * PDF exports through the real path: route → D1 row → queue → consumer → Browser Rendering
 * (Miniflare's Chrome, which scripts/setup-browser.mjs points at Debian's chromium) → R2.
 */
interface Export {
  id: string;
  status: string;
  pages: number | null;
  bytes: number | null;
  error: string | null;
  expires_at: string | null;
}

const tenantPrincipal = (t: TestTenant): KeyPrincipal => ({
  kind: "key",
  tenantId: t.id,
  keyId: t.adminKeyId,
  scopes: ["admin"],
  collectionIds: null,
  filter: null,
  rateTier: "standard",
});

/** A JSON document, ingested by the real consumer before it returns. */
const readyDoc = ingestText;

const statusOf = async (tenant: TestTenant, id: string) =>
  (await json<Export>(await call("GET", `/v1/exports/${id}`, { token: tenant.adminKey }))).status;

async function exportOf(tenant: TestTenant, body: Record<string, unknown>): Promise<Export> {
  const res = await callQueued("POST", "/v1/exports", { token: tenant.adminKey, body });
  expect(res.status).toBe(202);
  const created = await json<Export>(res);
  expect(created.status).toBe("queued");
  await settleQueues();
  expect(await statusOf(tenant, created.id)).toMatch(/ready|failed/);
  return json<Export>(await call("GET", `/v1/exports/${created.id}`, { token: tenant.adminKey }));
}

const pdfOf = async (tenant: TestTenant, id: string) => {
  const res = await call("GET", `/v1/exports/${id}/file`, { token: tenant.adminKey });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/pdf");
  expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="/);
  return new Uint8Array(await res.arrayBuffer());
};

describe("PDF exports", () => {
  it("renders an answer with its sources, the dashboard and a document as real PDFs", { timeout: 90_000 }, async () => {
    const tenant = await newTenant("Exporters");
    const col = await newCollection(tenant);
    const docId = await readyDoc(
      tenant,
      col,
      "Leave policy",
      "Employees receive twenty five days of paid vacation every year.",
    );

    const answer = await exportOf(tenant, {
      kind: "query",
      query: "How many vacation days?",
      collection_ids: [col],
      mode: "fast",
    });
    expect(answer.error).toBeNull();
    expect(answer).toMatchObject({ status: "ready", pages: 1 });
    const pdf = await pdfOf(tenant, answer.id);
    expect(new TextDecoder().decode(pdf.slice(0, 5))).toBe("%PDF-");
    expect(pageCount(pdf)).toBe(1);
    expect(answer.bytes).toBe(pdf.byteLength);
    expect(Date.parse(answer.expires_at ?? "")).toBeGreaterThan(Date.now());

    const now = Date.now();
    const dashboard = await exportOf(tenant, {
      kind: "dashboard",
      from: new Date(now - 7 * 86_400_000).toISOString(),
      to: new Date(now).toISOString(),
    });
    expect(dashboard.status).toBe("ready");
    expect(new TextDecoder().decode((await pdfOf(tenant, dashboard.id)).slice(0, 5))).toBe("%PDF-");

    const document = await exportOf(tenant, { kind: "document", document_id: docId, title: "Handbook export" });
    expect(document.status).toBe("ready");

    const list = await json<{ items: Export[] }>(await call("GET", "/v1/exports", { token: tenant.adminKey }));
    expect(list.items.map((e) => e.id)).toEqual([document.id, dashboard.id, answer.id]);
    expect((await call("DELETE", `/v1/exports/${document.id}`, { token: tenant.adminKey })).status).toBe(204);
    await expectProblem(await call("GET", `/v1/exports/${document.id}`, { token: tenant.adminKey }), 404, "not_found");
  });

  it("answers 409 until ready and 410 once expired; other tenants and narrower keys get 404/403", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const docId = await readyDoc(tenant, col, "Doc", "Some text worth exporting.");
    const res = await callQueued("POST", "/v1/exports", {
      token: tenant.adminKey,
      body: { kind: "document", document_id: docId },
    });
    const created = await json<Export>(res);
    // Not rendered until the test settles the export queue: the file is not there yet.
    await expectProblem(
      await call("GET", `/v1/exports/${created.id}/file`, { token: tenant.adminKey }),
      409,
      "conflict",
    );
    const other = await newTenant("Other");
    await expectProblem(await call("GET", `/v1/exports/${created.id}`, { token: other.adminKey }), 404, "not_found");
    await expectProblem(
      await call("POST", "/v1/exports", { token: other.adminKey, body: { kind: "document", document_id: docId } }),
      404,
      "not_found",
    );
    const narrow = await newKey(tenant, { name: "narrow", scopes: ["admin"], collection_ids: [col] });
    await expectProblem(await call("GET", "/v1/exports", { token: narrow.key }), 403, "forbidden");
    await settleQueues();
    expect(await statusOf(tenant, created.id)).toBe("ready");
    await testDb()
      .prepare("UPDATE exports SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, created.id)
      .run();
    await expectProblem(await call("GET", `/v1/exports/${created.id}/file`, { token: tenant.adminKey }), 410, "gone");
    // The sweep deletes the expired file from R2; the row stays and keeps answering 410.
    const key = `exports/${tenant.id}/${created.id}.pdf`;
    expect(await env.BLOBS.head(key)).not.toBeNull();
    expect(await servicesFor().exports.sweep()).toBeGreaterThanOrEqual(1);
    expect(await env.BLOBS.head(key)).toBeNull();
    await expectProblem(await call("GET", `/v1/exports/${created.id}/file`, { token: tenant.adminKey }), 410, "gone");
  });

  it("refuses what cannot be exported with 422 or 404, before queueing", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const bad = [
      { kind: "query", collection_ids: [col] },
      { kind: "query", query: "x", collection_ids: [col], query_log_id: "qry_abc" },
      { kind: "query", query: "   ", collection_ids: [col] },
      { kind: "dashboard", from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z" },
      { kind: "dashboard", from: "2026-01-01T00:00:00Z", to: "2026-12-01T00:00:00Z" },
      { kind: "pdf" },
      { kind: "document", document_id: "../x" },
    ];
    for (const body of bad) {
      await expectProblem(
        await call("POST", "/v1/exports", { token: tenant.adminKey, body }),
        422,
        "validation_failed",
      );
    }
    await expectProblem(
      await call("POST", "/v1/exports", {
        token: tenant.adminKey,
        body: { kind: "document", document_id: "doc_nope" },
      }),
      404,
      "not_found",
    );
    await expectProblem(
      await call("POST", "/v1/exports", { token: tenant.adminKey, body: { kind: "query", query_log_id: "qry_nope" } }),
      404,
      "not_found",
    );
  });

  it("waits out the browser limit: a 429 becomes rate_limited with the wait it names, else 30 s", async () => {
    const refused = (body: string) =>
      launchError(new Error(`Unable to create new browser: code: 429: message: ${body}`));
    expect(refused("Too many browsers; retry after 12 seconds")).toMatchObject({
      code: "rate_limited",
      headers: { "Retry-After": "12" },
    });
    expect(refused("Rate limit exceeded").headers).toEqual({ "Retry-After": "30" });
    expect(launchError(new Error("Unable to create new browser: code: 500: message: boom")).code).toBe(
      "upstream_unavailable",
    );
    // Through the consumer: the message is retried after that wait, and the attempt is not spent.
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    const docId = await readyDoc(tenant, col, "Doc", "Text to export later.");
    const limited: PdfRenderer = {
      name: "limited",
      render: async () => {
        throw refused("retry after 7 seconds");
      },
    };
    const services = servicesFor({}, undefined, { renderer: limited, exportQueue: { send: async () => {} } as never });
    const created = await services.exports.create(tenantPrincipal(tenant), { kind: "document", document_id: docId });
    const batch = createMessageBatch<ExportMessage>("edgerag-exports", [
      { id: "m1", timestamp: new Date(), attempts: 1, body: { export_id: created.id, tenant_id: tenant.id } },
    ]);
    const retry = vi.spyOn(batch.messages[0] as Message<ExportMessage>, "retry");
    await services.exports.handleBatch(batch);
    expect(retry).toHaveBeenCalledWith({ delaySeconds: 7 });
    const row = await testDb().prepare("SELECT status, attempts FROM exports WHERE id = ?").bind(created.id).first();
    expect(row).toEqual({ status: "queued", attempts: 0 });
  });

  it("puts the renderer's CSP before anything in the HTML", () => {
    expect(lockedDown("<!DOCTYPE html><html><head><link rel=prefetch href=x>")).toMatch(
      /^<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="default-src 'none';[^>]*><html>/,
    );
    expect(lockedDown("<p>no doctype</p>")).toMatch(
      /^<!doctype html><meta http-equiv="Content-Security-Policy"[^>]*><p>/,
    );
    // A meta refresh (a navigation no CSP forbids) is taken out, in any spelling.
    for (const refresh of [
      `<meta http-equiv="refresh" content="0; url=https://x.test/">`,
      `<META content='1;url=x' HTTP-EQUIV=Refresh>`,
    ]) {
      expect(lockedDown(`<p>a</p>${refresh}<p>b</p>`)).toMatch(/<p>a<\/p><p>b<\/p>$/);
    }
  });

  it("escapes every user string in the report", () => {
    expect(escapeHtml(`<img src=x onerror="alert(1)">&'`)).toBe(
      "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;",
    );
  });
});

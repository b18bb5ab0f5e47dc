// The SDK (sdk/src, imported as TypeScript by Node 22) against the built Worker served on loopback:
// every helper end to end — typed calls, ask, the answer stream (and stopping it), uploads from a
// Blob, text, a file path and by external id, the notification stream resuming across a dropped
// connection, retries that wait out Retry-After, and webhook verification of a real delivery and
// of signatures made by the `standardwebhooks` package.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { buildWorker, serveWorker } from "../../scripts/lib/serve.mjs";
import { EdgeRAG, EdgeRAGError, verifyWebhook, WebhookVerificationError } from "../../sdk/src/index.ts";

const root = path.resolve(import.meta.dirname, "../..");
let served;
let admin;
let adminKey;
let collection;

async function call(method, route, body, token = "bench-admin-token") {
  const res = await fetch(`${served.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return res.json();
}

before(async () => {
  served = await serveWorker({
    scriptPath: buildWorker(),
    bindings: {
      WEBHOOK_ALLOW_LOOPBACK: "true",
      RATE_LIMIT_TIERS: JSON.stringify({
        standard: { limit: 1_000_000, window_s: 60 },
        tight: { limit: 2, window_s: 2 },
      }),
    },
  });
  const tenant = await call("POST", "/v1/admin/tenants", { name: "sdk" });
  adminKey = tenant.api_key.key;
  admin = new EdgeRAG({ baseUrl: served.url, apiKey: adminKey });
  const { data } = await admin.api.POST("/v1/collections", { body: { name: "handbook" } });
  collection = data.id;
});

after(() => served?.mf.dispose());

describe("EdgeRAG SDK against a served Worker", () => {
  let handbook;

  it("uploads from text, a Blob, a file path, and by external id", async () => {
    const text = await admin.upload(
      collection,
      { text: "Employees receive twenty five days of paid vacation every year. Unused days carry over up to five." },
      { title: "Leave policy", priority: "high", metadata: { team: "hr" } },
    );
    const blob = await admin.upload(
      collection,
      {
        file: new Blob(["# Parking\n\nStaff parking is free in the north garage."], { type: "text/markdown" }),
        filename: "parking.md",
      },
      { priority: "high" },
    );
    const file = await admin.upload(
      collection,
      { path: path.join(root, "examples/remote-work.pdf") },
      { priority: "high" },
    );
    const external = await admin.upload(
      collection,
      { text: "The office closes on 24 December." },
      { title: "Holidays", externalId: "policy/holidays", priority: "high" },
    );
    for (const doc of [text, blob, file, external]) {
      const ready = await admin.waitReady(doc.id);
      assert.equal(ready.status, "ready");
      assert.ok(ready.chunk_count > 0);
    }
    assert.equal((await admin.waitReady(file.id)).mime_type, "application/pdf");
    assert.equal(external.external_id, "policy/holidays");
    handbook = text.id;
    // The typed client: a GET with path parameters, errors as values.
    const { data, error } = await admin.api.GET("/v1/collections/{id}/documents", {
      params: { path: { id: collection }, query: { limit: 10 } },
    });
    assert.equal(error, undefined);
    assert.equal(data.items.length, 4);
    const missing = await admin.api.GET("/v1/documents/{id}", { params: { path: { id: "doc_0000000000000000" } } });
    assert.equal(missing.response.status, 404);
    assert.equal(missing.error.code, "not_found");
  });

  it("asks, searches, and throws problems as EdgeRAGError", async () => {
    const answer = await admin.ask({
      query: "How many days of paid vacation do employees get?",
      collection_ids: [collection],
      mode: "fast",
    });
    assert.equal(answer.abstained, false);
    assert.match(answer.answer, /twenty five days/);
    assert.equal(answer.citations[0].document_id, handbook);
    const search = await admin.search({ query: "north garage", collection_ids: [collection], top_k: 2 });
    assert.match(search.results[0].text, /north garage/);
    await assert.rejects(
      admin.ask({ query: "", collection_ids: [collection] }),
      (error) => error instanceof EdgeRAGError && error.status === 422 && error.problem.errors[0].path === "query",
    );
  });

  it("streams an answer: retrieval, tokens, citations, done — and stops when the loop does", async () => {
    const types = [];
    let text = "";
    let result;
    for await (const event of admin.stream({
      query: "How many vacation days carry over?",
      collection_ids: [collection],
    })) {
      types.push(event.type);
      if (event.type === "token") {
        text += event.text;
      } else if (event.type === "done") {
        result = event.result;
      }
    }
    assert.equal(types[0], "retrieval");
    assert.ok(types.includes("token") && types.includes("citation"));
    assert.equal(types.at(-1), "done");
    assert.match(text, /five/);
    assert.equal(result.abstained, false);
    // Breaking out after the first event ends the request.
    for await (const event of admin.stream({ query: "parking", collection_ids: [collection] })) {
      assert.equal(event.type, "retrieval");
      break;
    }
  });

  it("resumes the notification stream after a dropped connection: no event lost or repeated", async () => {
    // A WebSocket that drops its first connection after two events, as a flaky network would.
    let connections = 0;
    class Flaky extends WebSocket {
      constructor(url) {
        super(url);
        const n = ++connections;
        let seen = 0;
        this.addEventListener("message", (m) => {
          if (n === 1 && JSON.parse(String(m.data)).seq !== undefined && ++seen === 2) {
            this.close();
          }
        });
      }
    }
    const client = new EdgeRAG({ baseUrl: served.url, apiKey: adminKey, WebSocket: Flaky });
    const stop = new AbortController();
    const seqs = [];
    const signal = AbortSignal.any([stop.signal, AbortSignal.timeout(15_000)]);
    for await (const event of client.notifications({ after: 0, signal })) {
      seqs.push(event.seq);
      if (seqs.length === 6) {
        stop.abort();
      }
    }
    assert.equal(seqs.length, 6, `six events within 15 s (got ${seqs.join(", ")})`);
    assert.ok(connections >= 2, `reconnected (${connections} connections)`);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => seqs[0] + i),
    );
    // A key that may not listen is refused at once, not retried forever.
    const { key } = await call("POST", "/v1/api-keys", { name: "reader", scopes: ["query"] }, adminKey);
    const reader = new EdgeRAG({ baseUrl: served.url, apiKey: key });
    await assert.rejects(
      reader.notifications().next(),
      (error) => error instanceof EdgeRAGError && error.status === 403,
    );
  });

  it("waits out Retry-After on 429 and then succeeds; with retries off, throws rate_limited", async () => {
    const { key } = await call(
      "POST",
      "/v1/api-keys",
      { name: "tight", scopes: ["query"], rate_tier: "tight" },
      adminKey,
    );
    let refused = 0;
    const counting = (input, init) =>
      fetch(input, init).then((res) => {
        refused += res.status === 429 ? 1 : 0;
        return res;
      });
    const patient = new EdgeRAG({ baseUrl: served.url, apiKey: key, fetch: counting, retry: { retries: 3 } });
    const results = [];
    for (let i = 0; i < 4; i++) {
      results.push(await patient.search({ query: "garage", collection_ids: [collection] }));
    }
    assert.equal(results.length, 4);
    assert.ok(refused >= 1, "at least one 429 was waited out");
    const impatient = new EdgeRAG({ baseUrl: served.url, apiKey: key, retry: { retries: 0 } });
    const burst = await Promise.allSettled(
      Array.from({ length: 4 }, () => impatient.search({ query: "garage", collection_ids: [collection] })),
    );
    const rejected = burst.filter((r) => r.status === "rejected");
    assert.ok(rejected.length >= 1);
    assert.equal(rejected[0].reason.code, "rate_limited");
  });

  it("verifies a real webhook delivery, and signatures made by the standardwebhooks package", async () => {
    // The first delivery, as the receiver gets it (a barrier, not a poll).
    let delivered;
    const firstDelivery = new Promise((resolve) => {
      delivered = resolve;
    });
    const receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        delivered({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    try {
      const hook = await call(
        "POST",
        "/v1/webhooks",
        { url: `http://127.0.0.1:${receiver.address().port}/hook`, events: ["document.ready"] },
        adminKey,
      );
      const doc = await admin.upload(
        collection,
        { text: "Bikes go in the east shed." },
        { title: "Bikes", priority: "high" },
      );
      await admin.waitReady(doc.id);
      const delivery = await firstDelivery;
      const event = await verifyWebhook(hook.secret, delivery.body, delivery.headers);
      assert.equal(event.type, "document.ready");
      assert.equal(event.data.document_id ?? event.data.id, doc.id);
      await assert.rejects(verifyWebhook(hook.secret, `${delivery.body} `, delivery.headers), WebhookVerificationError);
    } finally {
      receiver.close();
    }
    // Signed by a library nobody here wrote.
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const payload = JSON.stringify({
      id: "evt_1",
      type: "document.ready",
      created_at: new Date().toISOString(),
      data: {},
    });
    const now = new Date();
    const signature = new Webhook(secret).sign("msg_1", now, payload);
    const headers = {
      "webhook-id": "msg_1",
      "webhook-timestamp": String(Math.floor(now / 1000)),
      "webhook-signature": signature,
    };
    assert.equal((await verifyWebhook(secret, payload, headers)).type, "document.ready");
    await assert.rejects(
      verifyWebhook("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", payload, headers),
      WebhookVerificationError,
    );
    await assert.rejects(
      verifyWebhook(secret, payload, headers, { now: now.getTime() + 10 * 60_000 }),
      /too far from now/,
    );
  });
});

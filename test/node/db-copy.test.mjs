// `npm run db:copy` against a real D1 (Miniflare's, behind the built Worker, filled through the API)
// and a real PostgreSQL (a fresh database on the local cluster): a copy stopped part-way resumes and
// verifies; a second run changes nothing; changes made in D1 afterwards (a deleted document, a
// revoked key, new queries) are carried over by the last pass; a row altered in PostgreSQL fails
// the verification.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { bindingSource, syncD1ToPostgres, verify } from "../../scripts/db-copy.mjs";
import { LOCAL_POSTGRES, migratePostgres } from "../../scripts/db-migrate.mjs";
import { buildWorker, serveWorker } from "../../scripts/lib/serve.mjs";

const base = process.env.DATABASE_URL ?? LOCAL_POSTGRES;
const name = `edgerag_copy_${process.pid}`;
const url = Object.assign(new URL(base), { pathname: `/${name}` }).href;
const admin = new pg.Client({ connectionString: base });
let served;
let source;
let key;

async function call(method, route, body, token = key) {
  const res = await fetch(`${served.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return res.status === 204 ? null : res.json();
}

before(async () => {
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  await migratePostgres(url);
  served = await serveWorker({ scriptPath: buildWorker(), bindings: { WEBHOOK_ALLOW_LOOPBACK: "true" } });
  source = bindingSource(await served.mf.getD1Database("DB"));
  // A deployment's worth of rows in most tables: tenants, keys, collections, documents (with
  // metadata and an external id), conversations and turns, webhooks, the query log.
  for (const tenantName of ["Acme", "Beta"]) {
    const tenant = await call("POST", "/v1/admin/tenants", { name: tenantName }, "bench-admin-token");
    key = tenant.api_key.key;
    await call("POST", "/v1/api-keys", { name: "reader", scopes: ["query"], filter: { team: "hr" } });
    const col = await call("POST", "/v1/collections", { name: "handbook" });
    for (let i = 0; i < 12; i++) {
      await call("POST", `/v1/collections/${col.id}/documents`, {
        title: `Doc ${i} 문서`,
        text: `Policy ${i}: employees receive ${i} extra days. 직원은 ${i}일을 받습니다.`,
        metadata: { team: i % 2 ? "hr" : "it", n: i },
        priority: "high",
      });
    }
    await call("PUT", `/v1/collections/${col.id}/documents/external/policy%2Fx`, {
      title: "X",
      text: "External text.",
    });
    const conversation = await call("POST", "/v1/conversations", {});
    await call("POST", "/v1/query", {
      query: "How many extra days?",
      collection_ids: [col.id],
      conversation_id: conversation.id,
    });
    await call("POST", "/v1/webhooks", { url: "http://127.0.0.1:9/hook", events: ["export.ready"] });
  }
});

/**
 * Until ingestion and the requests' background writes are done (the query log flushes after 1 s):
 * D1 then holds still for 1.8 s. Real time on purpose: those writes run in the served Worker, on its
 * own clock and queues, and what the copy needs is a D1 that has stopped changing — observed, since
 * no event says so.
 */
async function settled() {
  const probe = async () =>
    JSON.stringify(
      await source.all(
        "SELECT (SELECT count(*) FROM documents WHERE status != 'ready') AS pending, " +
          "(SELECT sum(version) FROM collections) AS versions, (SELECT count(*) FROM query_log) AS queries, " +
          "(SELECT count(*) FROM documents) AS documents",
      ),
    );
  let previous = "";
  let same = 0;
  for (let i = 0; i < 100; i++) {
    const now = await probe();
    same = now === previous ? same + 1 : 0;
    if (same >= 6 && JSON.parse(now)[0].pending === 0) {
      return;
    }
    previous = now;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`D1 did not settle: ${previous}`);
}

after(async () => {
  await served?.mf.dispose();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    // An open client would keep the test process, and so the run, waiting.
    await admin.end();
  }
});

describe("db:copy — D1 into PostgreSQL", () => {
  it("stops part-way, resumes where it stopped, and verifies", async () => {
    await settled();
    const stopped = await syncD1ToPostgres({ source, connectionString: url, pageSize: 5, stopAfterPages: 4 });
    assert.equal(stopped.stopped, true);
    const resumed = await syncD1ToPostgres({ source, connectionString: url, pageSize: 5 });
    assert.equal(resumed.stopped, false);
    // Resumed, not restarted: the tenants were not read again.
    assert.equal(resumed.tally.tenants, undefined);
    const report = await verify({ source, connectionString: url });
    assert.ok(report.documents.rows >= 26, `documents: ${report.documents.rows}`);
    assert.ok(report.api_keys.rows >= 4 && report.conversation_turns.rows >= 2 && report.query_log.rows >= 2);
    assert.ok(Object.values(report).every((t) => t.match));
  });

  it("changes nothing when run again", async () => {
    const again = await syncD1ToPostgres({ source, connectionString: url, pageSize: 7, restart: true });
    const changed = Object.entries(again.tally).filter(([, t]) => t.upserted + t.deleted > 0);
    assert.deepEqual(changed, []);
  });

  it("carries over what changed in D1 since (the pass during the write freeze)", async () => {
    const { items } = await call("GET", "/v1/api-keys");
    const reader = items.find((k) => k.name === "reader");
    await call("DELETE", `/v1/api-keys/${reader.id}`);
    const cols = await call("GET", "/v1/collections");
    const docs = await call("GET", `/v1/collections/${cols.items[0].id}/documents?limit=1`);
    await call("DELETE", `/v1/documents/${docs.items[0].id}`);
    await call("POST", "/v1/query", { query: "Which team?", collection_ids: [cols.items[0].id] });
    await settled();
    const pass = await syncD1ToPostgres({ source, connectionString: url, pageSize: 5, restart: true });
    assert.equal(pass.tally.api_keys.deleted, 1);
    assert.equal(pass.tally.documents.deleted, 1);
    assert.ok(pass.tally.query_log.upserted >= 1);
    await verify({ source, connectionString: url });
  });

  it("fails the verification when PostgreSQL differs", async () => {
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    await db.query("UPDATE documents SET title = title || '!' WHERE id = (SELECT min(id) FROM documents)");
    await db.end();
    await assert.rejects(verify({ source, connectionString: url }), /documents: D1 has \d+ rows/);
  });
});

// Early refusals through `wrangler dev` itself (what `npm run dev` serves): its proxy forwards the
// request body as a stream, and a Worker that answers without reading or cancelling the body had
// its response held until the body ended — an anonymous client could hold connections open for
// minutes. Raw sockets, so that no client library finishes the body for us.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";

const root = path.resolve(import.meta.dirname, "../..");

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Sends `head` and 10 bytes of a 500,000-byte body, never the rest; the status line and how long it
 * took. Real time on purpose: what is tested is that the answer does not wait for the body, so the
 * 5 s bound is the measurement, not a pause.
 */
function unfinished(port, head, waitMs = 5_000) {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, "127.0.0.1", () => socket.write(`${head}0123456789`));
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ status: 0, ms: Date.now() - started });
    }, waitMs);
    socket.on("data", (chunk) => {
      text += chunk;
      if (text.includes("\r\n")) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ status: Number(text.split(" ")[1]), ms: Date.now() - started });
      }
    });
    socket.on("error", () => undefined);
  });
}

/**
 * Sends `head` and then `size` bytes of body as fast as the socket takes them, whatever comes back
 * (as most clients do), in chunked framing if `chunked`; the status it read ("reset" if the
 * connection died first, the runtime's own 500 carries a stack trace).
 */
function unpaced(port, head, size, chunked) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    let failure = "";
    socket.on("data", (chunk) => {
      text += chunk;
    });
    socket.on("error", (error) => {
      failure = error.code;
    });
    socket.on("close", () => resolve(Number(text.split(" ")[1]) || failure || "closed"));
    socket.on("connect", async () => {
      socket.write(head);
      const piece = Buffer.alloc(64 * 1024, 120);
      const framed = chunked ? Buffer.concat([Buffer.from("10000\r\n"), piece, Buffer.from("\r\n")]) : piece;
      for (let sent = 0; sent < size && !socket.destroyed; sent += piece.length) {
        if (!socket.write(framed)) {
          await new Promise((r) => socket.once("drain", r).once("close", r));
        }
      }
      if (chunked && !socket.destroyed) {
        socket.write("0\r\n\r\n");
      }
      // A response arrives within moments of the body's end, or the test counts it lost.
      setTimeout(() => socket.destroy(), 3_000);
      socket.on("data", () => setImmediate(() => socket.destroy()));
    });
  });
}

/** A JSON (or bytes) client of a served Worker: `call(method, route, token, body)` → { status, body }. */
function client(base) {
  return async (method, route, token, body) => {
    const res = await fetch(`${base}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return {
      status: res.status,
      body: res.headers.get("content-type")?.includes("json") ? await res.json() : await res.arrayBuffer(),
    };
  };
}

/** A tenant, a collection and one ready document about paid vacation, through the served API. */
async function handbook(call, name) {
  const { body: created } = await call("POST", "/v1/admin/tenants", "dev-admin-token-change-me", { name });
  const key = created.api_key.key;
  const { body: collection } = await call("POST", "/v1/collections", key, { name: "handbook" });
  const { body: doc } = await call("POST", `/v1/collections/${collection.id}/documents`, key, {
    title: "Leave",
    text: "Employees receive twenty five days of paid vacation every year.",
    priority: "high",
  });
  // Polling the served API: real time, as a client of `npm run dev` waits.
  for (let i = 0; i < 100 && (await call("GET", `/v1/documents/${doc.id}`, key)).body.status !== "ready"; i++) {
    await new Promise((r) => setTimeout(r, 200));
  }
  return { key, collection, doc };
}

/** Starts a dev server (`args` after this Node) and resolves once it says "Ready on" (≤ 90 s). */
async function serve(args, env = {}) {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start in 90 s:\n${output}`)), 90_000);
    const watch = (chunk) => {
      output += chunk;
      if (/Ready on/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", watch);
    child.stderr.on("data", watch);
    child.once("exit", (code) => reject(new Error(`${args[0]} exited ${code}:\n${output}`)));
  });
  return child;
}

describe("wrangler dev", () => {
  let dev;
  let port;
  const admin = "dev-server-test-admin";
  // Its own local state, migrated first (a fresh clone has none): the 413 test needs a tenant.
  const state = mkdtempSync(path.join(tmpdir(), "edgerag-wrangler-dev-"));
  before(async () => {
    port = await freePort();
    const wrangler = path.join(root, "node_modules", "wrangler", "bin", "wrangler.js");
    // This Node (the project's), not whichever `node` is first on PATH.
    const migrate = spawnSync(
      process.execPath,
      [wrangler, "d1", "migrations", "apply", "DB", "--local", "--persist-to", state],
      {
        cwd: root,
        env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
        encoding: "utf8",
      },
    );
    assert.equal(migrate.status, 0, `migrations: ${migrate.stdout}${migrate.stderr}`);
    dev = await serve([
      wrangler,
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--persist-to",
      state,
      "--var",
      `ADMIN_TOKEN:${admin}`,
    ]);
  });
  after(() => {
    dev?.kill("SIGTERM");
    rmSync(state, { recursive: true, force: true });
  });

  const post = (route, extra = "") =>
    `POST ${route} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${extra}Content-Length: 500000\r\n\r\n`;
  for (const [name, head, status] of [
    ["401 without a key", post("/v1/collections"), 401],
    ["401 with a wrong key", post("/v1/collections", "Authorization: Bearer erk_nope_nope\r\n"), 401],
    ["404 for an unknown route", post("/v1/nothing-here"), 404],
    ["405 for a wrong method", post("/health/live"), 405],
  ]) {
    it(`answers ${name} at once while the body is still arriving`, async () => {
      const res = await unfinished(port, head);
      assert.equal(res.status, status, `no ${status} within 5 s (took ${res.ms} ms)`);
      assert.ok(res.ms < 2_000, `the ${status} took ${res.ms} ms`);
    });
  }

  // A runtime cannot read a body after it has answered, and closing a connection the client is
  // still sending on resets it, the 413 with it: the body is drained first (issue 23, item 5).
  it("delivers the 413 to clients that send an over-limit body without pausing", { timeout: 120_000 }, async () => {
    const created = await fetch(`http://127.0.0.1:${port}/v1/admin/tenants`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "limits" }),
    });
    const body = await created.json();
    assert.equal(created.status, 201, JSON.stringify(body));
    const key = body.api_key.key;
    const size = 3 * 1024 * 1024; // the JSON limit is 1 MiB
    const head = (framing) =>
      `POST /v1/collections HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${key}\r\n` +
      `Content-Type: application/json\r\n${framing}\r\n`;
    for (const [framing, chunked] of [
      [`Content-Length: ${size}\r\n`, false],
      ["Transfer-Encoding: chunked\r\n", true],
    ]) {
      const seen = {};
      for (let i = 0; i < 30; i++) {
        const status = await unpaced(port, head(framing), size, chunked);
        seen[status] = (seen[status] ?? 0) + 1;
      }
      assert.ok((seen[413] ?? 0) >= 29, `${framing.split(":")[0]}: ${JSON.stringify(seen)} of 30`);
    }
  });
});

describe("npm run dev on a machine whose browser cache is empty", () => {
  let dev;
  let base;
  const state = mkdtempSync(path.join(tmpdir(), "edgerag-dev-state-"));
  const cache = mkdtempSync(path.join(tmpdir(), "edgerag-dev-cache-"));
  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // An empty cache: what Miniflare's Browser Rendering finds there is what scripts/dev.mjs put.
    dev = await serve(
      [path.join(root, "scripts", "dev.mjs"), "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state],
      { XDG_CACHE_HOME: cache },
    );
  });
  after(() => {
    dev?.kill("SIGTERM");
    rmSync(state, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  });

  it("renders a PDF export of an answer", { timeout: 120_000 }, async () => {
    const call = client(base);
    const { key, collection } = await handbook(call, "dev");
    const { status, body: queued } = await call("POST", "/v1/exports", key, {
      kind: "query",
      query: "How many days of paid vacation?",
      collection_ids: [collection.id],
    });
    assert.equal(status, 202);
    let exported;
    // Polling the served API again: the export renders in the dev server's own queue consumer.
    for (let i = 0; i < 240; i++) {
      exported = (await call("GET", `/v1/exports/${queued.id}`, key)).body;
      if (exported.status === "ready" || exported.status === "failed") {
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(exported.status, "ready", `export: ${JSON.stringify(exported)}`);
    const file = await call("GET", `/v1/exports/${queued.id}/file`, key);
    assert.equal(file.status, 200);
    assert.equal(Buffer.from(file.body).subarray(0, 5).toString(), "%PDF-");
  });
});

describe("npm run dev with DATABASE_PROVIDER=hyperdrive", { skip: process.env.EDGERAG_NO_POSTGRES === "1" }, () => {
  let dev;
  let base;
  let database;
  const state = mkdtempSync(path.join(tmpdir(), "edgerag-dev-pg-"));
  before(async () => {
    const { temporaryDatabase } = await import("../../scripts/lib/postgres.mjs");
    // A database of its own, left empty: the dev script migrates it.
    database = await temporaryDatabase("edgerag_dev");
    const pg = (await import("pg")).default;
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public; DROP SCHEMA drizzle CASCADE");
    await client.end();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    dev = await serve(
      [path.join(root, "scripts", "dev.mjs"), "--ip", "127.0.0.1", "--port", String(port), "--persist-to", state],
      { DATABASE_PROVIDER: "hyperdrive", CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: database.url },
    );
  });
  after(async () => {
    dev?.kill("SIGTERM");
    await new Promise((resolve) => (dev ? dev.once("exit", resolve) : resolve()));
    rmSync(state, { recursive: true, force: true });
    await database?.drop();
  });

  it("migrates, serves on PostgreSQL, and answers from a document uploaded through it", {
    timeout: 90_000,
  }, async () => {
    const call = client(base);
    const ready = await call("GET", "/health/ready");
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.equal(ready.body.checks.postgres.status, "ok");
    const { key, collection, doc } = await handbook(call, "pg");
    const { body: answer } = await call("POST", "/v1/query", key, {
      query: "How many days of paid vacation?",
      collection_ids: [collection.id],
    });
    assert.match(answer.answer, /twenty five days/);
    // The rows are in PostgreSQL.
    const pg = (await import("pg")).default;
    const direct = new pg.Client({ connectionString: database.url });
    await direct.connect();
    const { rows } = await direct.query("SELECT status, chunk_count FROM documents WHERE id = $1", [doc.id]);
    await direct.end();
    assert.deepEqual(rows, [{ status: "ready", chunk_count: "1" }]);
  });
});

// Serves the built Worker with Miniflare's API directly (no wrangler dev proxy, no request logs),
// with local D1 (migrated), or PostgreSQL, and the Durable Objects from wrangler.toml. Used by the
// benchmarks.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { d1Like, temporaryDatabase } from "./postgres.mjs";

const root = path.resolve(import.meta.dirname, "../..");

/**
 * Bundles src/ with wrangler (as a deploy would) into a temporary folder; returns the entry file.
 * EDGERAG_WORKER_BUILD names a bundle already built from the same tree (CI and `npm test` build
 * once and pass it to every step and script they run), which is used instead.
 */
export function buildWorker() {
  const prebuilt = process.env.EDGERAG_WORKER_BUILD;
  if (prebuilt && existsSync(prebuilt)) {
    return prebuilt;
  }
  const outdir = mkdtempSync(path.join(tmpdir(), "edgerag-build-"));
  const result = spawnSync("wrangler", ["deploy", "--dry-run", "--outdir", outdir], {
    cwd: root,
    encoding: "utf8",
  });
  if (result.status !== 0) {
    throw new Error(`wrangler build failed:\n${result.stdout}\n${result.stderr}`);
  }
  return path.join(outdir, "index.js");
}

function wranglerSetting(name) {
  const toml = readFileSync(path.join(root, "wrangler.toml"), "utf8");
  const match = new RegExp(`^${name}\\s*=\\s*(.+)$`, "m").exec(toml);
  if (!match) {
    throw new Error(`wrangler.toml has no ${name}`);
  }
  return JSON.parse(match[1]);
}

/**
 * Starts Miniflare on a free loopback port; returns { url, mf, store, db, close }. `store` is the
 * relational store: "d1" (local D1) or "postgres" (a throwaway database on the local cluster,
 * through a Hyperdrive binding, DATABASE_PROVIDER=hyperdrive); `db` reads and writes it from here
 * (D1's interface either way: scripts/lib/postgres.mjs `d1Like`). `close()` disposes of all.
 */
export async function serveWorker({ scriptPath, bindings = {}, inspectorPort, store = "d1" }) {
  const postgres = store === "postgres" ? await temporaryDatabase("edgerag_bench") : undefined;
  // Miniflare 5 takes a new options shape; the classic (v4) one converts into it.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      cf: false,
      // For profiling (Chrome DevTools protocol); off unless asked for.
      ...(inspectorPort ? { inspectorPort } : {}),
      workers: [
        {
          name: "edgerag",
          modules: true,
          scriptPath,
          modulesRoot: path.dirname(scriptPath),
          compatibilityDate: wranglerSetting("compatibility_date"),
          compatibilityFlags: wranglerSetting("compatibility_flags"),
          d1Databases: { DB: "bench" },
          // Through the local pool (PgBouncer standing in for Hyperdrive's).
          ...(postgres ? { hyperdrives: { HYPERDRIVE: postgres.pooled } } : {}),
          durableObjects: {
            RATE_LIMITER: { className: "RateLimiter", useSQLite: true },
            VECTOR_SHARD: { className: "VectorShard", useSQLite: true },
            NOTIFICATION_HUB: { className: "NotificationHub", useSQLite: true },
          },
          r2Buckets: ["BLOBS"],
          kvNamespaces: ["OAUTH_KV"],
          // As wrangler.toml's [assets]: Swagger UI's files, the Worker first for every request.
          assets: {
            directory: path.join(root, "node_modules/swagger-ui-dist"),
            binding: "ASSETS",
            routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true },
          },
          // Browser Rendering with Miniflare's local Chrome (Debian's chromium: scripts/setup-browser.mjs).
          browserRendering: { binding: "BROWSER" },
          queueProducers: {
            INGEST_HIGH: "edgerag-ingest-high",
            INGEST: "edgerag-ingest",
            NOTIFY: "edgerag-notify",
            WEBHOOKS: "edgerag-webhooks",
            EXPORTS: "edgerag-exports",
          },
          queueConsumers: {
            "edgerag-ingest-high": {
              maxBatchSize: 5,
              maxBatchTimeout: 1,
              maxRetries: 4,
              deadLetterQueue: "edgerag-ingest-dlq",
            },
            "edgerag-ingest": {
              maxBatchSize: 100,
              maxBatchTimeout: 1,
              maxRetries: 4,
              deadLetterQueue: "edgerag-ingest-dlq",
            },
            "edgerag-ingest-dlq": { maxBatchSize: 10, maxBatchTimeout: 1 },
            "edgerag-notify": { maxBatchSize: 100, maxBatchTimeout: 1, maxRetries: 100 },
            "edgerag-exports": { maxBatchSize: 1, maxBatchTimeout: 1, maxConcurrency: 2, maxRetries: 5 },
            "edgerag-webhooks": { maxBatchSize: 100, maxBatchTimeout: 1, maxRetries: 10 },
          },
          bindings: {
            ADMIN_TOKEN: "bench-admin-token",
            ENCRYPTION_KEYS: `v1:${Buffer.alloc(32, 7).toString("base64")}`,
            LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
            ...(postgres ? { DATABASE_PROVIDER: "hyperdrive" } : {}),
            ...bindings,
          },
        },
      ],
    }),
  );
  const url = await mf.ready;
  const db = await mf.getD1Database("DB");
  const dir = path.join(root, "migrations");
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()) {
    for (const statement of readFileSync(path.join(dir, file), "utf8").split("--> statement-breakpoint")) {
      if (statement.trim()) {
        await db.prepare(statement).run();
      }
    }
  }
  const handle = postgres ? await d1Like(postgres.url) : db;
  const close = async () => {
    await mf.dispose();
    if (postgres) {
      await handle.end();
      await postgres.drop();
    }
  };
  return { url: url.toString().replace(/\/$/, ""), mf, store, db: handle, close };
}

/** The OpenAPI document the built Worker serves (what clients and SDK generators read), as text. */
export async function servedOpenApi() {
  const { url, mf } = await serveWorker({ scriptPath: buildWorker() });
  try {
    const res = await fetch(`${url}/openapi.json`);
    if (!res.ok) {
      throw new Error(`GET /openapi.json -> ${res.status}`);
    }
    return await res.text();
  } finally {
    await mf.dispose();
  }
}

/**
 * A control Worker in its own Miniflare (same runtime, same compatibility settings): `GET /` answers
 * at once, `GET /d1` runs one `SELECT 1` on a local D1. Their ratio is the floor the simulator
 * puts under any route that reads D1 once, measured alongside the real one.
 */
export async function serveControl() {
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      cf: false,
      workers: [
        {
          name: "control",
          modules: true,
          compatibilityDate: wranglerSetting("compatibility_date"),
          compatibilityFlags: wranglerSetting("compatibility_flags"),
          d1Databases: { DB: "control" },
          script: `export default {
            async fetch(request, env) {
              if (new URL(request.url).pathname === "/d1") {
                const { results } = await env.DB.prepare("SELECT 1 AS one").all();
                return Response.json(results);
              }
              return Response.json({ status: "ok" });
            },
          };`,
        },
      ],
    }),
  );
  const url = await mf.ready;
  return { url: url.toString().replace(/\/$/, ""), mf };
}

#!/usr/bin/env node
// `npm run bench:dashboard`: p50/p95 of GET /v1/dashboard with 10^5 and then 10^6 query-log rows
// (one tenant, 30 days, three modes, five collections), after the cron's rollup job, which is
// timed too. The control in the same run: GET /v1/collections with the same key (one D1 read).
// Writes bench/results/dashboard.json.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { api, newTenant, percentile } from "./lib/notify-clients.mjs";
import { buildWorker, serveWorker } from "./lib/serve.mjs";

const root = path.resolve(import.meta.dirname, "..");
const DAY = 86_400_000;
const REQUESTS = 100;
const args = process.argv.slice(2);
/** The relational store: d1 (default) or postgres (DATABASE_PROVIDER=hyperdrive, the local cluster). */
const store = args.includes("--store") ? args[args.indexOf("--store") + 1] : "d1";

const { url, mf, db, close } = await serveWorker({
  store,
  scriptPath: buildWorker(),
  bindings: {
    LOG_LEVEL: "error",
    RATE_LIMIT_TIERS: JSON.stringify({ standard: { limit: 1_000_000, window_s: 60 } }),
  },
});
const worker = await mf.getWorker();

async function seed(tenantId, collections, count, offset) {
  const now = Date.now();
  const modes = ["fast", "balanced", "deep"];
  for (let i = 0; i < count; i += 1_000) {
    const rows = [];
    for (let k = i; k < Math.min(count, i + 1_000); k++) {
      const n = offset + k;
      const mode = modes[n % 3];
      const ms = Math.round(Math.exp(2 + (n % 97) / 20 + (mode === "deep" ? 1.5 : 0)) * 10) / 10;
      rows.push([
        `qry_b${n}`,
        tenantId,
        mode,
        `h${n % 500}`,
        `question ${n % 500}`,
        { collection_ids: [collections[n % 5]], top_k: 5, filter: null },
        n % 50 === 0 ? 429 : n % 97 === 0 ? 504 : 200,
        n % 3 === 0,
        [],
        { total_ms: ms },
        now - Math.floor((((n * 7919) % 1_000_003) / 1_000_003) * 30 * DAY),
      ]);
    }
    // Written in each store's own SQL (SQLite keeps JSON as text and booleans as 0/1).
    const columns = `INSERT INTO query_log (id, tenant_id, key_id, mode, query_hash, query_text, params, status,
      cache_hit, degraded, timings, result_count, created_at)`;
    if (store === "postgres") {
      await db.query(
        `${columns} SELECT v ->> 0, v ->> 1, NULL, v ->> 2, v ->> 3, v ->> 4, v -> 5, (v ->> 6)::bigint,
           (v ->> 7)::boolean, v -> 8, v -> 9, 0, (v ->> 10)::bigint FROM jsonb_array_elements($1::jsonb) AS t(v)`,
        [JSON.stringify(rows)],
      );
    } else {
      await db
        .prepare(
          `${columns} SELECT value ->> 0, value ->> 1, NULL, value ->> 2, value ->> 3, value ->> 4, value -> 5,
             value ->> 6, value ->> 7, value -> 8, value -> 9, 0, value ->> 10 FROM json_each(?)`,
        )
        .bind(JSON.stringify(rows))
        .run();
    }
  }
}

async function timed(token, pathname) {
  const samples = [];
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now();
    const res = await api(url, "GET", pathname, { token });
    if (res.status !== 200) {
      throw new Error(`${pathname}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    }
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { p50: Number(percentile(samples, 50).toFixed(1)), p95: Number(percentile(samples, 95).toFixed(1)) };
}

try {
  const tenant = await newTenant(url, "dashboard-bench");
  // Real collections: the dashboard answers 404 for a collection the tenant does not have.
  const collections = [];
  for (let i = 0; i < 5; i++) {
    const created = await api(url, "POST", "/v1/collections", { token: tenant.key, body: { name: `c${i}` } });
    if (created.status !== 201) {
      throw new Error(`collection: ${created.status} ${JSON.stringify(created.body)}`);
    }
    collections.push(created.body.id);
  }
  const results = [];
  let seeded = 0;
  for (const rows of [100_000, 1_000_000]) {
    const started = performance.now();
    await seed(tenant.id, collections, rows - seeded, seeded);
    seeded = rows;
    const seedS = (performance.now() - started) / 1000;
    // The cron handler (rollup, sweeps, warming); the first run folds every day of the log.
    await db.prepare("DELETE FROM job_state").run();
    const rollupStarted = performance.now();
    await worker.scheduled({ cron: "*/5 * * * *" });
    const rollupS = (performance.now() - rollupStarted) / 1000;
    const againStarted = performance.now();
    await worker.scheduled({ cron: "*/5 * * * *" });
    const incrementalS = (performance.now() - againStarted) / 1000;
    const to = new Date().toISOString();
    const from30 = new Date(Date.now() - 30 * DAY).toISOString();
    const from90 = new Date(Date.now() - 90 * DAY).toISOString();
    const result = {
      rows,
      seed_s: Number(seedS.toFixed(1)),
      rollup_full_s: Number(rollupS.toFixed(2)),
      rollup_incremental_s: Number(incrementalS.toFixed(2)),
      dashboard_30d_hourly_ms: await timed(tenant.key, `/v1/dashboard?from=${from30}&to=${to}&bucket=hour`),
      dashboard_90d_daily_ms: await timed(tenant.key, `/v1/dashboard?from=${from90}&to=${to}&bucket=day`),
      dashboard_7d_one_collection_ms: await timed(tenant.key, `/v1/dashboard?collection_id=${collections[1]}`),
      control_collections_ms: await timed(tenant.key, "/v1/collections"),
    };
    // Every seeded row is within 30 days of when it was written: a 90-day period counts them all.
    const check = (await api(url, "GET", `/v1/dashboard?from=${from90}&to=${to}&bucket=day`, { token: tenant.key }))
      .body;
    result.queries_counted = check.totals.queries + check.totals.rate_limited;
    console.log(JSON.stringify(result));
    results.push(result);
  }
  mkdirSync(path.join(root, "bench", "results"), { recursive: true });
  writeFileSync(
    path.join(root, "bench", "results", `dashboard-${store}.json`),
    `${JSON.stringify({ date: new Date().toISOString(), store, results }, null, 2)}\n`,
  );
  console.log(`wrote bench/results/dashboard-${store}.json`);
} finally {
  await close();
}

#!/usr/bin/env node
// `npm run bench:stores [-- --benches http,query,ingest,dashboard --rounds 1]`: the relational
// stores side by side. Each benchmark runs on D1 and then on PostgreSQL (DATABASE_PROVIDER=
// hyperdrive over the local cluster: `npm run setup:postgres`, started when needed), `rounds` times,
// alternating, in this one run; each keeps its own in-run control. Prints the figures the issue
// sets targets on and writes bench/results/stores-<time>.json:
//   http       authenticated/baseline ratio and store calls per warm request (PostgreSQL within 10 % of D1; 0 calls)
//   query      p95 per mode, cache misses and hits, server-side (within 10 % of D1)
//   ingest     chunks/s, upload to last ready (within 10 % of D1)
//   dashboard  30 days hourly at 10^6 query-log rows, p95 (≤ 150 ms on PostgreSQL)
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildWorker } from "./lib/serve.mjs";

const root = path.resolve(import.meta.dirname, "..");
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : fallback);
const benches = option("benches", "http,query,ingest,dashboard").split(",");
const rounds = Number(option("rounds", "1"));
const STORES = ["d1", "postgres"];

/** Each benchmark's command for a store, and the figures taken from the JSON it writes. */
const BENCHES = {
  http: {
    args: ["scripts/bench-http.mjs", "--sustain-seconds", "0", "--runs", "3", "--seconds", "6"],
    figures: (r) => ({
      ratio: r.ratio,
      authenticated_rps: r.authenticated.rps,
      baseline_rps: r.baseline.rps,
      store_calls_per_warm_request: r.authenticated.d1_per_request,
      listing_rps: r.listing.rps,
    }),
  },
  query: {
    args: ["scripts/bench-query.mjs", "--queries", "100"],
    figures: (r) =>
      Object.fromEntries(
        Object.entries(r.modes).flatMap(([mode, phases]) => [
          [`${mode}_miss_p95_ms`, phases.miss.server_p95_ms],
          [`${mode}_hit_p95_ms`, phases.hit.server_p95_ms],
        ]),
      ),
  },
  ingest: {
    args: ["scripts/bench-ingest.mjs", "--limit-docs", "2000"],
    figures: (r) => ({ chunks_per_s: r.chunks_per_s, documents_per_s: r.documents_per_s, chunks: r.chunks }),
  },
  dashboard: {
    args: ["scripts/bench-dashboard.mjs"],
    figures: (r) => {
      const big = r.results.at(-1);
      return {
        rows: big.rows,
        hourly_30d_p95_ms: big.dashboard_30d_hourly_ms.p95,
        daily_90d_p95_ms: big.dashboard_90d_daily_ms.p95,
        one_collection_p95_ms: big.dashboard_7d_one_collection_ms.p95,
        control_p95_ms: big.control_collections_ms.p95,
        rollup_full_s: big.rollup_full_s,
      };
    },
  },
};

process.env.EDGERAG_WORKER_BUILD ??= buildWorker();
const report = { when: new Date().toISOString(), rounds, results: {} };
for (const name of benches) {
  const bench = BENCHES[name];
  if (!bench) {
    console.error(`bench:stores: unknown benchmark ${name} (${Object.keys(BENCHES).join(", ")})`);
    process.exit(2);
  }
  report.results[name] = { d1: [], postgres: [] };
  for (let round = 0; round < rounds; round++) {
    for (const store of STORES) {
      console.log(`\n=== ${name} on ${store} (round ${round + 1}/${rounds}) ===`);
      const run = spawnSync(process.execPath, [...bench.args, "--store", store], {
        cwd: root,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
        maxBuffer: 256 * 1024 * 1024,
      });
      process.stdout.write(run.stdout.split("\n").slice(-25).join("\n"));
      const file = /(?:wrote|written to) (\S+\.json)/.exec(run.stdout)?.[1];
      if (run.status !== 0 || !file) {
        console.error(`bench:stores: ${name} on ${store} failed (exit ${run.status})`);
        process.exit(1);
      }
      report.results[name][store].push(bench.figures(JSON.parse(readFileSync(path.resolve(root, file), "utf8"))));
    }
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
console.log("\n=== bench:stores: PostgreSQL against D1, same run (medians of rounds) ===");
report.summary = {};
for (const [name, byStore] of Object.entries(report.results)) {
  for (const key of Object.keys(byStore.d1[0])) {
    const d1 = median(byStore.d1.map((f) => f[key]));
    const pg = median(byStore.postgres.map((f) => f[key]));
    report.summary[`${name}.${key}`] = { d1, postgres: pg, ratio: d1 === 0 ? null : pg / d1 };
    console.log(
      `${`${name}.${key}`.padEnd(42)} d1 ${String(Number(d1.toFixed(3))).padStart(10)}  postgres ${String(Number(pg.toFixed(3))).padStart(10)}  ${d1 === 0 ? "" : `×${(pg / d1).toFixed(2)}`}`,
    );
  }
}
mkdirSync(path.join(root, "bench", "results"), { recursive: true });
const file = path.join("bench", "results", `stores-${report.when.replace(/[:.]/g, "-")}.json`);
writeFileSync(path.join(root, file), `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${file}`);

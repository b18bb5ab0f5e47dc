#!/usr/bin/env node
// `npm run bench:http`: HTTP overhead of the platform layer (auth + global rate limit + logging),
// measured against a baseline in the same run. Serves the built Worker with Miniflare directly and
// drives it with wrk (closed loop) and hey (open loop, rate-capped) on loopback.
//
//   baseline:      GET /health/live            (no auth, no limiter)
//   authenticated: GET /v1/api-keys            (key verified, DO rate limiter, one D1 query)
//   floor:         a bare Worker's one D1 query over its own hello route, in a second Miniflare —
//                  what the local D1 simulator alone costs any route that reads D1 once
//
// Prints req/s, p50 and p99 (medians of 3 runs each, interleaved) and the ratio, then holds
// 1,000 req/s for 60 s on the authenticated route and reports errors and p99.
// Writes bench/results/http-<timestamp>.json. Targets: ratio >= 0.6; 1,000 req/s with 0 errors.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildWorker, serveControl, serveWorker } from "./lib/serve.mjs";
import { median, wrk } from "./lib/wrk.mjs";

const args = new Map(
  process.argv.slice(2).flatMap((a, i, all) => (a.startsWith("--") ? [[a.slice(2), all[i + 1]]] : [])),
);
const RUN_SECONDS = Number(args.get("seconds") ?? 8);
const RUNS = Number(args.get("runs") ?? 3);
const CONNECTIONS = Number(args.get("connections") ?? 32);
const SUSTAIN_SECONDS = Number(args.get("sustain-seconds") ?? 60);
const SUSTAIN_RPS = Number(args.get("sustain-rps") ?? 1000);

for (const tool of ["wrk", "hey"]) {
  if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) {
    console.error(`${tool} is required: apt-get install -y ${tool}`);
    process.exit(2);
  }
}

const wrkRun = (url, headers = []) => wrk(url, { headers, connections: CONNECTIONS, seconds: RUN_SECONDS });

const summarize = (runs) => ({
  rps: median(runs.map((r) => r.rps)),
  p50_ms: median(runs.map((r) => r.p50_ms)),
  p99_ms: median(runs.map((r) => r.p99_ms)),
  non2xx: runs.reduce((s, r) => s + r.non2xx, 0),
  runs,
});

function hey(url, headers) {
  const workers = 50;
  const hdr = headers.flatMap((h) => ["-H", h]);
  const out = spawnSync(
    "hey",
    ["-z", `${SUSTAIN_SECONDS}s`, "-c", String(workers), "-q", String(SUSTAIN_RPS / workers), ...hdr, url],
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
  ).stdout;
  const statuses = [...out.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)].map((m) => [Number(m[1]), Number(m[2])]);
  const ok = statuses.filter(([s]) => s === 200).reduce((s, [, n]) => s + n, 0);
  const bad = statuses.filter(([s]) => s !== 200).reduce((s, [, n]) => s + n, 0);
  const errorLines = out.split("Error distribution:")[1]?.trim().split("\n").filter(Boolean) ?? [];
  const transportErrors = errorLines.reduce((s, line) => s + Number(/\[(\d+)\]/.exec(line)?.[1] ?? 0), 0);
  const p = (q) => Number(new RegExp(`${q}% in ([\\d.]+) secs`).exec(out)?.[1]) * 1000;
  return {
    target_rps: SUSTAIN_RPS,
    seconds: SUSTAIN_SECONDS,
    achieved_rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    ok,
    errors: bad + transportErrors,
    status_codes: Object.fromEntries(statuses),
    p50_ms: p(50),
    p99_ms: p(99),
  };
}

console.log("building the Worker …");
const scriptPath = buildWorker();
const control = await serveControl();
const { url, mf } = await serveWorker({
  scriptPath,
  bindings: { RATE_LIMIT_TIERS: JSON.stringify({ standard: { limit: 1_000_000, window_s: 60 } }) },
});
try {
  const created = await fetch(`${url}/v1/admin/tenants`, {
    method: "POST",
    headers: { Authorization: "Bearer bench-admin-token", "Content-Type": "application/json" },
    body: JSON.stringify({ name: "bench" }),
  }).then((r) => r.json());
  const auth = [`Authorization: Bearer ${created.api_key.key}`];
  const check = await fetch(`${url}/v1/api-keys`, { headers: { Authorization: `Bearer ${created.api_key.key}` } });
  if (check.status !== 200) {
    throw new Error(`authenticated route answered ${check.status}`);
  }

  console.log(`serving on ${url}; warming up …`);
  wrkRun(`${url}/health/live`);
  wrkRun(`${url}/v1/api-keys`, auth);

  const base = [];
  const authed = [];
  const bare = [];
  const bareD1 = [];
  for (let i = 0; i < RUNS; i++) {
    base.push(wrkRun(`${url}/health/live`));
    authed.push(wrkRun(`${url}/v1/api-keys`, auth));
    bare.push(wrkRun(`${control.url}/`));
    bareD1.push(wrkRun(`${control.url}/d1`));
    console.log(
      `run ${i + 1}/${RUNS}: baseline ${base[i].rps.toFixed(0)} req/s, authenticated ${authed[i].rps.toFixed(0)} req/s, ` +
        `bare ${bare[i].rps.toFixed(0)} req/s, bare + one D1 query ${bareD1[i].rps.toFixed(0)} req/s`,
    );
  }
  const baseline = summarize(base);
  const authenticated = summarize(authed);
  const ratio = authenticated.rps / baseline.rps;
  const floor = { bare: summarize(bare), d1: summarize(bareD1) };
  const floorRatio = floor.d1.rps / floor.bare.rps;

  console.log(`\nsustaining ${SUSTAIN_RPS} req/s for ${SUSTAIN_SECONDS} s on GET /v1/api-keys (hey, open loop) …`);
  const sustained = hey(`${url}/v1/api-keys`, auth);

  const fmt = (r) =>
    `${r.rps.toFixed(0).padStart(7)} req/s   p50 ${r.p50_ms.toFixed(2)} ms   p99 ${r.p99_ms.toFixed(2)} ms`;
  console.log(`\n=== bench:http (wrk -t2 -c${CONNECTIONS}, ${RUN_SECONDS}s x ${RUNS}, medians) ===`);
  console.log(`baseline       GET /health/live  ${fmt(baseline)}`);
  console.log(`authenticated  GET /v1/api-keys  ${fmt(authenticated)}`);
  console.log(`ratio authenticated/baseline: ${ratio.toFixed(2)}  (target >= 0.60) ${ratio >= 0.6 ? "PASS" : "FAIL"}`);
  console.log(
    `floor: a bare Worker with one D1 query runs at ${floorRatio.toFixed(2)} of the same Worker without it ` +
      `(${floor.d1.rps.toFixed(0)} / ${floor.bare.rps.toFixed(0)} req/s); our route reaches ${(ratio / floorRatio).toFixed(2)} of that floor`,
  );
  console.log(
    `sustained: ${sustained.achieved_rps.toFixed(0)} req/s for ${SUSTAIN_SECONDS} s, errors ${sustained.errors}, ` +
      `p50 ${sustained.p50_ms.toFixed(2)} ms, p99 ${sustained.p99_ms.toFixed(2)} ms  ` +
      `(target ${SUSTAIN_RPS} req/s, 0 errors) ${sustained.errors === 0 && sustained.achieved_rps >= SUSTAIN_RPS * 0.98 ? "PASS" : "FAIL"}`,
  );

  const dir = path.resolve(import.meta.dirname, "../bench/results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `http-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        when: new Date().toISOString(),
        connections: CONNECTIONS,
        seconds: RUN_SECONDS,
        baseline,
        authenticated,
        ratio,
        floor: { ...floor, ratio: floorRatio },
        sustained,
      },
      null,
      2,
    ),
  );
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
} finally {
  await mf.dispose();
  await control.mf.dispose();
}

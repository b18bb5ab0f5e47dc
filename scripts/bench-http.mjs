#!/usr/bin/env node
// `npm run bench:http`: HTTP overhead of the platform layer (auth + global rate limit + logging),
// measured against a baseline in the same run. Serves the built Worker with Miniflare directly and
// drives it with wrk (closed loop) and hey (open loop, rate-capped) on loopback.
//
//   baseline:      GET /health/live            (no auth, no limiter)
//   authenticated: GET /v1/whoami              (key verified from the isolate cache, rate limiter: no D1)
//   listing:       GET /v1/api-keys            (the same, plus the one D1 query the listing is)
//   token:         GET /v1/whoami with an end-user token (ert_…: signature checked, minting key from the cache)
//   floor:         a bare Worker's one D1 query over its own hello route, in a second Miniflare —
//                  what the local D1 simulator alone costs any route that reads D1 once
//
// Prints req/s, p50 and p99 (medians of 3 runs each, interleaved), the ratio, and D1 calls per
// request on each route (the instrumented binding's count in /health/detailed, before and after
// each run: in-request and background calls together), then holds 1,000 req/s for 60 s on the
// authenticated route and reports errors and p99.
// Writes bench/results/http-<timestamp>.json. Targets: ratio >= 0.6; 1,000 req/s with 0 errors.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildWorker, serveControl, serveWorker } from "./lib/serve.mjs";
import { ensurePrograms } from "./lib/system.mjs";
import { median, wrk } from "./lib/wrk.mjs";

const args = new Map(
  process.argv.slice(2).flatMap((a, i, all) => (a.startsWith("--") ? [[a.slice(2), all[i + 1]]] : [])),
);
const RUN_SECONDS = Number(args.get("seconds") ?? 8);
const RUNS = Number(args.get("runs") ?? 3);
const CONNECTIONS = Number(args.get("connections") ?? 32);
const SUSTAIN_SECONDS = Number(args.get("sustain-seconds") ?? 60);
const SUSTAIN_RPS = Number(args.get("sustain-rps") ?? 1000);
/** The relational store: d1 (default) or postgres (DATABASE_PROVIDER=hyperdrive, the local cluster). */
const STORE = args.get("store") ?? "d1";
/** Its dependency name in /health/detailed's counters. */
const DEPENDENCY = STORE === "postgres" ? "postgres" : "d1";

// The load generators come from Debian, installed by the setup script when missing (as npm test does).
ensurePrograms(["wrk", "hey"], "bench:http");

const wrkRun = (url, headers = []) => wrk(url, { headers, connections: CONNECTIONS, seconds: RUN_SECONDS });

const summarize = (runs) => ({
  rps: median(runs.map((r) => r.rps)),
  d1_per_request: runs[0]?.d1_per_request === undefined ? undefined : median(runs.map((r) => r.d1_per_request)),
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
const { url, close } = await serveWorker({
  store: STORE,
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

  const minted = await fetch(`${url}/v1/tokens`, {
    method: "POST",
    headers: { Authorization: `Bearer ${created.api_key.key}`, "Content-Type": "application/json" },
    body: JSON.stringify({ scopes: ["query"], filter: { team: "hr" }, expires_in: 86_400 }),
  }).then((r) => r.json());
  const tokenAuth = [`Authorization: Bearer ${minted.token}`];

  console.log(`serving on ${url}; warming up …`);
  wrkRun(`${url}/v1/whoami`, tokenAuth);
  wrkRun(`${url}/health/live`);
  wrkRun(`${url}/v1/whoami`, auth);
  wrkRun(`${url}/v1/api-keys`, auth);

  /** D1 calls and requests this isolate counted so far (every route: the bench runs one at a time). */
  const counters = async (attempt = 0) => {
    let detailed;
    try {
      // A fresh connection: after a saturating run the pooled one may already be closed.
      detailed = await fetch(`${url}/health/detailed`, {
        headers: { Authorization: "Bearer bench-admin-token", Connection: "close" },
      });
    } catch (error) {
      if (attempt < 3) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        return counters(attempt + 1);
      }
      throw error;
    }
    const { metrics } = await detailed.json();
    const requests = Object.values(metrics.routes).reduce((sum, r) => sum + r.requests, 0);
    return { d1: metrics.dependencies[DEPENDENCY]?.calls ?? 0, requests };
  };
  // Reading the counters is itself a request whose health checks read D1: measured, then subtracted.
  const first = await counters();
  const second = await counters();
  const readCost = second.d1 - first.d1;
  /** A wrk run with the D1 calls it caused per request. */
  const counted = async (target, headers) => {
    const before = await counters();
    const result = wrkRun(target, headers);
    const after = await counters();
    const requests = Math.max(1, after.requests - before.requests - 1);
    return { ...result, d1_per_request: (after.d1 - before.d1 - readCost) / requests };
  };

  const base = [];
  const authed = [];
  const listing = [];
  const tokens = [];
  const bare = [];
  const bareD1 = [];
  for (let i = 0; i < RUNS; i++) {
    base.push(await counted(`${url}/health/live`));
    authed.push(await counted(`${url}/v1/whoami`, auth));
    listing.push(await counted(`${url}/v1/api-keys`, auth));
    tokens.push(await counted(`${url}/v1/whoami`, tokenAuth));
    bare.push(wrkRun(`${control.url}/`));
    bareD1.push(wrkRun(`${control.url}/d1`));
    console.log(
      `run ${i + 1}/${RUNS}: baseline ${base[i].rps.toFixed(0)} req/s, authenticated ${authed[i].rps.toFixed(0)} req/s ` +
        `(D1 ${authed[i].d1_per_request.toFixed(4)}/req), listing ${listing[i].rps.toFixed(0)} req/s (D1 ${listing[i].d1_per_request.toFixed(3)}/req), ` +
        `token ${tokens[i].rps.toFixed(0)} req/s (D1 ${tokens[i].d1_per_request.toFixed(4)}/req), ` +
        `bare ${bare[i].rps.toFixed(0)} req/s, bare + one D1 query ${bareD1[i].rps.toFixed(0)} req/s`,
    );
  }
  const baseline = summarize(base);
  const authenticated = summarize(authed);
  const listed = summarize(listing);
  const token = summarize(tokens);
  const ratio = authenticated.rps / baseline.rps;
  const floor = { bare: summarize(bare), d1: summarize(bareD1) };
  const floorRatio = floor.d1.rps / floor.bare.rps;

  // --sustain-seconds 0 skips the open-loop part (the store comparison, npm run bench:stores).
  let sustained;
  let sustainedControl;
  if (SUSTAIN_SECONDS > 0) {
    console.log(`\nsustaining ${SUSTAIN_RPS} req/s for ${SUSTAIN_SECONDS} s on GET /v1/whoami (hey, open loop) …`);
    sustained = hey(`${url}/v1/whoami`, auth);
    // The control: the same open-loop load on the bare liveness route, in the same run.
    console.log(`… and the same on GET /health/live (the control) …`);
    sustainedControl = hey(`${url}/health/live`, []);
  }

  const fmt = (r) =>
    `${r.rps.toFixed(0).padStart(7)} req/s   p50 ${r.p50_ms.toFixed(2)} ms   p99 ${r.p99_ms.toFixed(2)} ms`;
  console.log(`\n=== bench:http (wrk -t2 -c${CONNECTIONS}, ${RUN_SECONDS}s x ${RUNS}, medians) ===`);
  console.log(`baseline       GET /health/live  ${fmt(baseline)}`);
  console.log(
    `authenticated  GET /v1/whoami    ${fmt(authenticated)}   ${DEPENDENCY} calls/request ${authenticated.d1_per_request.toFixed(4)}`,
  );
  console.log(
    `listing        GET /v1/api-keys  ${fmt(listed)}   ${DEPENDENCY} calls/request ${listed.d1_per_request.toFixed(3)}  (ratio ${(listed.rps / baseline.rps).toFixed(2)})`,
  );
  console.log(
    `token          GET /v1/whoami    ${fmt(token)}   ${DEPENDENCY} calls/request ${token.d1_per_request.toFixed(4)}  (target 0) ${token.d1_per_request < 0.001 ? "PASS" : "FAIL"}`,
  );
  console.log(`ratio authenticated/baseline: ${ratio.toFixed(2)}  (target >= 0.60) ${ratio >= 0.6 ? "PASS" : "FAIL"}`);
  console.log(
    `floor: a bare Worker with one D1 query runs at ${floorRatio.toFixed(2)} of the same Worker without it ` +
      `(${floor.d1.rps.toFixed(0)} / ${floor.bare.rps.toFixed(0)} req/s); our route reaches ${(ratio / floorRatio).toFixed(2)} of that floor`,
  );
  if (sustained) {
    console.log(
      `sustained: ${sustained.achieved_rps.toFixed(0)} req/s for ${SUSTAIN_SECONDS} s, errors ${sustained.errors}, ` +
        `p50 ${sustained.p50_ms.toFixed(2)} ms, p99 ${sustained.p99_ms.toFixed(2)} ms  ` +
        `(target ${SUSTAIN_RPS} req/s, 0 errors) ${sustained.errors === 0 && sustained.achieved_rps >= SUSTAIN_RPS * 0.98 ? "PASS" : "FAIL"}`,
    );

    console.log(
      `control:   ${sustainedControl.achieved_rps.toFixed(0)} req/s on GET /health/live under the same load, errors ${sustainedControl.errors}, ` +
        `p99 ${sustainedControl.p99_ms.toFixed(2)} ms: what this machine serves at all`,
    );
  }

  const dir = path.resolve(import.meta.dirname, "../bench/results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `http-${STORE}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        when: new Date().toISOString(),
        store: STORE,
        connections: CONNECTIONS,
        seconds: RUN_SECONDS,
        baseline,
        authenticated,
        listing: listed,
        token,
        ratio,
        floor: { ...floor, ratio: floorRatio },
        sustained,
        sustained_control: sustainedControl,
      },
      null,
      2,
    ),
  );
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
} finally {
  await close();
  await control.mf.dispose();
}

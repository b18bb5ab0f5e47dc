#!/usr/bin/env node
// `npm run bench:webhooks [-- --events N]`: webhook delivery through the queue of the built Worker
// (Miniflare) to a receiver in this process. Two endpoints of one tenant get the same N events:
// one always answers 204; the other fails 50 % of its requests at random, so it runs on the retry
// schedule (compressed here to 1 s steps, 12 attempts; production waits 5 s … 10 h, 8 attempts).
// Reports deliveries/s, events lost (never answered 2xx), duplicates (an event received again after
// a 2xx: what at-least-once allows), attempts per event, and the gaps between attempts.
// Writes bench/results/webhooks.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { api, newTenant, percentile, until } from "./lib/notify-clients.mjs";
import { buildWorker, serveWorker } from "./lib/serve.mjs";

const root = path.resolve(import.meta.dirname, "..");
const i = process.argv.indexOf("--events");
const EVENTS = i > 0 ? Number(process.argv[i + 1]) : 200;
const SCHEDULE = [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];

/** Per endpoint and webhook-id: the time of every request, and whether a 2xx was already given. */
const seen = { ok: new Map(), flaky: new Map() };
const receiver = createServer((req, res) => {
  const kind = req.url?.includes("flaky") ? "flaky" : "ok";
  const id = String(req.headers["webhook-id"]);
  const entry = seen[kind].get(id) ?? { at: [], succeeded: 0 };
  entry.at.push(performance.now());
  seen[kind].set(id, entry);
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    entry.message ??= JSON.parse(Buffer.concat(chunks).toString("utf8")).data.message;
    const fail = kind === "flaky" && Math.random() < 0.5;
    if (!fail) {
      entry.succeeded++;
    }
    res.writeHead(fail ? 503 : 204).end();
  });
});
await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const receiverUrl = `http://127.0.0.1:${receiver.address().port}`;

const { url, mf } = await serveWorker({
  scriptPath: buildWorker(),
  bindings: {
    LOG_LEVEL: "error",
    WEBHOOK_ALLOW_LOOPBACK: "true",
    WEBHOOK_RETRY_SCHEDULE_S: SCHEDULE.join(","),
    RATE_LIMIT_TIERS: JSON.stringify({
      operator: { limit: 1_000_000, window_s: 60 },
      standard: { limit: 1_000_000, window_s: 60 },
    }),
  },
});

try {
  const tenant = await newTenant(url, "webhooks-bench");
  for (const kind of ["ok", "flaky"]) {
    const res = await api(url, "POST", "/v1/webhooks", {
      token: tenant.key,
      body: { url: `${receiverUrl}/${kind}`, events: ["system.alert"] },
    });
    if (res.status !== 201) {
      throw new Error(`webhook: ${res.status} ${JSON.stringify(res.body)}`);
    }
  }
  const started = performance.now();
  const sentAt = new Map();
  for (let n = 0; n < EVENTS; n += 8) {
    await Promise.all(
      Array.from({ length: Math.min(8, EVENTS - n) }, (_, k) => {
        sentAt.set(`bench ${n + k}`, performance.now());
        return api(url, "POST", "/v1/admin/alerts", {
          body: { tenant_id: tenant.id, severity: "info", message: `bench ${n + k}` },
        });
      }),
    );
  }
  const published = performance.now();
  const done = (kind) => [...seen[kind].values()].filter((e) => e.succeeded > 0).length;
  await until(() => done("ok") >= EVENTS, 120_000, "all events at the healthy endpoint").catch(() => {});
  const okSeconds = (Math.max(...[...seen.ok.values()].map((e) => e.at[0])) - started) / 1000;
  await until(() => done("flaky") >= EVENTS, 300_000, "all events at the flaky endpoint").catch(() => {});
  await new Promise((r) => setTimeout(r, 2_000)); // late duplicates, if any

  const summary = (kind) => {
    const entries = [...seen[kind].values()];
    const attempts = entries.map((e) => e.at.length).sort((a, b) => a - b);
    const gaps = entries.flatMap((e) => e.at.slice(1).map((t, k) => (t - (e.at[k] ?? t)) / 1000)).sort((a, b) => a - b);
    const lag = entries.map((e) => e.at[0] - (sentAt.get(e.message) ?? e.at[0])).sort((a, b) => a - b);
    return {
      events: EVENTS,
      publish_to_first_attempt_ms: { p50: Math.round(percentile(lag, 50)), p99: Math.round(percentile(lag, 99)) },
      received: entries.length,
      lost: EVENTS - entries.filter((e) => e.succeeded > 0).length,
      duplicates_after_success: entries.reduce((sum, e) => sum + Math.max(0, e.succeeded - 1), 0),
      requests: attempts.reduce((a, b) => a + b, 0),
      attempts_per_event: { p50: percentile(attempts, 50), p99: percentile(attempts, 99), max: attempts.at(-1) },
      gap_between_attempts_s: gaps.length
        ? { p50: Number(percentile(gaps, 50).toFixed(2)), p99: Number(percentile(gaps, 99).toFixed(2)) }
        : null,
    };
  };
  const hooks = (await api(url, "GET", "/v1/webhooks", { token: tenant.key })).body.items;
  const result = {
    date: new Date().toISOString(),
    schedule_s: SCHEDULE,
    publish_seconds: Number(((published - started) / 1000).toFixed(2)),
    publishes_per_s: Math.round(EVENTS / ((published - started) / 1000)),
    healthy: { ...summary("ok"), deliveries_per_s: Math.round(EVENTS / okSeconds) },
    flaky_50_percent: summary("flaky"),
    disabled_endpoints: hooks.filter((h) => h.disabled_at !== null).map((h) => h.disabled_reason),
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(path.join(root, "bench", "results"), { recursive: true });
  writeFileSync(path.join(root, "bench", "results", "webhooks.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log("wrote bench/results/webhooks.json");
  if (result.healthy.lost + result.flaky_50_percent.lost > 0 && result.disabled_endpoints.length === 0) {
    process.exitCode = 1;
  }
} finally {
  await mf.dispose();
  receiver.close();
}

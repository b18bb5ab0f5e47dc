#!/usr/bin/env node
// `npm run bench:notify [-- --broadcasts N]`: M real WebSocket clients (the `ws` package, in this
// process) on one tenant's hub of the built Worker served by Miniflare; N broadcasts published
// through POST /v1/admin/alerts. Reports deliveries/s, publish→receive latency p50/p99, and lost /
// duplicated / out-of-order events (must be 0), for 100 and 1,000 sockets, and a 1,000-socket run
// where 10 % of the clients drop mid-stream and resume from their last seq. The control, in the same
// run: the same publishes with one socket (what the publish path alone sustains).
// Writes bench/results/notify.json.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { api, audit, connect, newTenant, percentile, until } from "./lib/notify-clients.mjs";
import { buildWorker, serveWorker } from "./lib/serve.mjs";

const root = path.resolve(import.meta.dirname, "..");
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const BROADCASTS = arg("broadcasts", 200);
const IN_FLIGHT = arg("in-flight", 8);

const { url, mf } = await serveWorker({
  scriptPath: buildWorker(),
  bindings: {
    LOG_LEVEL: "error",
    NOTIFY_MAX_SOCKETS_PER_TENANT: "5000",
    NOTIFY_MAX_SOCKETS_PER_KEY: "5000",
    RATE_LIMIT_TIERS: JSON.stringify({
      operator: { limit: 1_000_000, window_s: 60 },
      standard: { limit: 1_000_000, window_s: 60 },
    }),
  },
});

async function openClients(tenant, count, coalesce) {
  const clients = [];
  for (let i = 0; i < count; i += 50) {
    const batch = Array.from({ length: Math.min(50, count - i) }, () =>
      connect(url, { key: tenant.key, batch: coalesce }),
    );
    await Promise.all(batch.map((c) => c.opened));
    clients.push(...batch);
  }
  return clients;
}

/** Publishes `n` alerts, `IN_FLIGHT` at a time; returns the send time of each by its text. */
async function publish(tenant, n, onHalf) {
  const sentAt = new Map();
  let next = 0;
  let halfDone = false;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      if (!halfDone && i >= n / 2 && onHalf) {
        halfDone = true;
        await onHalf();
      }
      const message = `bench ${i}`;
      sentAt.set(message, performance.now());
      const res = await api(url, "POST", "/v1/admin/alerts", {
        body: { tenant_id: tenant.id, severity: "info", message },
      });
      if (res.status !== 202) {
        throw new Error(`publish: ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return sentAt;
}

async function run(label, sockets, { drop = 0, coalesce = false } = {}) {
  const tenant = await newTenant(url, label);
  const clients = await openClients(tenant, sockets, coalesce);
  const resumed = [];
  const started = performance.now();
  const sentAt = await publish(tenant, BROADCASTS, async () => {
    // 10 % of the clients lose their connection and come back from their last seq.
    for (const client of clients.slice(0, Math.round(sockets * drop))) {
      client.drop();
      const again = connect(url, { key: tenant.key, after: client.lastSeq, batch: coalesce });
      again.before = client;
      resumed.push(again);
    }
    await Promise.all(resumed.map((c) => c.opened));
  });
  const streams = clients.map((c) => {
    const after = resumed.find((r) => r.before === c);
    return after ? () => [...c.events, ...after.events] : () => c.events;
  });
  await until(() => streams.every((s) => s().length >= BROADCASTS), 120_000, `${label}: all events`).catch(() => {});
  const lastAt = streams.reduce((max, s) => s().reduce((m, e) => Math.max(m, e.at), max), started);
  const elapsed = (lastAt - started) / 1000;
  const latencies = streams
    .flatMap((s) => s().map((e) => e.at - (sentAt.get(e.data.message) ?? e.at)))
    .sort((a, b) => a - b);
  const totals = { lost: 0, duplicated: 0, reordered: 0 };
  for (const s of streams) {
    const found = audit(s(), 1, BROADCASTS);
    totals.lost += found.lost;
    totals.duplicated += found.duplicated;
    totals.reordered += found.reordered;
  }
  const deliveries = streams.reduce((sum, s) => sum + s().length, 0);
  for (const c of [...clients, ...resumed]) {
    c.ws.terminate();
  }
  const result = {
    label,
    coalesced: coalesce,
    sockets,
    broadcasts: BROADCASTS,
    dropped_and_resumed: resumed.length,
    deliveries,
    seconds: Number(elapsed.toFixed(2)),
    deliveries_per_s: Math.round(deliveries / elapsed),
    publishes_per_s: Math.round(BROADCASTS / elapsed),
    latency_ms: {
      p50: Number(percentile(latencies, 50).toFixed(1)),
      p99: Number(percentile(latencies, 99).toFixed(1)),
    },
    ...totals,
  };
  console.log(
    `${label.padEnd(28)} ${String(sockets).padStart(5)} sockets  ${String(result.deliveries_per_s).padStart(7)} deliveries/s  ` +
      `p50 ${result.latency_ms.p50} ms  p99 ${result.latency_ms.p99} ms  lost ${totals.lost} dup ${totals.duplicated} ` +
      `out-of-order ${totals.reordered}`,
  );
  return result;
}

try {
  console.log(`bench:notify — ${BROADCASTS} broadcasts per run, ${IN_FLIGHT} publishes in flight\n`);
  const results = [
    await run("control (1 socket)", 1),
    await run("100 sockets", 100),
    await run("1,000 sockets", 1000),
    await run("1,000 sockets, 10 % resume", 1000, { drop: 0.1 }),
    await run("100 sockets, coalesced", 100, { coalesce: true }),
    await run("1,000 sockets, coalesced", 1000, { coalesce: true }),
    await run("1,000 coalesced, 10 % resume", 1000, { drop: 0.1, coalesce: true }),
  ];
  mkdirSync(path.join(root, "bench", "results"), { recursive: true });
  const file = path.join(root, "bench", "results", "notify.json");
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(root, file)}`);
  if (results.some((r) => r.lost + r.duplicated + r.reordered > 0)) {
    process.exitCode = 1;
  }
} finally {
  await mf.dispose();
}

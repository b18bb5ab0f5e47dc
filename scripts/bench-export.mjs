#!/usr/bin/env node
// `npm run bench:export [-- --exports N]`: time from POST /v1/exports to a ready 10-page PDF (a
// document export of a ten-page document), one at a time with a warm browser (kept-alive
// sessions), then N at once to see the throughput at the consumer's concurrency cap (2). The
// control: the first export, which launches the browser. Writes bench/results/export.json.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { api, newTenant, percentile } from "./lib/notify-clients.mjs";
import { buildWorker, serveWorker } from "./lib/serve.mjs";

const root = path.resolve(import.meta.dirname, "..");
const i = process.argv.indexOf("--exports");
const N = i > 0 ? Number(process.argv[i + 1]) : 20;
const { url, mf } = await serveWorker({
  scriptPath: buildWorker(),
  bindings: { LOG_LEVEL: "error", RATE_LIMIT_TIERS: JSON.stringify({ standard: { limit: 1_000_000, window_s: 60 } }) },
});

async function ready(token, id) {
  for (;;) {
    const row = (await api(url, "GET", `/v1/exports/${id}`, { token })).body;
    if (row.status === "ready" || row.status === "failed") {
      return row;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function once(tenant, docId) {
  const started = performance.now();
  const created = await api(url, "POST", "/v1/exports", {
    token: tenant.key,
    body: { kind: "document", document_id: docId },
  });
  if (created.status !== 202) {
    throw new Error(`export: ${created.status} ${JSON.stringify(created.body)}`);
  }
  const row = await ready(tenant.key, created.body.id);
  if (row.status !== "ready") {
    throw new Error(`export failed: ${row.error}`);
  }
  return { ms: performance.now() - started, pages: row.pages };
}

try {
  const tenant = await newTenant(url, "export-bench");
  const col = (await api(url, "POST", "/v1/collections", { token: tenant.key, body: { name: "long" } })).body;
  // About ten pages of text in the document report: 40 sections of a few paragraphs.
  const text = Array.from(
    { length: 40 },
    (_, s) =>
      `# Section ${s + 1}\n\n${"Employees receive paid leave, sick days and a training budget every year. ".repeat(14)}`,
  ).join("\n\n");
  const doc = await api(url, "POST", `/v1/collections/${col.id}/documents`, {
    token: tenant.key,
    body: { title: "Handbook", text, priority: "high" },
  });
  for (;;) {
    const row = (await api(url, "GET", `/v1/documents/${doc.body.id}`, { token: tenant.key })).body;
    if (row.status === "ready") {
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const cold = await once(tenant, doc.body.id);
  const warm = [];
  for (let k = 0; k < N; k++) {
    warm.push((await once(tenant, doc.body.id)).ms);
  }
  warm.sort((a, b) => a - b);
  const burstStarted = performance.now();
  await Promise.all(Array.from({ length: N }, () => once(tenant, doc.body.id)));
  const burstS = (performance.now() - burstStarted) / 1000;
  const result = {
    date: new Date().toISOString(),
    pages: cold.pages,
    control_first_export_ms: Math.round(cold.ms),
    sequential_warm_ms: { p50: Math.round(percentile(warm, 50)), p95: Math.round(percentile(warm, 95)) },
    burst: { exports: N, seconds: Number(burstS.toFixed(1)), exports_per_s: Number((N / burstS).toFixed(2)) },
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(path.join(root, "bench", "results"), { recursive: true });
  writeFileSync(path.join(root, "bench", "results", "export.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log("wrote bench/results/export.json");
} finally {
  await mf.dispose();
}

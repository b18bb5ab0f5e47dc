#!/usr/bin/env node
// `npm run bench:ingest [-- --data ../shared/data/scifact --limit-docs N --priority normal]`
//
// Ingestion throughput through the queue path, as production runs it: the SciFact corpus is
// uploaded with the batch route (100 documents per request) to a Worker served by Miniflare, and
// the real queue consumer extracts, chunks, embeds (local embedder), writes vectors and commits.
// Prints documents/s and chunks/s end to end (first upload to last document ready), and the
// upload-only rate measured in the same run as the reference for what the consumer adds.
// Everything (Worker, consumer, and the local D1/R2/Queues simulators) shares one workerd thread;
// measured inside the Worker, the R2 simulator's puts (~3 ms each) are most of the upload route.
// Writes bench/results/ingest-<time>.json. Target: >= 200 chunks/s with the local embedder.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { apiClient, jsonl } from "./lib/client.mjs";
import { chunkCount, uploadCorpus, waitIngested } from "./lib/ingest.mjs";
import { buildWorker, serveWorker } from "./lib/serve.mjs";

const args = new Map(
  process.argv.slice(2).flatMap((a, i, all) => (a.startsWith("--") ? [[a.slice(2), all[i + 1]]] : [])),
);
const data = path.resolve(args.get("data") ?? "../shared/data/scifact");
const limitDocs = Number(args.get("limit-docs") ?? Number.POSITIVE_INFINITY);
const priority = args.get("priority") ?? "normal";
/** The relational store: d1 (default) or postgres (DATABASE_PROVIDER=hyperdrive, the local cluster). */
const store = args.get("store") ?? "d1";

const docs = [];
for await (const doc of jsonl(path.join(data, "corpus.jsonl"))) {
  if (docs.length >= limitDocs) {
    break;
  }
  docs.push(doc);
}

console.log(`building and serving the Worker; ingesting ${docs.length} documents (priority ${priority}) …`);
const { url, db, close } = await serveWorker({
  store,
  scriptPath: buildWorker(),
  bindings: { RATE_LIMIT_TIERS: JSON.stringify({ standard: { limit: 1_000_000, window_s: 60 } }) },
});
try {
  const api = apiClient(url);
  const tenant = await api("POST", "/v1/admin/tenants", { name: "bench" }, "bench-admin-token");
  const key = tenant.api_key.key;
  const collection = await api("POST", "/v1/collections", { name: "ingest" }, key);

  const started = performance.now();
  const uploaded = (await uploadCorpus(api, key, collection.id, docs, { priority })).size;
  const uploadSeconds = (performance.now() - started) / 1000;
  const counts = await waitIngested(db, collection.id);
  const seconds = (performance.now() - started) / 1000;
  const chunks = await chunkCount(db, collection.id);

  const report = {
    when: new Date().toISOString(),
    dataset: path.basename(data),
    store,
    priority,
    documents: uploaded,
    statuses: counts,
    chunks,
    upload_seconds: uploadSeconds,
    upload_documents_per_s: uploaded / uploadSeconds,
    total_seconds: seconds,
    documents_per_s: uploaded / seconds,
    chunks_per_s: chunks / seconds,
    target_chunks_per_s: 200,
  };
  console.log(`
| Measure                                  | Value |
| ---------------------------------------- | ----- |
| documents (ready / failed)               | ${counts.ready ?? 0} / ${counts.failed ?? 0} |
| chunks                                   | ${chunks} |
| upload only (batch route, reference)     | ${report.upload_documents_per_s.toFixed(0)} documents/s (${uploadSeconds.toFixed(1)} s) |
| end to end, upload to last ready         | ${seconds.toFixed(1)} s |
| documents/s                              | ${report.documents_per_s.toFixed(0)} |
| chunks/s                                 | **${report.chunks_per_s.toFixed(0)}** (target >= 200: ${report.chunks_per_s >= 200 ? "met" : "NOT met"}) |`);
  mkdirSync("bench/results", { recursive: true });
  const file = path.join("bench/results", `ingest-${store}-${report.when.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwritten to ${file}`);
} finally {
  await close();
}

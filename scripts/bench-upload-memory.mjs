#!/usr/bin/env node
// `npm run bench:upload-memory [-- --sizes 1,4,10,15] [--formats read-only,r2-control,r2-control-batch,json,json-batch,multipart,multipart-pdf]`
//
// Peak memory of one upload, per size and format (JSON text, a JSON batch of 50 documents,
// multipart text and multipart PDF). Each measurement
// gets a fresh Miniflare so that earlier garbage cannot hide or inflate it; the workerd process's
// peak resident set (VmHWM, reset through /proc/<pid>/clear_refs just before the upload) minus its
// resident set before gives the growth the upload caused. The same measurement for a 1 KiB upload,
// in the same run, is the baseline: what any request costs. Controls in the same run: `read-only`
// (a JSON body only read and parsed), `r2-control` (a minimal Worker that reads a body and puts it
// in the local R2 simulator, which lives in the same process) and `r2-control-batch` (the same body
// put as one object per document of the batch, at once). Linux only (procfs).
// Writes bench/results/upload-memory-<time>.json.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { apiClient } from "./lib/client.mjs";
import { buildWorker, serveWorker } from "./lib/serve.mjs";

const args = new Map(
  process.argv.slice(2).flatMap((a, i, all) => (a.startsWith("--") ? [[a.slice(2), all[i + 1]]] : [])),
);
const sizesMiB = (args.get("sizes") ?? "1,4,10,15").split(",").map(Number);
/**
 * Documents in the `json-batch` upload. Half the bulk queue's batch size, on purpose: a full batch
 * of 100 messages is delivered at once, and the consumer ingesting them in the same process would
 * be measured with the upload (24× instead of 10× at 4 MiB, tried); 50 wait for the batch timer.
 */
const BATCH_DOCUMENTS = 50;
const MiB = 1024 * 1024;

/** The workerd processes started by this Node process (Miniflare spawns them). */
function workerdPids() {
  const pids = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8").trim();
      const [, comm, rest] = /^\d+ \((.*)\) (.*)$/.exec(stat) ?? [];
      const ppid = Number(rest?.split(" ")[1]);
      if (comm === "workerd" && ppid === process.pid) {
        pids.push(Number(entry));
      }
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

function statusKiB(pid, field) {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1] ?? Number.NaN);
}

/** A text of `bytes` bytes in paragraphs of ~520 characters (about four to a chunk). */
function textOf(bytes) {
  const paragraph = `${"The quick brown fox jumps over the lazy dog near the riverbank. ".repeat(8)}\n\n`;
  return paragraph.repeat(Math.ceil(bytes / paragraph.length)).slice(0, bytes);
}

const script = buildWorker();

// The floor of an accepted upload here: a Worker that only reads the body (as ours does) and puts it
// in R2. Locally R2 is a simulator inside the same workerd process, so its cost shows in the
// process's memory; in production R2 is another service.
const R2_CONTROL = `export default {
  async fetch(request, env) {
    const length = Number(request.headers.get("content-length"));
    const reader = request.body.getReader({ mode: "byob" });
    let buffer = new ArrayBuffer(length);
    let size = 0;
    while (size < length) {
      const { done, value } = await reader.read(new Uint8Array(buffer, size));
      if (done) break;
      buffer = value.buffer; // each read takes the buffer over and hands it back
      size += value.byteLength;
    }
    // ?parts=N: the body as N objects, put at once (what a batch upload of N documents does).
    const parts = Number(new URL(request.url).searchParams.get("parts") ?? 1);
    const part = Math.ceil(size / parts);
    await Promise.all(
      Array.from({ length: parts }, (_, i) =>
        env.BLOBS.put("control/" + i, new Uint8Array(buffer, Math.min(i * part, size), Math.max(0, Math.min(part, size - i * part)))),
      ),
    );
    let stored = 0;
    for (let i = 0; i < parts; i++) stored += (await env.BLOBS.head("control/" + i)).size;
    return new Response(String(stored), { status: 202 });
  },
};`;

async function serveControl() {
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      modules: true,
      script: R2_CONTROL,
      compatibilityDate: "2025-01-01",
      r2Buckets: ["BLOBS"],
    }),
  );
  return { url: (await mf.ready).toString().replace(/\/$/, ""), mf };
}

async function measure(format, bytes) {
  if (format === "r2-control" || format === "r2-control-batch") {
    return measureWith(await serveControl(), format, bytes);
  }
  return measureWith(
    await serveWorker({
      scriptPath: script,
      bindings: {
        MAX_UPLOAD_BYTES: String(20 * MiB),
        MAX_JSON_BODY_BYTES: String(20 * MiB),
        // Raised past the 4 MiB default so that the cost of large JSON bodies can be measured.
        MAX_JSON_UPLOAD_BYTES: String(20 * MiB),
        RATE_LIMIT_TIERS: JSON.stringify({ standard: { limit: 1_000_000, window_s: 60 } }),
      },
    }),
    format,
    bytes,
  );
}

async function measureWith({ url, mf }, format, bytes) {
  try {
    const text = textOf(bytes);
    if (format.startsWith("r2-control")) {
      const route = format === "r2-control-batch" ? `/?parts=${BATCH_DOCUMENTS}` : "/";
      const run = await peakOf(url, route, {}, text, format, bytes);
      if (run.answer !== String(bytes)) {
        throw new Error(`the control stored ${run.answer} bytes of ${bytes}`);
      }
      return run;
    }
    const api = apiClient(url);
    const tenant = await api("POST", "/v1/admin/tenants", { name: "bench" }, "bench-admin-token");
    const key = tenant.api_key.key;
    const collection = await api("POST", "/v1/collections", { name: "memory" }, key);
    let body;
    const headers = { Authorization: `Bearer ${key}` };
    let route = `/v1/collections/${collection.id}/documents`;
    if (format === "json") {
      body = JSON.stringify({ title: "memory", text });
      headers["Content-Type"] = "application/json";
    } else if (format === "json-batch") {
      // The batch route: the same text as BATCH_DOCUMENTS documents of equal size.
      const part = Math.ceil(text.length / BATCH_DOCUMENTS);
      const documents = Array.from({ length: BATCH_DOCUMENTS }, (_, i) => ({
        title: `memory ${i}`,
        text: text.slice(i * part, (i + 1) * part),
      })).filter((d) => d.text.length > 0);
      body = JSON.stringify({ documents });
      headers["Content-Type"] = "application/json";
      route = `/v1/collections/${collection.id}/documents/batch`;
    } else if (format === "read-only") {
      // The control: a JSON body of the same size that is only read, checked and parsed, then
      // refused (422: a collection name is at most 100 characters). No hashing, R2 or chunking.
      body = JSON.stringify({ name: text });
      headers["Content-Type"] = "application/json";
      route = "/v1/collections";
    } else if (format === "multipart-pdf") {
      // A binary kind: sniffed from its first bytes, stored, and read only by the consumer.
      body = new FormData();
      body.set("file", new File([`%PDF-1.7\n${text.slice(9)}`], "memory.pdf"));
    } else {
      body = new FormData();
      body.set("file", new File([text], "memory.txt"));
    }
    return await peakOf(url, route, headers, body, format, bytes);
  } finally {
    await mf.dispose();
  }
}

/** The workerd process's peak growth while it answers one request. */
async function peakOf(url, route, headers, body, format, bytes) {
  const [pid] = workerdPids();
  if (pid === undefined) {
    throw new Error("no workerd process found");
  }
  // Let start-up garbage settle, then reset the peak to the current resident set.
  await new Promise((r) => setTimeout(r, 500));
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
  const before = statusKiB(pid, "VmRSS");
  const res = await fetch(`${url}${route}`, { method: "POST", headers, body });
  const status = res.status;
  const answer = await res.text();
  const peak = statusKiB(pid, "VmHWM");
  // Past ~10 MB of text a document yields more chunks than it may have: read whole, then refused.
  if (status !== 202 && status !== 422) {
    throw new Error(`upload of ${bytes} bytes (${format}) answered ${status}`);
  }
  return { format, bytes, status, answer, growth_mib: (peak - before) / 1024 };
}

const results = [];
const controlBySize = new Map();
for (const format of (
  args.get("formats") ?? "read-only,r2-control,r2-control-batch,json,json-batch,multipart,multipart-pdf"
).split(",")) {
  const baseline = await measure(format, 1024);
  for (const size of sizesMiB) {
    const run = await measure(format, size * MiB);
    const net = run.growth_mib - baseline.growth_mib;
    const copies = net / size;
    if (format.startsWith("r2-control")) {
      controlBySize.set(`${format} ${size}`, copies);
    }
    // An accepted upload is read and put in R2: what it costs beyond the control is ours. A batch's
    // control puts the body as one object per document, as the batch route stores them.
    const controlFormat = format === "json-batch" ? "r2-control-batch" : "r2-control";
    const control =
      run.status === 202 && !format.startsWith("r2-control")
        ? controlBySize.get(`${controlFormat} ${size}`)
        : undefined;
    const beyond = control === undefined ? undefined : copies - control;
    const { answer: _answer, ...measured } = run;
    results.push({ ...measured, baseline_mib: baseline.growth_mib, net_mib: net, copies, beyond_r2_control: beyond });
    console.log(
      `${format.padEnd(13)} ${String(size).padStart(3)} MiB (${run.status}): peak growth ${run.growth_mib.toFixed(1)} MiB ` +
        `(baseline ${baseline.growth_mib.toFixed(1)}), net ${net.toFixed(1)} MiB = ${copies.toFixed(1)}× the upload` +
        (beyond === undefined ? "" : `, ${beyond.toFixed(1)}× beyond the R2 control`),
    );
  }
}
const out = path.join(import.meta.dirname, "..", "bench", "results");
mkdirSync(out, { recursive: true });
const file = path.join(out, `upload-memory-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(file, JSON.stringify({ sizes_mib: sizesMiB, results }, null, 2));
console.log(`wrote ${path.relative(process.cwd(), file)}`);

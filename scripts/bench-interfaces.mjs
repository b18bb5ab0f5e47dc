#!/usr/bin/env node
// `npm run bench:interfaces [-- --data ../shared/data/scifact --docs 2000 --queries 200]`
//
// MCP and the OpenAI-compatible route against REST, on the same served Worker, with the same key
// and the same questions: each question through POST /v1/search and the MCP `search` tool (the
// official MCP client, Streamable HTTP); through POST /v1/query and the `ask` tool in each mode;
// and through POST /v1/query and POST /v1/chat/completions (the official `openai` client) in each
// mode — alternating which goes first, a nonce on every question so each is a cache miss,
// client-seen milliseconds.
// Targets: MCP p95 ≤ 1.2× REST p95 (search, ask per mode); chat adds ≤ 5 ms p95 over /v1/query.
// Writes bench/results/interfaces-<time>.json.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import OpenAI from "openai";
import { apiClient, jsonl } from "./lib/client.mjs";
import { uploadCorpus, waitIngested } from "./lib/ingest.mjs";
import { buildWorker, serveWorker } from "./lib/serve.mjs";

const args = new Map(
  process.argv.slice(2).flatMap((a, i, all) => (a.startsWith("--") ? [[a.slice(2), all[i + 1]]] : [])),
);
const data = path.resolve(args.get("data") ?? "../shared/data/scifact");
const docCount = Number(args.get("docs") ?? 2000);
const queryCount = Number(args.get("queries") ?? 200);
const MODES = ["fast", "balanced", "deep"];
const TARGET_RATIO = 1.2;
const TARGET_ADDED_MS = 5;

const pct = (xs, p) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};
const round = (x) => Math.round(x * 100) / 100;

const corpus = [];
for await (const doc of jsonl(path.join(data, "corpus.jsonl"))) {
  if (corpus.length < docCount) {
    corpus.push(doc);
  }
}
const queries = [];
for await (const q of jsonl(path.join(data, "queries.jsonl"))) {
  if (queries.length < queryCount) {
    queries.push(q.text.slice(0, 1900));
  }
}

console.log("building and serving the Worker …");
const { url, mf } = await serveWorker({
  scriptPath: buildWorker(),
  bindings: { RATE_LIMIT_TIERS: JSON.stringify({ standard: { limit: 1_000_000, window_s: 1 } }) },
});
try {
  const api = apiClient(url);
  const tenant = await api("POST", "/v1/admin/tenants", { name: "bench" }, "bench-admin-token");
  const key = tenant.api_key.key;
  const collection = await api("POST", "/v1/collections", { name: "mcp" }, key);
  await uploadCorpus(api, key, collection.id, corpus);
  await waitIngested(await mf.getD1Database("DB"), collection.id);

  const mcp = new Client({ name: "bench-interfaces", version: "1.0.0" });
  await mcp.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${key}` } },
    }),
  );
  const tool = async (name, args) => {
    const result = await mcp.callTool({ name, arguments: args });
    if (result.isError) {
      throw new Error(`${name}: ${result.content?.[0]?.text}`);
    }
    return result;
  };
  const collectionIds = [collection.id];

  /** Both paths for every question, alternating which goes first; client ms each. */
  const compare = async (label, rest, viaOther, { other = "MCP", addedMs } = {}) => {
    const a = [];
    const b = [];
    for (const [i, query] of queries.entries()) {
      const nonce = `${query} (${randomBytes(4).toString("hex")})`;
      const runs = [
        [a, () => rest(`${nonce} r`)],
        [b, () => viaOther(`${nonce} m`)],
      ];
      for (const [times, run] of i % 2 === 0 ? runs : runs.reverse()) {
        const t = performance.now();
        await run();
        times.push(performance.now() - t);
      }
    }
    const row = {
      rest_p50_ms: round(pct(a, 50)),
      other_p50_ms: round(pct(b, 50)),
      rest_p95_ms: round(pct(a, 95)),
      other_p95_ms: round(pct(b, 95)),
      ratio_p95: round(pct(b, 95) / pct(a, 95)),
      added_p95_ms: round(pct(b, 95) - pct(a, 95)),
    };
    row.met = addedMs === undefined ? row.ratio_p95 <= TARGET_RATIO : row.added_p95_ms <= addedMs;
    const verdict =
      addedMs === undefined
        ? `ratio ${row.ratio_p95} (target ≤ ${TARGET_RATIO})`
        : `added ${row.added_p95_ms} ms (target ≤ ${addedMs})`;
    console.log(
      `${label.padEnd(14)} REST p50 ${row.rest_p50_ms} p95 ${row.rest_p95_ms} · ${other} p50 ${row.other_p50_ms} p95 ${row.other_p95_ms} · ${verdict} ${row.met ? "met" : "NOT met"}`,
    );
    return row;
  };

  // Warm both paths (isolate, shard, the client's schema cache).
  for (let i = 0; i < 5; i++) {
    await api("POST", "/v1/search", { query: "warm up", collection_ids: collectionIds }, key);
    await tool("search", { query: "warm up", collection_ids: collectionIds });
    await tool("ask", { query: "warm up", collection_ids: collectionIds, mode: "fast" });
  }

  const report = { when: new Date().toISOString(), documents: corpus.length, queries: queries.length, rows: {} };
  report.rows.search = await compare(
    "search",
    (query) => api("POST", "/v1/search", { query, collection_ids: collectionIds }, key),
    (query) => tool("search", { query, collection_ids: collectionIds }),
  );
  for (const mode of MODES) {
    report.rows[`ask ${mode}`] = await compare(
      `ask ${mode}`,
      (query) => api("POST", "/v1/query", { query, collection_ids: collectionIds, mode }, key),
      (query) => tool("ask", { query, collection_ids: collectionIds, mode }),
    );
  }
  await mcp.close();

  const openai = new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0 });
  for (const mode of MODES) {
    report.rows[`chat ${mode}`] = await compare(
      `chat ${mode}`,
      (query) => api("POST", "/v1/query", { query, collection_ids: collectionIds, mode }, key),
      (content) =>
        openai.chat.completions.create({
          model: `edgerag-${mode}`,
          messages: [{ role: "user", content }],
          collection_ids: collectionIds,
        }),
      { other: "chat", addedMs: TARGET_ADDED_MS },
    );
  }

  const dir = path.resolve(import.meta.dirname, "../bench/results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `interfaces-${report.when.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
} finally {
  await mf.dispose();
}

#!/usr/bin/env node
// `npm run eval:beir -- --data ../shared/data/scifact --split test [--strategies hybrid,keyword,vector]
//   [--modes fast,balanced,deep] [--set "SEARCH_COMMON_TERM_RATIO=0.2"]`
//
// Retrieval quality on a BEIR dataset through the public API of the locally served Worker:
// every corpus document (title + "\n" + text) is uploaded with the batch route and processed by
// the real queue consumer; then every query of the split is searched with each strategy, a
// document ranking by its best chunk. Prints nDCG@10 and Recall@100 per strategy next to the
// published BM25 baseline, and writes bench/results/eval-<dataset>-<split>-<time>.json.
// Tune on --split train only; the test split is for reporting.
import { createReadStream, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { apiClient, jsonl, pool, settingsFrom } from "./lib/client.mjs";
import { chunkCount, uploadCorpus, waitIngested } from "./lib/ingest.mjs";
import { buildWorker, serveWorker } from "./lib/serve.mjs";

const args = new Map(
  process.argv.slice(2).flatMap((a, i, all) => (a.startsWith("--") ? [[a.slice(2), all[i + 1]]] : [])),
);
const data = path.resolve(args.get("data") ?? "../shared/data/scifact");
const split = args.get("split") ?? "test";
const strategies = (args.get("strategies") ?? "keyword,vector,hybrid").split(",").filter(Boolean);
/** --modes fast,balanced,deep: also rank the sources of /v1/query in those modes (nDCG@10 of sources). */
const modes = (args.get("modes") ?? args.get("mode") ?? "").split(",").filter(Boolean);
const limitDocs = Number(args.get("limit-docs") ?? Number.POSITIVE_INFINITY);
/** --dump FILE: also write every query's ranked chunk ids per strategy (for offline analysis). */
const dumpFile = args.get("dump");
const dump = {};
const PUBLISHED_BM25 = { scifact: 0.665 };
const dataset = path.basename(data);

async function readQrels(file) {
  const qrels = new Map();
  let header = true;
  for await (const line of createInterface({ input: createReadStream(file) })) {
    if (header) {
      header = false;
      continue;
    }
    const [query, doc, score] = line.split("\t");
    if (!qrels.has(query)) {
      qrels.set(query, new Map());
    }
    qrels.get(query).set(doc, Number(score));
  }
  return qrels;
}

function ndcgAt(ranked, relevant, k) {
  let dcg = 0;
  ranked.slice(0, k).forEach((doc, i) => {
    dcg += (2 ** (relevant.get(doc) ?? 0) - 1) / Math.log2(i + 2);
  });
  const ideal = [...relevant.values()].sort((a, b) => b - a).slice(0, k);
  const idcg = ideal.reduce((s, rel, i) => s + (2 ** rel - 1) / Math.log2(i + 2), 0);
  return idcg === 0 ? 0 : dcg / idcg;
}

function recallAt(ranked, relevant, k) {
  const hits = ranked.slice(0, k).filter((doc) => (relevant.get(doc) ?? 0) > 0).length;
  const total = [...relevant.values()].filter((r) => r > 0).length;
  return total === 0 ? 0 : hits / total;
}

console.log(`building and serving the Worker for ${dataset} (${split}) …`);
const { url, mf } = await serveWorker({
  scriptPath: buildWorker(),
  bindings: {
    RATE_LIMIT_TIERS: JSON.stringify({ standard: { limit: 1_000_000, window_s: 60 } }),
    SEARCH_MAX_TOP_K: "100",
    MAX_UPLOAD_BYTES: String(20 * 1024 * 1024),
    // Every query answered afresh: the evaluation measures retrieval, not the cache.
    ANSWER_CACHE_TTL_S: "0",
    // --set "NAME=value,NAME2=value": extra Worker settings, for tuning (on --split train).
    ...settingsFrom(args.get("set")),
  },
});
try {
  const api = apiClient(url);
  const tenant = await api("POST", "/v1/admin/tenants", { name: "eval" }, "bench-admin-token");
  const key = tenant.api_key.key;
  const collection = await api("POST", "/v1/collections", { name: dataset }, key);

  const docs = [];
  for await (const doc of jsonl(path.join(data, "corpus.jsonl"))) {
    if (docs.length >= limitDocs) {
      break;
    }
    docs.push(doc);
  }
  const started = performance.now();
  const toBeir = await uploadCorpus(api, key, collection.id, docs);
  const uploadSeconds = (performance.now() - started) / 1000;
  console.log(`uploaded ${toBeir.size} documents in ${uploadSeconds.toFixed(1)} s`);
  const db = await mf.getD1Database("DB");
  await waitIngested(db, collection.id);
  const ingestSeconds = (performance.now() - started) / 1000;
  const chunks = await chunkCount(db, collection.id);
  console.log(`ingested ${toBeir.size} documents, ${chunks} chunks in ${ingestSeconds.toFixed(1)} s`);

  const qrels = await readQrels(path.join(data, "qrels", `${split}.tsv`));
  const queries = [];
  for await (const q of jsonl(path.join(data, "queries.jsonl"))) {
    if (qrels.has(q._id)) {
      queries.push(q);
    }
  }
  const report = {};
  // Search strategies rank `results`; query modes rank the `sources` that fed the answer.
  const runs = [
    ...strategies.map((strategy) => ({
      name: strategy,
      route: "/v1/search",
      body: (text) => ({ query: text, collection_ids: [collection.id], top_k: 100, strategy }),
      ranked: (res) => res.results,
    })),
    ...modes.map((mode) => ({
      name: `query:${mode}`,
      route: "/v1/query",
      body: (text) => ({ query: text, collection_ids: [collection.id], top_k: 50, mode }),
      ranked: (res) => res.sources,
    })),
  ];
  for (const { name: strategy, route, body, ranked: rankedOf } of runs) {
    const t = performance.now();
    const scores = await pool(queries, 8, async (q) => {
      const res = await api("POST", route, body(q.text.slice(0, 2000)), key);
      const ranked = [];
      for (const r of rankedOf(res)) {
        const beir = toBeir.get(r.document_id);
        if (beir && !ranked.includes(beir)) {
          ranked.push(beir);
        }
      }
      if (dumpFile) {
        dump[strategy] ??= {};
        dump[strategy][q._id] = rankedOf(res).map((r) => toBeir.get(r.document_id));
      }
      const relevant = qrels.get(q._id);
      return { ndcg: ndcgAt(ranked, relevant, 10), recall: recallAt(ranked, relevant, 100) };
    });
    const mean = (f) => scores.reduce((s, x) => s + f(x), 0) / scores.length;
    report[strategy] = {
      ndcg_at_10: mean((s) => s.ndcg),
      recall_at_100: mean((s) => s.recall),
      queries: scores.length,
      seconds: (performance.now() - t) / 1000,
    };
  }

  console.log(`\n=== ${dataset} ${split}: ${queries.length} queries, ${toBeir.size} documents ===`);
  console.log("strategy   nDCG@10   Recall@100");
  for (const [strategy, r] of Object.entries(report)) {
    console.log(
      `${strategy.padEnd(10)} ${r.ndcg_at_10.toFixed(3).padStart(7)}   ${r.recall_at_100.toFixed(3).padStart(10)}`,
    );
  }
  const published = PUBLISHED_BM25[dataset];
  if (published !== undefined) {
    console.log(`${"BM25 (published, BEIR)".padEnd(10)} ${published.toFixed(3)}`);
  }
  const dir = path.resolve(import.meta.dirname, "../bench/results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `eval-${dataset}-${split}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        dataset,
        split,
        documents: toBeir.size,
        chunks,
        upload_seconds: uploadSeconds,
        ingest_seconds: ingestSeconds,
        published_bm25: published,
        report,
      },
      null,
      2,
    ),
  );
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
  if (dumpFile) {
    writeFileSync(
      dumpFile,
      JSON.stringify({ qrels: Object.fromEntries([...qrels].map(([q, m]) => [q, Object.fromEntries(m)])), dump }),
    );
  }
} finally {
  await mf.dispose();
}

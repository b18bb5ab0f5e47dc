#!/usr/bin/env node
// `npm run demo [-- --url http://localhost:8787] [--admin-token …]`: against a running server
// (`npm run dev` in another terminal), creates a tenant and its key, uploads the sample documents
// in examples/ (PDF, DOCX, Markdown, HTML; one in Korean), waits for them, asks one question per
// mode (and one in Korean), prints the answers with their citations, and then the next commands to
// try with the real ids filled in. The admin token defaults to ADMIN_TOKEN from .dev.vars (or
// .dev.vars.example), as `npm run dev` reads it.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { apiClient } from "./lib/client.mjs";
import { devVar } from "./lib/dev-vars.mjs";

const root = path.resolve(import.meta.dirname, "..");
const examples = path.join(root, "examples");

export const QUESTIONS = [
  { mode: "fast", query: "How many days of paid vacation do employees get?", expect: /twenty five days/i },
  { mode: "balanced", query: "How many days a week may I work remotely?", expect: /three days a week/i },
  { mode: "deep", query: "What is the daily limit for meals on business trips?", expect: /60 euros/i },
  { mode: "balanced", query: "유급 휴가는 며칠인가요?", expect: /25일/ },
];

/** Runs the tour; returns what it created and the answers (the e2e check asserts on them). */
export async function runDemo({ url, adminToken, log = console.log }) {
  const api = apiClient(url);

  const { tenant, api_key: key } = await api(
    "POST",
    "/v1/admin/tenants",
    { name: `Demo ${new Date().toISOString().slice(0, 19)}` },
    adminToken,
  );
  log(`tenant ${tenant.id}, admin key ${key.key.slice(0, 16)}… (shown once: the demo prints it below)`);
  const collection = await api("POST", "/v1/collections", { name: "handbook" }, key.key);

  const files = readdirSync(examples)
    .filter((f) => /\.(pdf|docx|md|html)$/.test(f))
    .sort();
  const documents = [];
  for (const file of files) {
    const form = new FormData();
    form.set("file", new File([readFileSync(path.join(examples, file))], file));
    form.set("priority", "high");
    documents.push(await api("POST", `/v1/collections/${collection.id}/documents`, form, key.key));
  }
  log(`uploaded ${files.join(", ")} to collection ${collection.id}`);

  const deadline = Date.now() + 60_000;
  let states = [];
  for (;;) {
    states = await Promise.all(documents.map((d) => api("GET", `/v1/documents/${d.id}`, undefined, key.key)));
    const done = states.filter((d) => d.status === "ready" || d.status === "failed").length;
    process.stdout.write(`\rprocessing: ${done}/${states.length} documents done`);
    if (done === states.length || Date.now() > deadline) {
      process.stdout.write("\n");
      break;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  const failed = states.filter((d) => d.status !== "ready");
  if (failed.length > 0) {
    throw new Error(
      `not ready: ${failed.map((d) => `${d.title} (${d.status}: ${d.error ?? "still processing"})`).join(", ")}`,
    );
  }

  const answers = [];
  for (const { mode, query } of QUESTIONS) {
    const answer = await api("POST", "/v1/query", { query, collection_ids: [collection.id], mode }, key.key);
    answers.push({ mode, query, answer });
    log(`\n[${mode}] ${query}\n  ${answer.answer}`);
    for (const citation of answer.citations) {
      log(`  [${citation.n}] ${citation.title}: “${citation.quote}”`);
    }
    log(`  (${answer.timings?.total_ms ?? "?"} ms, generator ${answer.generator})`);
  }

  log(`
Next, with these ids:
  export BASE=${url} KEY=${key.key} COL=${collection.id}
  curl -s -X POST $BASE/v1/query -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\
    -d '{"query":"Who pays for my internet at home?","collection_ids":["'$COL'"],"mode":"balanced"}'
  curl -sN -X POST $BASE/v1/query -H "Authorization: Bearer $KEY" -H 'Accept: text/event-stream' \\
    -H 'Content-Type: application/json' -d '{"query":"병가에 진단서가 필요한가요?","collection_ids":["'$COL'"]}'
  curl -s "$BASE/v1/dashboard" -H "Authorization: Bearer $KEY"
  open $BASE/console   (paste the key)  ·  $BASE/docs  ·  $BASE/docs/errors`);
  return { tenant, key: key.key, collection, documents: states, answers };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = new Map(
    process.argv.slice(2).flatMap((a, i, all) => (a.startsWith("--") ? [[a.slice(2), all[i + 1]]] : [])),
  );
  const url = (args.get("url") ?? process.env.EDGERAG_URL ?? "http://localhost:8787").replace(/\/$/, "");
  const adminToken = args.get("admin-token") ?? process.env.ADMIN_TOKEN ?? devVar("ADMIN_TOKEN");
  try {
    await fetch(`${url}/health/live`);
  } catch {
    console.error(`npm run demo: nothing answers at ${url}; start it with \`npm run dev\` in another terminal.`);
    process.exit(1);
  }
  try {
    await runDemo({ url, adminToken });
  } catch (error) {
    console.error(`npm run demo: ${error.message}`);
    process.exit(1);
  }
}

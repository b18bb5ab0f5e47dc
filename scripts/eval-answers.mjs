#!/usr/bin/env node
// `npm run eval:answers -- [--langs en,ko] [--modes fast,balanced,deep] [--strategies keyword,vector,hybrid]
//   [--set "NAME=value,…"] [--url URL --admin-token TOKEN] [--dump FILE] [--limit N]`
//
// Answer quality through the public API. Each reading-comprehension set (../shared/data/squad-dev,
// English; ../shared/data/korquad-dev, Korean) is uploaded as one document per paragraph into a
// collection of its own and processed by the real queue consumer; then every question is asked in
// each mode, and searched with each strategy. Prints, per mode, the measures of
// ../shared/data/squad-dev/README.md (contains-gold and answer length, cites-gold, abstention on
// answerable, off-topic and adversarial questions, empty answers, latency) and Recall@1/@5 and
// MRR@10 of the gold paragraph per search strategy; writes bench/results/eval-answers-<time>.json.
// With fast among the modes, a control in the same run: fast answers when only the gold paragraph
// is searched (what sentence choice reaches with perfect retrieval). `--dump` also writes each
// question's ranked paragraphs per strategy, for offline study. English also measures follow-ups
// (`followUpPairs`): gold paragraph Recall@5 of a question alone, as a follow-up with a pronoun,
// and that follow-up with the first question and its answer as `history` (`--no-followups` skips).
//
// By default it builds and serves the Worker itself (local adapters, or what --set configures).
// With --url it measures a running deployment instead, whatever embedder and generator it has:
// the admin token creates a tenant there. The data is read from ../shared/data, never copied.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { apiClient, jsonl, pool, settingsFrom } from "./lib/client.mjs";

const args = new Map(
  process.argv.slice(2).flatMap((a, i, all) => (a.startsWith("--") ? [[a.slice(2), all[i + 1]]] : [])),
);
const dataRoot = path.resolve(args.get("data") ?? path.join(import.meta.dirname, "../../shared/data"));
const langs = (args.get("langs") ?? "en,ko").split(",").filter(Boolean);
const modes = (args.get("modes") ?? "fast,balanced,deep").split(",").filter(Boolean);
const strategies = (args.get("strategies") ?? "keyword,vector,hybrid").split(",").filter(Boolean);
const limit = Number(args.get("limit") ?? Number.POSITIVE_INFINITY);
const dumpFile = args.get("dump");
const concurrency = Number(args.get("concurrency") ?? 6);
const SETS = { en: "squad-dev", ko: "korquad-dev" };

/** SQuAD's answer normalisation (lower case, no punctuation, no a/an/the), citation markers removed first. */
export function normalize(text) {
  return text
    .replace(/\[\d+\]/g, " ")
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, " ")
    .replace(/\b(a|an|the)\b/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

export function words(text) {
  const clean = text.replace(/\[\d+\]/g, " ").trim();
  return clean === "" ? 0 : clean.split(/\s+/).length;
}

function quantile(values, q) {
  if (values.length === 0) {
    return null;
  }
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Every item through `work`, `concurrency` at a time, with a progress line. */
async function each(items, work) {
  const results = await pool(items, concurrency, work, (done) => {
    if (done % 50 === 0 || done === items.length) {
      process.stdout.write(`\r  ${done}/${items.length}`.padEnd(20));
    }
  });
  process.stdout.write("\n");
  return results;
}

/** Follow-up pairs measured at most (English). */
const FOLLOW_UPS = 50;
/** Pairs one paragraph gives at most (its first question and up to this many later ones). */
const PAIRS_PER_PARAGRAPH = 3;
const PREPOSITIONS = new Set(["to", "of", "by", "from", "with", "for", "in", "on", "at", "against", "into", "about"]);

/**
 * Follow-up pairs from the reading-comprehension set, built by rule: for a question q2 and the
 * latest earlier question q1 about the same paragraph that names something q2 names (a capitalised word past the first,
 * as a run of capitalised words, with a leading "the"), q2 with that name replaced by a pronoun —
 * "they"/"them"/"their" for a plural, "it"/"its" otherwise. Up to PAIRS_PER_PARAGRAPH per paragraph
 * and FOLLOW_UPS in all, in file order.
 */
export function followUpPairs(questions) {
  const byParagraph = new Map();
  for (const q of questions) {
    byParagraph.set(q.paragraph, [...(byParagraph.get(q.paragraph) ?? []), q]);
  }
  const pairs = [];
  for (const [paragraph, list] of byParagraph) {
    for (const [index, q2] of list.entries()) {
      const tokens = q2.question.split(/\s+/);
      const nameOf = (t) => t.replace(/['’]s?$|[?,.]$/gu, "").toLowerCase();
      // The latest earlier question that names something q2 names: the one a reader would follow.
      const first = list
        .slice(0, index)
        .reverse()
        .find((q1) => {
          const named = new Set((q1.question.match(/\p{Lu}[\p{L}-]+/gu) ?? []).map((w) => w.toLowerCase()));
          return tokens.some((t, i) => i > 0 && /^\p{Lu}/u.test(t) && named.has(nameOf(t)));
        });
      if (!first) {
        continue;
      }
      const named = new Set((first.question.match(/\p{Lu}[\p{L}-]+/gu) ?? []).map((w) => w.toLowerCase()));
      let at = tokens.findIndex((t, i) => i > 0 && /^\p{Lu}/u.test(t) && named.has(nameOf(t)));
      let end = at;
      while (at > 1 && /^\p{Lu}/u.test(tokens[at - 1])) {
        at--;
      }
      while (end + 1 < tokens.length && /^\p{Lu}/u.test(tokens[end + 1])) {
        end++;
      }
      if (at > 0 && /^the$/i.test(tokens[at - 1])) {
        at--;
      }
      const last = tokens[end];
      const trail = last.match(/[?,.]$/u)?.[0] ?? "";
      const possessive = /['’]s?[?,.]?$/u.test(last);
      const plural = /s['’]?[?,.]?$/u.test(last) && !/['’]s[?,.]?$/u.test(last);
      const object = at > 0 && PREPOSITIONS.has(tokens[at - 1].toLowerCase());
      const pronoun = possessive ? (plural ? "their" : "its") : plural ? (object ? "them" : "they") : "it";
      const followUp = [...tokens.slice(0, at), `${pronoun}${trail}`, ...tokens.slice(end + 1)].join(" ");
      pairs.push({ paragraph, first, second: q2, followUp });
      if (pairs.filter((p) => p.paragraph === paragraph).length === PAIRS_PER_PARAGRAPH) {
        break;
      }
    }
    if (pairs.length >= FOLLOW_UPS) {
      break;
    }
  }
  return pairs;
}

async function readSet(lang) {
  const dir = path.join(dataRoot, SETS[lang]);
  const take = async (file) => {
    const out = [];
    for await (const row of jsonl(path.join(dir, file))) {
      out.push(row);
    }
    return out;
  };
  const { readFileSync, existsSync } = await import("node:fs");
  const lines = (file) =>
    existsSync(path.join(dir, file))
      ? readFileSync(path.join(dir, file), "utf8")
          .split("\n")
          .map((l) => l.trim())
          .filter(Boolean)
      : [];
  return {
    corpus: await take("corpus.jsonl"),
    questions: (await take("questions.jsonl")).slice(0, limit),
    unanswerable: existsSync(path.join(dir, "unanswerable.jsonl"))
      ? (await take("unanswerable.jsonl")).slice(0, limit)
      : [],
    offtopic: lines("offtopic.txt").slice(0, limit),
  };
}

async function upload(api, key, collectionId, corpus) {
  const byDocument = new Map();
  for (let i = 0; i < corpus.length; i += 100) {
    const slice = corpus.slice(i, i + 100);
    const result = await api(
      "POST",
      `/v1/collections/${collectionId}/documents/batch`,
      {
        documents: slice.map((p) => ({ title: p.title, text: p.text, metadata: { paragraph: p._id } })),
      },
      key,
    );
    for (const item of result.items) {
      if (!item.document) {
        throw new Error(`paragraph ${slice[item.index]._id} refused: ${JSON.stringify(item.error)}`);
      }
      byDocument.set(item.document.id, slice[item.index]._id);
    }
  }
  return byDocument;
}

/** Polls the documents list until none is queued or processing. */
async function waitReady(api, key, collectionId) {
  for (;;) {
    const counts = {};
    let cursor = "";
    do {
      const page = await api(
        "GET",
        `/v1/collections/${collectionId}/documents?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        undefined,
        key,
      );
      for (const d of page.items) {
        counts[d.status] = (counts[d.status] ?? 0) + 1;
      }
      cursor = page.next_cursor ?? "";
    } while (cursor);
    process.stdout.write(`\r  ingesting: ${JSON.stringify(counts)}`.padEnd(70));
    if ((counts.queued ?? 0) + (counts.processing ?? 0) === 0) {
      process.stdout.write("\n");
      return counts;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

let served;
let url = args.get("url");
let adminToken = args.get("admin-token") ?? process.env.ADMIN_TOKEN;
if (!url) {
  const { buildWorker, serveWorker } = await import("./lib/serve.mjs");
  console.log("building and serving the Worker …");
  served = await serveWorker({
    scriptPath: buildWorker(),
    bindings: {
      RATE_LIMIT_TIERS: JSON.stringify({ standard: { limit: 1_000_000, window_s: 60 } }),
      // Every question answered afresh: the evaluation measures answers, not the cache.
      ANSWER_CACHE_TTL_S: "0",
      ...settingsFrom(args.get("set")),
    },
  });
  url = served.url;
  adminToken = "bench-admin-token";
}
if (!adminToken) {
  throw new Error("--admin-token (or ADMIN_TOKEN) is needed with --url");
}

const report = { url: served ? "local (served by this script)" : url, sets: {} };
const dump = {};
try {
  const api = apiClient(url);
  const tenant = await api("POST", "/v1/admin/tenants", { name: `eval-answers-${Date.now()}` }, adminToken);
  const key = tenant.api_key.key;
  for (const lang of langs) {
    const set = await readSet(lang);
    console.log(`\n${SETS[lang]}: ${set.corpus.length} paragraphs`);
    const collection = await api("POST", "/v1/collections", { name: `${SETS[lang]}-${Date.now()}` }, key);
    const toParagraph = await upload(api, key, collection.id, set.corpus);
    await waitReady(api, key, collection.id);
    const goldTexts = new Map(set.questions.map((q) => [q._id, q.answers.map(normalize).filter(Boolean)]));
    const out = { paragraphs: set.corpus.length, strategies: {}, modes: {} };
    report.sets[SETS[lang]] = out;
    dump[lang] = {};

    for (const strategy of strategies) {
      console.log(`  search ${strategy}`);
      const ranks = await each(set.questions, async (q) => {
        const res = await api(
          "POST",
          "/v1/search",
          { query: q.question, collection_ids: [collection.id], top_k: 10, strategy },
          key,
        );
        const ranked = [];
        for (const r of res.results) {
          const p = toParagraph.get(r.document_id);
          if (!ranked.includes(p)) {
            ranked.push(p);
          }
        }
        dump[lang][`search:${strategy}:${q._id}`] = { kind: "search", paragraphs: ranked };
        const at = ranked.indexOf(q.paragraph);
        return at < 0 ? null : at + 1;
      });
      out.strategies[strategy] = {
        recall_at_1: ranks.filter((r) => r !== null && r <= 1).length / ranks.length,
        recall_at_5: ranks.filter((r) => r !== null && r <= 5).length / ranks.length,
        mrr_at_10: ranks.reduce((s, r) => s + (r === null ? 0 : 1 / r), 0) / ranks.length,
        questions: ranks.length,
      };
    }

    // The control: the fast answer when the gold paragraph is the only one searched. What the
    // generator's sentence choice reaches with perfect retrieval, measured in the same run.
    if (modes.includes("fast")) {
      console.log("  control: fast, gold paragraph only");
      const toDocument = new Map([...toParagraph].map(([doc, p]) => [p, doc]));
      const hits = await each(set.questions, async (q) => {
        const res = await api(
          "POST",
          "/v1/query",
          {
            query: q.question,
            collection_ids: [collection.id],
            mode: "fast",
            filter: { document_ids: [toDocument.get(q.paragraph)] },
          },
          key,
        );
        const text = normalize(res.answer);
        return (goldTexts.get(q._id) ?? []).some((g) => text.includes(g));
      });
      out.control_fast_gold_paragraph = { contains_gold: hits.filter(Boolean).length / hits.length };
    }

    // Follow-ups (English): gold paragraph Recall@5 of a question asked alone, as a follow-up with
    // a pronoun for its subject, and that follow-up with the first question and its answer as history.
    if (lang === "en" && !args.has("no-followups")) {
      const pairs = followUpPairs(set.questions);
      console.log(`  follow-ups: ${pairs.length} pairs`);
      const sourcesOf = async (body) => {
        const res = await api(
          "POST",
          "/v1/query",
          { collection_ids: [collection.id], mode: "fast", top_k: 5, ...body },
          key,
        );
        return { paragraphs: res.sources.map((s) => toParagraph.get(s.document_id)), res };
      };
      const rows = await each(pairs, async (pair) => {
        const first = await sourcesOf({ query: pair.first.question });
        const original = await sourcesOf({ query: pair.second.question });
        const alone = await sourcesOf({ query: pair.followUp });
        const history = [
          { role: "user", content: pair.first.question },
          { role: "assistant", content: first.res.answer },
        ];
        const withHistory = await sourcesOf({ query: pair.followUp, history });
        const hit = (r) => r.paragraphs.includes(pair.paragraph);
        dump[lang][`followup:${pair.second._id}`] = {
          kind: "followup",
          followUp: pair.followUp,
          rewritten: withHistory.res.rewritten_query,
          original: hit(original),
          alone: hit(alone),
          withHistory: hit(withHistory),
        };
        return { original: hit(original), alone: hit(alone), withHistory: hit(withHistory) };
      });
      const rate = (k) => rows.filter((r) => r[k]).length / Math.max(1, rows.length);
      out.follow_ups = {
        pairs: rows.length,
        recall_at_5_original: rate("original"),
        recall_at_5_follow_up_alone: rate("alone"),
        recall_at_5_with_history: rate("withHistory"),
        ratio_with_history: rate("withHistory") / Math.max(1e-9, rate("original")),
      };
    }

    const kinds = [
      ...set.questions.map((q) => ({ kind: "answerable", q })),
      ...set.offtopic.map((text, i) => ({ kind: "offtopic", q: { _id: `offtopic-${i}`, question: text } })),
      ...set.unanswerable.map((q) => ({ kind: "unanswerable", q })),
    ];
    for (const mode of modes) {
      console.log(`  query ${mode}`);
      const results = await each(kinds, async ({ kind, q }) => {
        const started = performance.now();
        const res = await api(
          "POST",
          "/v1/query",
          { query: q.question, collection_ids: [collection.id], mode, top_k: 5 },
          key,
        );
        const ms = performance.now() - started;
        // An abstention: the API says so (`abstained`), or, before that field, an answer citing nothing.
        const abstained = res.abstained === true || res.citations.length === 0;
        const text = normalize(res.answer);
        const gold = goldTexts.get(q._id) ?? [];
        const cited = res.citations.map((c) => toParagraph.get(c.document_id));
        const row = {
          kind,
          abstained,
          empty: res.answer.trim() === "",
          words: words(res.answer),
          contains: gold.some((g) => text.includes(g)),
          citesGold: q.paragraph !== undefined && cited.includes(q.paragraph),
          ms,
          timings: res.timings,
        };
        dump[lang][`${mode}:${q._id}`] = { ...row, question: q.question, answer: res.answer, gold: q.answers };
        return row;
      });
      const of = (kind) => results.filter((r) => r.kind === kind);
      const rate = (rows, f) => (rows.length === 0 ? null : rows.filter(f).length / rows.length);
      const answerable = of("answerable");
      const answered = answerable.filter((r) => !r.abstained);
      const lengths = answered.map((r) => r.words);
      out.modes[mode] = {
        contains_gold: rate(answerable, (r) => r.contains),
        median_words: quantile(lengths, 0.5),
        p90_words: quantile(lengths, 0.9),
        cites_gold: rate(answerable, (r) => r.citesGold),
        answerable_abstention: rate(answerable, (r) => r.abstained),
        offtopic_abstention: rate(of("offtopic"), (r) => r.abstained),
        unanswerable_abstention: rate(of("unanswerable"), (r) => r.abstained),
        empty_answers: results.filter((r) => r.empty).length,
        p50_ms: quantile(
          results.map((r) => r.ms),
          0.5,
        ),
        p95_ms: quantile(
          results.map((r) => r.ms),
          0.95,
        ),
        // Where the time goes, by the Worker's own stage timings (p95 of each).
        stages_p95_ms: Object.fromEntries(
          [...new Set(results.flatMap((r) => Object.keys(r.timings ?? {})))].map((stage) => [
            stage,
            quantile(
              results.map((r) => r.timings?.[stage] ?? 0),
              0.95,
            ),
          ]),
        ),
        questions: {
          answerable: answerable.length,
          offtopic: of("offtopic").length,
          unanswerable: of("unanswerable").length,
        },
      };
    }
  }
} finally {
  await served?.mf.dispose();
}

const f = (x, digits = 3) => (x === null || x === undefined ? "–" : typeof x === "number" ? x.toFixed(digits) : x);
for (const [name, set] of Object.entries(report.sets)) {
  console.log(`\n=== ${name} (${set.paragraphs} paragraphs) ===`);
  console.log("strategy   Recall@1  Recall@5  MRR@10");
  for (const [s, r] of Object.entries(set.strategies)) {
    console.log(
      `${s.padEnd(10)} ${f(r.recall_at_1).padStart(8)}  ${f(r.recall_at_5).padStart(8)}  ${f(r.mrr_at_10).padStart(6)}`,
    );
  }
  console.log(
    "mode       contains  words(med/p90)  cites-gold  abst:answerable  off-topic  adversarial  empty  p95 ms",
  );
  for (const [m, r] of Object.entries(set.modes)) {
    console.log(
      `${m.padEnd(10)} ${f(r.contains_gold).padStart(8)}  ${`${f(r.median_words, 0)}/${f(r.p90_words, 0)}`.padStart(14)}  ${f(r.cites_gold).padStart(10)}  ${f(r.answerable_abstention).padStart(15)}  ${f(r.offtopic_abstention).padStart(9)}  ${f(r.unanswerable_abstention).padStart(11)}  ${String(r.empty_answers).padStart(5)}  ${f(r.p95_ms, 0).padStart(6)}`,
    );
  }
  if (set.follow_ups) {
    const r = set.follow_ups;
    console.log(
      `follow-ups (${r.pairs} pairs, gold paragraph Recall@5): original ${f(r.recall_at_5_original)}, follow-up alone ${f(r.recall_at_5_follow_up_alone)}, with history ${f(r.recall_at_5_with_history)} — ratio ${f(r.ratio_with_history, 2)} (target >= 0.90) ${r.ratio_with_history >= 0.9 ? "PASS" : "FAIL"}`,
    );
  }
  if (set.control_fast_gold_paragraph) {
    console.log(
      `control: fast with only the gold paragraph searched: contains ${f(set.control_fast_gold_paragraph.contains_gold)}`,
    );
  }
}
const dir = path.resolve(import.meta.dirname, "../bench/results");
mkdirSync(dir, { recursive: true });
const file = path.join(dir, `eval-answers-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), ...report }, null, 2)}\n`);
console.log(`\nwritten ${path.relative(process.cwd(), file)}`);
if (dumpFile) {
  writeFileSync(dumpFile, JSON.stringify(dump));
}

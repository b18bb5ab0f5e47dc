import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { Generator } from "../../src/adapters/generate/interface";
import { LocalReranker } from "../../src/adapters/rerank/local";
import { AppError } from "../../src/errors";
import { Lru } from "../../src/lib/lru";
import { QueryBody } from "../../src/schemas/query";
import type { KeyPrincipal } from "../../src/services/principal";
import { NO_ANSWER } from "../../src/services/query/pipeline";
import { testDb } from "../support/db";
import {
  call,
  callWith,
  expectProblem,
  ingestText,
  json,
  newCollection,
  newKey,
  newTenant,
  type TestTenant,
} from "../support/http";
import { collectingInvocation, servicesFor } from "../support/services";
import { readSse } from "../support/sse";
import { WorkersAiStandIn } from "../support/standins/workers-ai";

type Answer = {
  answer: string;
  citations: Array<{ n: number; document_id: string; chunk_id: string; title: string; quote: string }>;
  sources: Array<{ document_id: string; chunk_id: string; title: string; score: number }>;
  mode: string;
  generator: string;
  cache: "hit" | "miss";
  degraded: string[];
  abstained: boolean;
  timings: Record<string, number>;
};

let tenant: TestTenant;
let col: string;

const ingest = (collection: string, title: string, text: string, owner = tenant) =>
  ingestText(owner, collection, title, text);

const ask = (body: Record<string, unknown>, token = tenant.adminKey) => call("POST", "/v1/query", { token, body });

beforeAll(async () => {
  tenant = await newTenant();
  col = await newCollection(tenant);
  await ingest(
    col,
    "Leave policy",
    "Employees receive twenty five days of paid vacation every year. Unused vacation days expire in March. " +
      "Sick leave is separate and unlimited with a doctor's note.",
  );
  await ingest(
    col,
    "Payroll",
    "Salaries are paid monthly by bank transfer. Vacation pay follows the same schedule as salaries.",
  );
}, 60_000);

describe("POST /v1/query", () => {
  for (const mode of ["fast", "balanced", "deep"] as const) {
    it(`answers in ${mode} mode with validated citations, sources, timings and Server-Timing`, async () => {
      const res = await ask({ query: "How many vacation days do employees receive?", collection_ids: [col], mode });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-cache")).toBe("MISS");
      expect(res.headers.get("cache-control")).toContain("no-store");
      const body = await json<Answer>(res);
      expect(body).toMatchObject({ mode, generator: "extractive", cache: "miss", degraded: [], abstained: false });
      expect(body.answer).toContain("twenty five days of paid vacation");
      // The one sentence that answers, not the policy around it.
      expect(body.answer).not.toContain("Sick leave");
      expect(body.sources[0]?.title).toBe("Leave policy");
      const markers = [...body.answer.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
      expect(markers.length).toBeGreaterThan(0);
      expect(new Set(body.citations.map((c) => c.n))).toEqual(new Set(markers));
      expect(body.citations[0]?.quote).toContain("vacation");
      const total = body.timings.total_ms ?? Number.NaN;
      expect(total).toBeGreaterThan(0);
      expect(total).toBeLessThan(5_000);
      for (const stage of ["normalize", "cache_lookup", "embed_query", "retrieve", "rerank", "generate", "cite"]) {
        expect(res.headers.get("server-timing")).toContain(`${stage};dur=`);
        const ms = body.timings[`${stage}_ms`] ?? Number.NaN;
        // Every stage is measured (a number) and fits inside the whole.
        expect({ stage, within: ms >= 0 && ms <= total }).toEqual({ stage, within: true });
      }
    });
  }

  it("serves a repeated question from the cache, and never a stale one after the collection changes", async () => {
    const question = { query: "When do unused vacation days expire?", collection_ids: [col], mode: "balanced" };
    expect((await json<Answer>(await ask(question))).cache).toBe("miss");
    const again = await ask(question);
    expect(again.headers.get("x-cache")).toBe("HIT");
    const cached = await json<Answer>(again);
    expect(cached.cache).toBe("hit");
    expect(cached.answer).toContain("March");

    await ingest(col, "Policy update", "From 2027 unused vacation days expire in June instead of March.");
    const fresh = await json<Answer>(await ask(question));
    expect(fresh.cache).toBe("miss");
    expect(fresh.sources.map((s) => s.title)).toContain("Policy update");
  });

  it("keeps another tenant, and a key restricted to other collections, out of a cached answer", async () => {
    const question = { query: "How are salaries paid?", collection_ids: [col], mode: "fast" };
    await ask(question);
    expect((await json<Answer>(await ask(question))).cache).toBe("hit");
    // Another tenant asking about the same collection id gets 404, not the cached answer.
    const other = await newTenant("Other");
    await expectProblem(await ask(question, other.adminKey), 404, "not_found");
    // A key of the same tenant restricted to another collection is refused.
    const elsewhere = await newCollection(tenant);
    const restricted = await newKey(tenant, { scopes: ["query"], collection_ids: [elsewhere] });
    await expectProblem(await ask(question, restricted.key), 403, "forbidden");
    // The same question in the other tenant's own collection is answered from its own data.
    const theirs = await newCollection(other);
    await ingest(theirs, "Their payroll", "Salaries are paid weekly in cash.", other);
    const answer = await json<Answer>(await ask({ ...question, collection_ids: [theirs] }, other.adminKey));
    expect(answer.cache).toBe("miss");
    expect(answer.answer).toContain("weekly");
  });

  for (const mode of ["fast", "balanced", "deep"] as const) {
    it(`abstains in ${mode} mode when the documents do not answer, with a clear sentence and no citation`, async () => {
      const question = { query: "What is the boiling point of liquid nitrogen?", collection_ids: [col], mode };
      const body = await json<Answer>(await ask(question));
      expect(body).toMatchObject({ answer: NO_ANSWER, abstained: true, citations: [], cache: "miss", degraded: [] });
      // Cached like any answer, abstention included.
      const again = await json<Answer>(await ask(question));
      expect(again).toMatchObject({ answer: NO_ANSWER, abstained: true, cache: "hit" });
    });
  }

  it("abstains when a passage shares only one word with the question", async () => {
    // "days" is in the leave policy; nothing there says anything about the moon.
    const body = await json<Answer>(
      await ask({ query: "How many days does the moon take to orbit the earth?", collection_ids: [col], mode: "fast" }),
    );
    expect(body.abstained).toBe(true);
    expect(body.answer).toBe(NO_ANSWER);
  });

  it("says so in the SSE done event, after the abstention's token", async () => {
    const res = await ask({
      query: "Who composed the Moonlight Sonata?",
      collection_ids: [col],
      mode: "balanced",
      stream: true,
    });
    const events = await readSse(res);
    expect(events.filter((e) => e.event === "token").map((e) => JSON.parse(e.data).text)).toEqual([NO_ANSWER]);
    expect(events.filter((e) => e.event === "citation")).toEqual([]);
    const done = JSON.parse(events.find((e) => e.event === "done")?.data ?? "{}") as Answer;
    expect(done).toMatchObject({ answer: NO_ANSWER, abstained: true, citations: [] });
    const answered = await readSse(
      await ask({ query: "When do unused vacation days expire?", collection_ids: [col], mode: "fast", stream: true }),
    );
    expect(JSON.parse(answered.find((e) => e.event === "done")?.data ?? "{}")).toMatchObject({ abstained: false });
  });

  it("answers Korean questions from Korean documents, whatever particles the words carry", async () => {
    const ko = await newCollection(tenant);
    await ingest(
      ko,
      "취업 규칙",
      "연차 휴가는 매년 15일이 주어진다. 사용하지 않은 휴가는 다음 해 3월에 소멸된다.\n\n" +
        "급여는 매월 25일에 계좌로 지급된다. 식대는 별도로 지원된다.",
    );
    await ingest(ko, "보안 규정", "노트북은 퇴근할 때 잠금 장치에 보관해야 한다. 비밀번호는 90일마다 바꾼다.");
    // "휴가" asked bare, written "휴가는" in the document: a bigram of it.
    const search = await json<{ results: Array<{ title: string }> }>(
      await call("POST", "/v1/search", {
        token: tenant.adminKey,
        body: { query: "휴가 며칠", collection_ids: [ko], strategy: "keyword" },
      }),
    );
    expect(search.results[0]?.title).toBe("취업 규칙");
    for (const mode of ["fast", "balanced", "deep"] as const) {
      const body = await json<Answer>(await ask({ query: "연차 휴가는 며칠인가?", collection_ids: [ko], mode }));
      expect({ mode, abstained: body.abstained }).toEqual({ mode, abstained: false });
      expect(body.answer).toContain("연차 휴가는 매년 15일이 주어진다.");
      // One sentence: not the salary, not the laptop.
      expect(body.answer).not.toContain("노트북");
      expect(body.citations[0]?.quote).toBe("연차 휴가는 매년 15일이 주어진다.");
    }
    const off = await json<Answer>(await ask({ query: "케냐의 수도는 어디인가?", collection_ids: [ko], mode: "fast" }));
    expect(off).toMatchObject({ abstained: true, answer: NO_ANSWER });
  });

  it("stays on time: with no budget left it skips what it can and says so", async () => {
    const res = await callWith({ QUERY_BUDGET_DEEP_MS: "1" }, "POST", "/v1/query", {
      token: tenant.adminKey,
      body: { query: "vacation days and salaries", collection_ids: [col], mode: "deep" },
    });
    // Budgets count from the start of the request: 1 ms is spent before expansion is considered.
    const body = await json<Answer>(res);
    expect(res.status).toBe(200);
    expect(body.degraded).toEqual(expect.arrayContaining(["expansion_skipped", "rerank_skipped"]));
    expect(body.sources.length).toBeGreaterThan(0);
    // An answer made under pressure is not cached.
    const again = await callWith({ QUERY_BUDGET_DEEP_MS: "1" }, "POST", "/v1/query", {
      token: tenant.adminKey,
      body: { query: "vacation days and salaries", collection_ids: [col], mode: "deep" },
    });
    expect((await json<Answer>(again)).cache).toBe("miss");
  });

  it("refuses bad input with problem+json", async () => {
    await expectProblem(
      await ask({ query: "the and of", collection_ids: [col], mode: "fast" }),
      422,
      "validation_failed",
    );
    await expectProblem(await ask({ query: "x", collection_ids: [col], mode: "slow" }), 422, "validation_failed");
    await expectProblem(await ask({ query: "x", collection_ids: [col], top_k: 51 }), 422, "validation_failed");
    await expectProblem(await ask({ query: " ", collection_ids: [col] }), 422, "validation_failed");
    await expectProblem(
      await ask({ query: "vacation", collection_ids: ["col_AAAAAAAAAAAAAAAA"], mode: "fast" }),
      404,
      "not_found",
    );
  });

  it("writes every query, answered or refused, to the query log (batched, off the hot path)", async () => {
    const marker = `sick leave ${crypto.randomUUID().replace(/[^a-f]/g, "")}`;
    await ask({ query: marker, collection_ids: [col], mode: "fast" });
    await ask({ query: marker, collection_ids: ["col_AAAAAAAAAAAAAAAA"], mode: "fast" });
    const logged = async () =>
      (
        await testDb()
          .prepare(
            "SELECT status, mode, cache_hit, result_count, timings FROM query_log WHERE tenant_id = ? AND query_text = ?",
          )
          .bind(tenant.id, marker)
          .all<{ status: number; mode: string; cache_hit: number; result_count: number; timings: string }>()
      ).results;
    await expect.poll(async () => (await logged()).length, { timeout: 5_000 }).toBe(2);
    const rows = await logged();
    expect(rows.map((r) => r.status).sort()).toEqual([200, 404]);
    const answered = rows.find((r) => r.status === 200);
    expect(answered?.result_count).toBeGreaterThan(0);
    expect(JSON.parse(answered?.timings ?? "{}")).toHaveProperty("retrieve_ms");
  });
});

describe("POST /v1/query (streaming)", () => {
  it("streams retrieval before tokens, then citations and done, as SSE", async () => {
    const res = await call("POST", "/v1/query", {
      token: tenant.adminKey,
      body: { query: "How are salaries paid?", collection_ids: [col], mode: "balanced", stream: true },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = await readSse(res);
    const names = events.map((e) => e.event);
    expect(names[0]).toBe("retrieval");
    expect(names).toContain("token");
    expect(names.at(-1)).toBe("done");
    expect(names.indexOf("retrieval")).toBeLessThan(names.indexOf("token"));
    const done = JSON.parse(events.at(-1)?.data ?? "{}") as Answer;
    const tokens = events.filter((e) => e.event === "token").map((e) => (JSON.parse(e.data) as { text: string }).text);
    expect(tokens.join("")).toBe(done.answer);
    expect(events.filter((e) => e.event === "citation")).toHaveLength(done.citations.length);
  });

  it("streams with Accept: text/event-stream too, and refuses before streaming when it must", async () => {
    const res = await call("POST", "/v1/query", {
      token: tenant.adminKey,
      headers: { accept: "text/event-stream" },
      body: { query: "sick leave", collection_ids: [col], mode: "fast" },
    });
    expect((await readSse(res)).at(-1)?.event).toBe("done");
    const refused = await call("POST", "/v1/query", {
      token: tenant.adminKey,
      headers: { accept: "text/event-stream" },
      body: { query: "sick leave", collection_ids: ["col_AAAAAAAAAAAAAAAA"], mode: "fast" },
    });
    await expectProblem(refused, 404, "not_found");
  });
});

describe("the answer pipeline with other generators", () => {
  const principalOf = (t: TestTenant): KeyPrincipal => ({
    kind: "key",
    tenantId: t.id,
    keyId: t.adminKeyId,
    scopes: ["admin"],
    collectionIds: null,
    filter: null,
    rateTier: "standard",
  });
  const run = async (generator: Generator, signal?: AbortSignal, budgetMs = 5_000) => {
    const budget = String(budgetMs);
    const settings = {
      QUERY_BUDGET_FAST_MS: budget,
      QUERY_BUDGET_BALANCED_MS: budget,
      QUERY_BUDGET_DEEP_MS: budget,
      SEARCH_VECTOR_WEIGHT: "0.01",
      SEARCH_COMMON_TERM_RATIO: "0.2",
      ANSWER_CACHE_TTL_S: "0",
      EMBEDDING_CACHE_TTL_S: "0",
    };
    const { query } = servicesFor(settings, collectingInvocation(), {
      reranker: new LocalReranker(),
      generator,
      queryEmbeddings: new Lru(10),
      answers: undefined,
    });
    const input = QueryBody.parse({ query: "How many vacation days?", collection_ids: [col], mode: "balanced" });
    const prepared = await query.prepare(principalOf(tenant), input);
    return query.answer(principalOf(tenant), input, prepared, { startedAt: performance.now(), signal });
  };

  it("falls back to the extractive generator when the configured one fails", async () => {
    const failing: Generator = {
      name: "openai/broken",
      // biome-ignore lint/correctness/useYield: fails before its first token, like a refused request
      async *generate() {
        throw new AppError("upstream_unavailable", "the model is down");
      },
    };
    const result = await run(failing);
    expect(result.generator).toBe("extractive");
    expect(result.degraded).toEqual(["generator_fallback"]);
    expect(result.answer).toContain("vacation");
  });

  it("cuts a slow generator off at the deadline and falls back, on time", async () => {
    let aborted = false;
    const slow: Generator = {
      name: "openai/slow",
      async *generate(_request, options) {
        yield "Thinking";
        await new Promise<void>((resolve) => {
          options?.signal?.addEventListener("abort", () => {
            aborted = true;
            resolve();
          });
        });
        throw options?.signal?.reason ?? new Error("aborted");
      },
    };
    const started = performance.now();
    const result = await run(slow, undefined, 300);
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(aborted).toBe(true);
    expect(result.degraded).toContain("generator_fallback");
  });

  it("aborts generation when the client goes away, without falling back", async () => {
    const client = new AbortController();
    let sawAbort = false;
    const waiting: Generator = {
      name: "openai/waiting",
      async *generate(_request, options) {
        yield "Partial";
        client.abort(new Error("client disconnected"));
        sawAbort = options?.signal?.aborted ?? false;
        throw new Error("stopped");
      },
    };
    await expect(run(waiting, client.signal)).rejects.toThrow("stopped");
    expect(sawAbort).toBe(true);
  });
});

describe("POST /v1/query with an OpenAI-compatible model (local stand-in)", () => {
  const model = (apiKey: string, extra: Record<string, string> = {}) => ({
    GENERATOR_PROVIDER: "openai",
    GENERATOR_BASE_URL: `${env.TEST_OPENAI_URL}/v1`,
    GENERATOR_MODEL: "gpt-4o-mini",
    GENERATOR_API_KEY: apiKey,
    ANSWER_CACHE_TTL_S: "0",
    ...extra,
  });
  const key = () => `sk-test-${crypto.randomUUID()}`;
  const fault = (apiKey: string, body: Record<string, unknown>) =>
    fetch(`${env.TEST_OPENAI_URL}/__faults`, { method: "POST", body: JSON.stringify({ key: apiKey, ...body }) });
  const question = { query: "How are salaries paid?", collection_ids: [] as string[], mode: "balanced" };

  it("streams the model's answer, keeps only citations of real sources, and fences the context", async () => {
    const apiKey = key();
    const res = await callWith(model(apiKey), "POST", "/v1/query", {
      token: tenant.adminKey,
      body: { ...question, collection_ids: [col] },
    });
    const body = await json<Answer>(res);
    expect(body.generator).toBe("openai/gpt-4o-mini");
    expect(body.degraded).toEqual([]);
    expect(body.answer).toMatch(/^According to the sources, .+ \[1\]$/);
    expect(body.answer).not.toContain("[9]");
    expect(body.citations.map((c) => c.n)).toEqual([1]);
    const sent = (await (await fetch(`${env.TEST_OPENAI_URL}/__requests?key=${apiKey}`)).json()) as Array<{
      stream: boolean;
      messages: Array<{ role: string; content: string }>;
    }>;
    expect(sent[0]?.stream).toBe(true);
    expect(sent[0]?.messages[0]?.content).toMatch(/never follow instructions/);
    expect(sent[0]?.messages[1]?.content).toMatch(/^<context>\n<source n="1" title="[^"]*">/);
  });

  it("asks the model for a short answer and a fixed abstention sentence, and takes that sentence as an abstention", async () => {
    const apiKey = key();
    await fault(apiKey, { reply: NO_ANSWER });
    const body = await json<Answer>(
      await callWith(model(apiKey), "POST", "/v1/query", {
        token: tenant.adminKey,
        body: { ...question, collection_ids: [col] },
      }),
    );
    expect(body).toMatchObject({ answer: NO_ANSWER, abstained: true, citations: [], degraded: [] });
    const sent = (await (await fetch(`${env.TEST_OPENAI_URL}/__requests?key=${apiKey}`)).json()) as Array<{
      messages: Array<{ role: string; content: string }>;
    }>;
    expect(sent[0]?.messages[0]?.content).toContain(`reply with exactly this sentence and nothing else: ${NO_ANSWER}`);
    expect(sent[0]?.messages[0]?.content).toMatch(/at most 3 short sentences/);
  });

  it("turns a model answer that its sources do not support into an abstention", async () => {
    const apiKey = key();
    await fault(apiKey, { reply: "The moon is made of green cheese [1]. Astronauts confirmed it [2]." });
    const body = await json<Answer>(
      await callWith(model(apiKey), "POST", "/v1/query", {
        token: tenant.adminKey,
        body: { ...question, collection_ids: [col] },
      }),
    );
    expect(body).toMatchObject({ answer: NO_ANSWER, abstained: true, citations: [] });
    expect(body.degraded).toContain("unsupported_dropped");
  });

  it("falls back to the extractive answer when the model fails", async () => {
    const apiKey = key();
    await fault(apiKey, { status: 500, times: 5 });
    const body = await json<Answer>(
      await callWith(model(apiKey), "POST", "/v1/query", {
        token: tenant.adminKey,
        body: { ...question, collection_ids: [col] },
      }),
    );
    expect(body.generator).toBe("extractive");
    expect(body.degraded).toEqual(["generator_fallback"]);
    expect(body.answer).toContain("monthly");
  });

  it("cuts a slow model off at the mode's deadline and still answers on time", async () => {
    const apiKey = key();
    await fault(apiKey, { delayMs: 400, times: 1 });
    const started = Date.now();
    const body = await json<Answer>(
      await callWith(model(apiKey, { QUERY_BUDGET_BALANCED_MS: "700" }), "POST", "/v1/query", {
        token: tenant.adminKey,
        body: { ...question, collection_ids: [col] },
      }),
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(body.degraded).toContain("generator_fallback");
    expect(body.answer).toContain("monthly");
  });

  it("aborts the model's generation when the streaming client disconnects", async () => {
    const apiKey = key();
    await fault(apiKey, { delayMs: 300, times: 1 });
    const res = await callWith(model(apiKey), "POST", "/v1/query", {
      token: tenant.adminKey,
      body: { ...question, collection_ids: [col], stream: true },
    });
    // Read until the model has started streaming, then hang up.
    const reader = res.body?.getReader();
    let seen = "";
    while (reader && !seen.includes("event: token")) {
      const { value, done } = await reader.read();
      if (done) {
        break;
      }
      seen += new TextDecoder().decode(value);
    }
    expect(seen).toContain("event: retrieval");
    expect(seen).toContain("event: token");
    await reader?.cancel();
    await expect
      .poll(
        async () =>
          ((await (await fetch(`${env.TEST_OPENAI_URL}/__aborted?key=${apiKey}`)).json()) as { aborted: boolean })
            .aborted,
        { timeout: 5_000 },
      )
      .toBe(true);
  });
});

describe("follow-ups rewritten by the configured model (stand-ins)", () => {
  const history = [
    { role: "user", content: "How are salaries paid?" },
    { role: "assistant", content: "Salaries are paid monthly. [1]" },
  ];
  const followUp = { query: "And when is it paid?", collection_ids: [] as string[], mode: "fast", history };

  it("asks the OpenAI-compatible model with a rewrite prompt, and searches with its question", async () => {
    const apiKey = `sk-test-${crypto.randomUUID()}`;
    const settings = {
      GENERATOR_PROVIDER: "openai",
      GENERATOR_BASE_URL: `${env.TEST_OPENAI_URL}/v1`,
      GENERATOR_MODEL: "gpt-4o-mini",
      GENERATOR_API_KEY: apiKey,
      ANSWER_CACHE_TTL_S: "0",
    };
    const body = await json<Answer & { rewritten_query: string }>(
      await callWith(settings, "POST", "/v1/query", {
        token: tenant.adminKey,
        body: { ...followUp, collection_ids: [col] },
      }),
    );
    // The label and the quotes the model added are gone.
    expect(body.rewritten_query).toBe("And when is it paid, regarding: How are salaries paid?");
    expect(body.degraded).toEqual([]);
    const sent = (await (await fetch(`${env.TEST_OPENAI_URL}/__requests?key=${apiKey}`)).json()) as Array<{
      stream?: boolean;
      messages: Array<{ role: string; content: string }>;
    }>;
    expect(sent[0]?.stream).toBeUndefined();
    expect(sent[0]?.messages[0]?.content).toMatch(/^Rewrite the follow-up question/);
    expect(sent[0]?.messages[1]?.content).toMatch(/^<conversation>\n<turn role="user">How are salaries paid\?<\/turn>/);
    // A question that stands alone costs no model call.
    const alone = await json<Answer & { rewritten_query: string }>(
      await callWith(settings, "POST", "/v1/query", {
        token: tenant.adminKey,
        body: { ...followUp, query: "How are salaries paid at Acme?", collection_ids: [col] },
      }),
    );
    expect(alone.rewritten_query).toBe("How are salaries paid at Acme?");
  });

  it("rewrites by rule when the model fails, and says so", async () => {
    const apiKey = `sk-test-${crypto.randomUUID()}`;
    await fetch(`${env.TEST_OPENAI_URL}/__faults`, {
      method: "POST",
      body: JSON.stringify({ key: apiKey, status: 500, times: 1 }),
    });
    const body = await json<Answer & { rewritten_query: string }>(
      await callWith(
        {
          GENERATOR_PROVIDER: "openai",
          GENERATOR_BASE_URL: `${env.TEST_OPENAI_URL}/v1`,
          GENERATOR_MODEL: "gpt-4o-mini",
          GENERATOR_API_KEY: apiKey,
          ANSWER_CACHE_TTL_S: "0",
        },
        "POST",
        "/v1/query",
        { token: tenant.adminKey, body: { ...followUp, collection_ids: [col] } },
      ),
    );
    expect(body.rewritten_query).toBe("And when is it paid? (salaries)");
    expect(body.degraded).toContain("rewrite_fallback");
  });

  it("asks a Workers AI model the same way", async () => {
    const ai = new WorkersAiStandIn();
    const body = await json<Answer & { rewritten_query: string }>(
      await callWith({ GENERATOR_PROVIDER: "workers-ai", AI: ai, ANSWER_CACHE_TTL_S: "0" }, "POST", "/v1/query", {
        token: tenant.adminKey,
        body: { ...followUp, collection_ids: [col] },
      }),
    );
    expect(body.rewritten_query).toBe("And when is it paid, regarding: How are salaries paid?");
    const rewrite = ai.calls.find((c) => JSON.stringify(c.inputs).includes("<conversation>"));
    expect(rewrite?.inputs.stream).toBeUndefined();
  });
});

describe("cache warming (cron)", () => {
  it("re-answers frequent recent queries whose cached answer went stale, for the key that asked", async () => {
    const warmTenant = await newTenant("Warm");
    const warmCol = await newCollection(warmTenant);
    await ingest(warmCol, "Leave", "Employees receive twenty five days of paid vacation every year.", warmTenant);
    const reader = await newKey(warmTenant, { scopes: ["query"], collection_ids: [warmCol] });
    const question = { query: "How many vacation days?", collection_ids: [warmCol], mode: "fast" };
    for (let i = 0; i < 3; i++) {
      await ask(question, reader.key);
    }
    await expect
      .poll(
        async () =>
          (
            await testDb()
              .prepare("SELECT COUNT(*) AS n FROM query_log WHERE tenant_id = ?")
              .bind(warmTenant.id)
              .first<{ n: number }>()
          )?.n,
        { timeout: 5_000 },
      )
      .toBe(3);
    // A new document bumps the version: the cached answer is stale now.
    await ingest(warmCol, "Leave update", "From next year employees receive thirty days of vacation.", warmTenant);

    const { query } = servicesFor(
      { SEARCH_VECTOR_WEIGHT: "0.01", ANSWER_CACHE_TTL_S: "300", EMBEDDING_CACHE_TTL_S: "0" },
      collectingInvocation(),
      { reranker: new LocalReranker(), queryEmbeddings: new Lru(10) },
    );
    const warm = () => query.warm(10);
    const first = await warm();
    expect(first.warmed).toBeGreaterThanOrEqual(1);
    const answered = await json<Answer>(await ask(question, reader.key));
    expect(answered.cache).toBe("hit");
    expect(answered.sources.map((s) => s.title)).toContain("Leave update");
    // Nothing changed since: the next run finds it fresh.
    const second = await warm();
    expect(second.fresh).toBeGreaterThanOrEqual(1);
  });
});

describe("POST /v1/query with Workers AI (binding stand-in)", () => {
  it("generates with a streamed Workers AI model and reranks with its cross-encoder", async () => {
    const ai = new WorkersAiStandIn();
    const settings = {
      GENERATOR_PROVIDER: "workers-ai",
      RERANKER_PROVIDER: "workers-ai",
      AI: ai,
      ANSWER_CACHE_TTL_S: "0",
    };
    const res = await callWith(settings, "POST", "/v1/query", {
      token: tenant.adminKey,
      body: { query: "How are salaries paid?", collection_ids: [col], mode: "balanced" },
    });
    const body = await json<Answer>(res);
    expect(body.generator).toBe("workers-ai/@cf/meta/llama-3.1-8b-instruct");
    expect(body.degraded).toEqual([]);
    expect(body.answer).toMatch(/monthly.* \[1\]$/);
    expect(body.citations.map((c) => c.n)).toEqual([1]);
    expect(ai.calls.map((c) => c.model)).toEqual(
      expect.arrayContaining(["@cf/baai/bge-reranker-base", "@cf/meta/llama-3.1-8b-instruct"]),
    );
    expect(ai.calls.find((c) => c.model === "@cf/meta/llama-3.1-8b-instruct")?.inputs.stream).toBe(true);
  });

  it("answers with the models npm run deploy chooses, and degrades to the embedded ones when they fail", async () => {
    // The collection was embedded locally and a collection never mixes models, so the query keeps
    // the local embedder here; bge-m3 itself is tested with the embedders (providers.test.ts).
    const deployed = {
      RERANKER_PROVIDER: "workers-ai",
      GENERATOR_PROVIDER: "workers-ai",
      GENERATOR_MODEL: "@cf/meta/llama-3.1-8b-instruct-fp8-fast",
      ANSWER_CACHE_TTL_S: "0",
    };
    const ai = new WorkersAiStandIn();
    const ask = (binding: WorkersAiStandIn) =>
      callWith({ ...deployed, AI: binding }, "POST", "/v1/query", {
        token: tenant.adminKey,
        body: { query: "How are salaries paid?", collection_ids: [col], mode: "balanced" },
      });
    const body = await json<Answer>(await ask(ai));
    expect(body).toMatchObject({ generator: "workers-ai/@cf/meta/llama-3.1-8b-instruct-fp8-fast", degraded: [] });
    expect(body.answer).toMatch(/monthly.* \[1\]$/);
    expect(ai.calls.map((c) => c.model)).toEqual(
      expect.arrayContaining(["@cf/baai/bge-reranker-base", "@cf/meta/llama-3.1-8b-instruct-fp8-fast"]),
    );
    // Out of budget (Workers AI's daily allocation): every model call fails; the answer still comes.
    const spent = new WorkersAiStandIn();
    spent.faults = { error: new Error("4006: you have used up your daily free allocation of 10,000 neurons") };
    const degraded = await json<Answer>(await ask(spent));
    expect(degraded.generator).toBe("extractive");
    expect(degraded.degraded).toEqual(["rerank_failed", "generator_fallback"]);
    expect(degraded.answer).toContain("monthly");
    expect(degraded.abstained).toBe(false);
  });

  it("keeps the first-stage order when the reranker fails, and says so", async () => {
    const ai = new WorkersAiStandIn();
    ai.faults = { error: new Error("3040: Capacity temporarily exceeded") };
    const res = await callWith(
      { RERANKER_PROVIDER: "workers-ai", AI: ai, ANSWER_CACHE_TTL_S: "0" },
      "POST",
      "/v1/query",
      { token: tenant.adminKey, body: { query: "How are salaries paid?", collection_ids: [col], mode: "balanced" } },
    );
    const body = await json<Answer>(res);
    expect(res.status).toBe(200);
    expect(body.degraded).toEqual(["rerank_failed"]);
    expect(body.answer).toContain("monthly");
  });
});

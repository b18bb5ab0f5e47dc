/**
 * Tracing and metrics through the real entry points: spans arrive at an OTLP/HTTP receiver
 * stand-in (test/support/standins/otlp.ts) as a collector would take them, with the span tree a
 * query makes; a client's traceparent continues; outbound requests and queue messages carry the
 * trace; a collector that is down or hangs costs the request nothing. Analytics Engine points are
 * read from an in-memory dataset given as the `ANALYTICS` binding.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { MemoryAnalytics } from "../../src/adapters/telemetry/memory";
import { createApp } from "../../src/app";
import { MAX_POINTS, SCHEMA } from "../../src/telemetry/analytics-schema";
import { isolateMetrics } from "../../src/telemetry/metrics";
import { formatTraceparent, newSpanId, newTraceId } from "../../src/telemetry/trace-context";
import { STORE } from "../support/db";
import { ADMIN, call, ingestText, json, newCollection, newTenant, type TestTenant } from "../support/http";
import type { ReceivedSpan } from "../support/standins/otlp";

let tenant: TestTenant;
let collection: string;
const SECRET_TEXT = "Employees receive twenty five days of paid vacation every year.";

beforeAll(async () => {
  tenant = await newTenant();
  collection = await newCollection(tenant);
  await ingestText(tenant, collection, "Leave policy", `${SECRET_TEXT} Unused vacation days expire in March.`);
}, 60_000);

async function spansOf(query: string): Promise<ReceivedSpan[]> {
  const res = await fetch(`${env.TEST_OTLP_URL}/_spans?${query}`);
  return ((await res.json()) as { spans: ReceivedSpan[] }).spans;
}

/** A client's own span context, sampled, as a browser or a gateway would send it. */
function clientContext() {
  const context = { traceId: newTraceId(), spanId: newSpanId(), sampled: true };
  return { context, header: formatTraceparent(context) };
}

/** A request through a fresh app with extra settings, waiting for its `waitUntil` work (the export). */
async function callWithEnv(extra: Record<string, unknown>, method: string, path: string, init: RequestInit = {}) {
  const ctx = createExecutionContext();
  const request = new Request(`http://edgerag.test${path}`, { method, ...init });
  const started = Date.now();
  const res = await createApp().fetch(request, { ...env, ...extra } as Env, ctx);
  const responseMs = Date.now() - started;
  await waitOnExecutionContext(ctx);
  return { res, responseMs, settledMs: Date.now() - started };
}

const queryInit = (headers: Record<string, string>, query = "How many vacation days do employees get?") => ({
  headers: { authorization: `Bearer ${tenant.adminKey}`, "content-type": "application/json", ...headers },
  body: JSON.stringify({ query, collection_ids: [collection], mode: "balanced" }),
});

describe("traces", () => {
  it("a query is one trace continuing the client's, with a span per stage and per dependency call", async () => {
    const client = clientContext();
    const { res } = await callWithEnv(
      {},
      "POST",
      "/v1/query",
      queryInit({ traceparent: client.header, tracestate: "vendor=abc" }),
    );
    expect(res.status).toBe(200);
    const spans = await spansOf(`trace=${client.context.traceId}`);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const named = (name: string) => spans.filter((s) => s.name === name);
    const parentOf = (span: ReceivedSpan) => (span.parentSpanId ? byId.get(span.parentSpanId) : undefined);

    // The server span continues the client's: same trace, the client's span as parent.
    const [root] = named("POST /v1/query");
    expect(root).toBeDefined();
    expect(root?.kind).toBe(2);
    expect(root?.parentSpanId).toBe(client.context.spanId);
    expect(root?.attributes).toMatchObject({
      "http.route": "/v1/query",
      "http.response.status_code": 200,
      "edgerag.tenant_id": tenant.id,
      "edgerag.mode": "balanced",
      "edgerag.cache": "miss",
      "edgerag.collections": 1,
    });
    expect(root?.resource["service.name"]).toBe("edgerag");
    // Every other span hangs from a span of this trace: the tree is closed.
    for (const span of spans) {
      if (span !== root) {
        expect(byId.has(span.parentSpanId ?? ""), `${span.name} has a parent in the trace`).toBe(true);
      }
      expect(span.endMs).toBeGreaterThanOrEqual(span.startMs);
    }
    // query.answer under the root; the Server-Timing stages under it, in order.
    const [answer] = named("query.answer");
    expect(parentOf(answer as ReceivedSpan)).toBe(root);
    const stages = spans
      .filter((s) => s.name.startsWith("stage.") && s.parentSpanId === answer?.spanId)
      .sort((a, b) => a.startMs - b.startMs)
      .map((s) => s.name);
    expect(stages).toEqual(expect.arrayContaining(["stage.cache_lookup", "stage.embed_query", "stage.retrieve"]));
    expect(stages[0]).toBe("stage.cache_lookup");
    // Adapter calls as client spans under their stage: the vector index under retrieve, D1 with rows.
    const vectorCalls = spans.filter((s) => s.attributes["edgerag.dependency"] === "vectors");
    expect(vectorCalls.length).toBeGreaterThan(0);
    expect(vectorCalls.every((s) => s.kind === 3 && parentOf(s)?.name === "stage.retrieve")).toBe(true);
    const d1 = spans.filter((s) => s.attributes["edgerag.dependency"] === STORE);
    expect(d1.length).toBeGreaterThan(0);
    expect(d1.some((s) => typeof s.attributes["db.rows_read"] === "number")).toBe(true);
    expect(spans.some((s) => s.attributes["edgerag.dependency"] === "cache")).toBe(true);
    // Never a secret or the document's text.
    const text = JSON.stringify(spans);
    expect(text).not.toContain(tenant.adminKey);
    expect(text).not.toContain("twenty five days");
  });

  it("the trace id is in the problem document and in every log line", async () => {
    const client = clientContext();
    const lines: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((line: string) => void lines.push(line));
    try {
      const { res } = await callWithEnv({ LOG_LEVEL: "info" }, "GET", "/v1/collections/col_doesnotexist0000", {
        headers: { authorization: `Bearer ${tenant.adminKey}`, traceparent: client.header },
      });
      expect(res.status).toBe(404);
      const problem = await json<{ trace_id: string; request_id: string }>(res);
      expect(problem.trace_id).toBe(client.context.traceId);
      const requestLines = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === "request");
      expect(requestLines).toHaveLength(1);
      expect(requestLines[0]).toMatchObject({ trace_id: client.context.traceId, request_id: problem.request_id });
    } finally {
      spy.mockRestore();
    }
    const root = (await spansOf(`trace=${client.context.traceId}`)).find((s) => s.kind === 2);
    expect(root?.attributes["edgerag.error_code"]).toBe("not_found");
    expect(root?.status).toBe(2);
  });

  it("an unsampled caller, or a new trace at ratio 0, records nothing but still has a trace id", async () => {
    const unsampled = formatTraceparent({ traceId: newTraceId(), spanId: newSpanId(), sampled: false });
    const { res } = await callWithEnv({}, "GET", "/v1/collections/col_doesnotexist0000", {
      headers: { authorization: `Bearer ${tenant.adminKey}`, traceparent: unsampled },
    });
    const problem = await json<{ trace_id: string }>(res);
    expect(problem.trace_id).toBe(unsampled.split("-")[1]);
    expect(await spansOf(`trace=${problem.trace_id}`)).toEqual([]);
    // Malformed headers start a new trace instead of failing the request.
    for (const bad of ["00-00000000000000000000000000000000-0000000000000000-01", "garbage", `ff-${"a".repeat(50)}`]) {
      const { res: again } = await callWithEnv({}, "GET", "/v1/collections/col_doesnotexist0000", {
        headers: { authorization: `Bearer ${tenant.adminKey}`, traceparent: bad },
      });
      const body = await json<{ trace_id: string }>(again);
      expect(body.trace_id).toMatch(/^[0-9a-f]{32}$/);
      expect(body.trace_id).not.toBe("0".repeat(32));
    }
  });

  it("outbound requests carry the trace: the embedding provider sees a child of the embedder's span", async () => {
    const apiKey = `sk-test-${crypto.randomUUID()}`;
    const providers = {
      EMBEDDINGS_PROVIDER: "openai",
      EMBEDDINGS_BASE_URL: `${env.TEST_OPENAI_URL}/v1`,
      EMBEDDINGS_DIMENSIONS: "256",
      EMBEDDINGS_API_KEY: apiKey,
    };
    // A collection of this embedder's (the tenant's other one was made with the local embedder).
    const created = await callWithEnv(providers, "POST", "/v1/collections", {
      headers: { authorization: `Bearer ${tenant.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ name: `openai-${crypto.randomUUID()}` }),
    });
    const own = (await json<{ id: string }>(created.res)).id;
    const client = clientContext();
    const { res } = await callWithEnv(providers, "POST", "/v1/search", {
      headers: {
        authorization: `Bearer ${tenant.adminKey}`,
        "content-type": "application/json",
        traceparent: client.header,
      },
      body: JSON.stringify({ query: "vacation days", collection_ids: [own], strategy: "vector" }),
    });
    expect(res.status).toBe(200);
    const seen = (await (await fetch(`${env.TEST_OPENAI_URL}/__traceparents?key=${apiKey}`)).json()) as string[];
    expect(seen.length).toBeGreaterThan(0);
    const [, traceId, parentSpanId, flags] = (seen[0] as string).split("-");
    expect(traceId).toBe(client.context.traceId);
    expect(flags).toBe("01");
    const spans = await spansOf(`trace=${client.context.traceId}`);
    const fetchSpan = spans.find((s) => s.spanId === parentSpanId);
    expect(fetchSpan?.name).toBe("fetch POST");
    expect(fetchSpan?.attributes["server.address"]).toBe(new URL(env.TEST_OPENAI_URL).host);
    const embedder = spans.find((s) => s.spanId === fetchSpan?.parentSpanId);
    expect(embedder?.name).toBe("embedder embed");
    // The provider's key went to the provider, never into a span.
    expect(JSON.stringify(spans)).not.toContain(apiKey);

    // A provider that fails once with a 503: the retry is counted on the embedder's span, its
    // dependency point and the live snapshot.
    await fetch(`${env.TEST_OPENAI_URL}/__faults`, {
      method: "POST",
      body: JSON.stringify({ key: apiKey, status: 503, times: 1 }),
    });
    const before = isolateMetrics.snapshot().dependencies.embedder?.retries ?? 0;
    const analytics = new MemoryAnalytics();
    const again = clientContext();
    const retried = await callWithEnv({ ...providers, ANALYTICS: analytics }, "POST", "/v1/search", {
      headers: {
        authorization: `Bearer ${tenant.adminKey}`,
        "content-type": "application/json",
        traceparent: again.header,
      },
      body: JSON.stringify({
        query: `vacation days ${crypto.randomUUID()}`,
        collection_ids: [own],
        strategy: "vector",
      }),
    });
    expect(retried.res.status).toBe(200);
    const embedSpan = (await spansOf(`trace=${again.context.traceId}`)).find((s) => s.name === "embedder embed");
    expect(embedSpan?.attributes["edgerag.retries"]).toBe(1);
    expect(analytics.rows.find((r) => r.blob1 === "dependency" && r.blob2 === "embedder")?.double5).toBe(1);
    expect(isolateMetrics.snapshot().dependencies.embedder?.retries).toBe(before + 1);
  });

  it("an upload's trace links to the ingestion consumer's, through the queue message", async () => {
    const client = clientContext();
    const res = await call("POST", `/v1/collections/${collection}/documents`, {
      token: tenant.adminKey,
      headers: { traceparent: client.header },
      body: { title: "Traced upload", text: "Parking permits are renewed every January.", priority: "high" },
    });
    expect(res.status).toBe(202);
    await vi.waitFor(
      async () => {
        const consumers = await spansOf(`linked=${client.context.traceId}`);
        expect(consumers.map((s) => s.name)).toContain("edgerag-ingest-high process");
        const consumer = consumers.find((s) => s.name === "edgerag-ingest-high process");
        expect(consumer?.kind).toBe(5);
        expect(consumer?.traceId).not.toBe(client.context.traceId);
        // The link names the span that sent the message (a queue send under the upload's trace).
        const upload = await spansOf(`trace=${client.context.traceId}`);
        const send = upload.find((s) => s.spanId === consumer?.links[0]?.spanId);
        expect(send?.name).toMatch(/^queue:ingest-high send/);
        // The consumer's own calls are in its trace.
        const work = await spansOf(`trace=${consumer?.traceId}`);
        expect(work.some((s) => s.attributes["edgerag.dependency"] === "embedder")).toBe(true);
      },
      { timeout: 15_000, interval: 200 },
    );
  });

  it("a collector that is down or hangs costs the request nothing: spans are dropped and counted", async () => {
    for (const endpoint of ["http://127.0.0.1:9", env.TEST_HANG_URL]) {
      const before = isolateMetrics.snapshot().tracing;
      const client = clientContext();
      const settings = { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_TIMEOUT: "300" };
      const { res, responseMs, settledMs } = await callWithEnv(
        settings,
        "POST",
        "/v1/query",
        queryInit({ traceparent: client.header }),
      );
      expect(res.status).toBe(200);
      await res.text();
      // The response did not wait for the export; the export gave up within its timeout.
      expect(responseMs).toBeLessThan(settledMs + 1);
      expect(settledMs - responseMs).toBeLessThan(2_000);
      const after = isolateMetrics.snapshot().tracing;
      expect(after.export_failures).toBe(before.export_failures + 1);
      expect(after.spans_dropped).toBeGreaterThan(before.spans_dropped);
      expect(after.last_failure).toBeTruthy();
    }
  });
});

describe("metrics", () => {
  it("a query writes one request point and one per dependency, within the budget, by the schema", async () => {
    const analytics = new MemoryAnalytics();
    const query = `How many vacation days? ${crypto.randomUUID()}`;
    for (const expected of ["miss", "hit"]) {
      analytics.rows.length = 0;
      // Versions read from D1 on every query here, so the d1 point is there to check.
      const settings = { ANALYTICS: analytics, COLLECTION_VERSION_MAX_AGE_MS: "0" };
      const { res } = await callWithEnv(settings, "POST", "/v1/query", queryInit({}, query));
      expect(res.status).toBe(200);
      expect(analytics.rows.length).toBeLessThanOrEqual(MAX_POINTS);
      const [request, ...dependencies] = analytics.rows;
      expect(request).toMatchObject({
        index1: tenant.id,
        blob1: "request",
        blob2: "/v1/query",
        blob4: "ok",
        blob5: "POST",
        blob6: "balanced",
        blob7: expected,
        blob8: tenant.id,
        double2: 1,
        double3: 0,
        double4: 200,
        double5: 1,
      });
      expect(request?.double1).toBeGreaterThanOrEqual(0);
      // The Worker version id (CF_VERSION_METADATA): what the deploy gates split by.
      expect(request?.blob3).toMatch(/^[0-9a-f-]{36}$|^dev$/);
      expect(dependencies.every((row) => row.blob1 === "dependency" && row.blob5 === "/v1/query")).toBe(true);
      const d1 = dependencies.find((row) => row.blob2 === STORE);
      // db_calls on the request point is the store point's calls.
      expect(d1?.double2).toBe(request?.double7);
      expect(Number(d1?.double2)).toBeGreaterThan(0);
      expect(Number(d1?.double6)).toBeGreaterThan(0);
      const names = dependencies.map((row) => row.blob2);
      expect(names).toContain("limiter");
      if (expected === "miss") {
        // (The hit comes from the isolate's answer cache: no cache or index call at all.)
        expect(names).toEqual(expect.arrayContaining(["cache", "embedder", "vectors"]));
      }
      // Every column written is one the schema names for its kind.
      for (const row of analytics.rows) {
        const kind = SCHEMA[row.blob1 as keyof typeof SCHEMA];
        expect(kind).toBeDefined();
        for (let i = kind.blobs.length + 1; i <= 20; i++) {
          expect(row[`blob${i}`]).toBe("");
        }
        for (let i = kind.doubles.length + 1; i <= 20; i++) {
          expect(row[`double${i}`]).toBe(0);
        }
      }
    }
  });

  it("errors are counted by code on the point and in /health/detailed's live snapshot", async () => {
    const analytics = new MemoryAnalytics();
    const { res } = await callWithEnv({ ANALYTICS: analytics }, "GET", "/v1/collections/col_doesnotexist0000", {
      headers: { authorization: `Bearer ${tenant.adminKey}` },
    });
    expect(res.status).toBe(404);
    expect(analytics.rows[0]).toMatchObject({
      blob1: "request",
      blob2: "/v1/collections/:id",
      blob4: "not_found",
      double4: 404,
    });
    const detailed = await call("GET", "/health/detailed", { token: ADMIN });
    const body = await json<{
      metrics: {
        routes: Record<string, { requests: number; errors: Record<string, number>; p95_ms: number | null }>;
        dependencies: Record<string, { calls: number; in_flight: number; rows_read: number; p95_ms: number | null }>;
        tracing: { spans_exported: number };
      };
    }>(detailed);
    const route = body.metrics.routes["GET /v1/collections/:id"];
    expect(route?.requests).toBeGreaterThan(0);
    expect(route?.errors.not_found).toBeGreaterThan(0);
    expect(body.metrics.dependencies[STORE]?.calls).toBeGreaterThan(0);
    expect(body.metrics.dependencies[STORE]?.rows_read).toBeGreaterThan(0);
    expect(body.metrics.dependencies[STORE]?.p95_ms).not.toBeNull();
    expect(body.metrics.tracing.spans_exported).toBeGreaterThan(0);
  });

  it("a queue batch writes a queue point with its size and lag, and its dependencies", async () => {
    const analytics = new MemoryAnalytics();
    const { default: worker } = await import("../../src/index");
    const ctx = createExecutionContext();
    const sent = new Date(Date.now() - 5_000);
    const batch = {
      queue: "edgerag-ingest-dlq",
      messages: [
        {
          id: "m1",
          timestamp: sent,
          attempts: 3,
          body: { document_id: "doc_doesnotexist0000", tenant_id: tenant.id },
          ack: () => {},
          retry: () => {},
        },
      ],
      ackAll: () => {},
      retryAll: () => {},
    } as unknown as MessageBatch;
    await worker.queue(batch, { ...env, ANALYTICS: analytics } as Env, ctx);
    await waitOnExecutionContext(ctx);
    expect(analytics.rows[0]).toMatchObject({
      blob1: "queue",
      blob2: "edgerag-ingest-dlq",
      blob4: "ok",
      double2: 1,
      double4: 1,
      double6: 1,
    });
    expect(Number(analytics.rows[0]?.double5)).toBeGreaterThanOrEqual(5_000);
    expect(analytics.rows.slice(1).some((row) => row.blob2 === STORE && row.blob5 === "edgerag-ingest-dlq")).toBe(true);
  });
});

/**
 * The production embedders against local stand-ins of their protocols (test/support/standins),
 * and the whole path — upload, queue consumer, vector search through the public route — with
 * each non-default provider pair chosen by configuration.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { OpenAiEmbedder } from "../../src/adapters/embed/openai";
import { BGE_QUERY_INSTRUCTION, WorkersAiEmbedder } from "../../src/adapters/embed/workers-ai";
import { namespaceOf } from "../../src/adapters/vector/interface";
import type { IngestMessage } from "../../src/schemas/queue";
import { ADMIN, callWith, json, type TestTenant } from "../support/http";
import { servicesFor } from "../support/services";
import { VectorizeStandIn } from "../support/standins/vectorize";
import { WorkersAiStandIn } from "../support/standins/workers-ai";

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const texts = (n: number) => Array.from({ length: n }, (_, i) => `passage number ${i} about enzymes`);

describe("Workers AI embedder", () => {
  it("sends batches of at most 100 with cls pooling and the bge query instruction, and returns unit vectors", async () => {
    const ai = new WorkersAiStandIn();
    const embedder = new WorkersAiEmbedder(ai, "@cf/baai/bge-small-en-v1.5", 384, 1_000);
    const vectors = await embedder.embed(texts(250), "document");
    expect(vectors).toHaveLength(250);
    expect(ai.calls.map((c) => (c.inputs.text as string[]).length)).toEqual([100, 100, 50]);
    expect(ai.calls.every((c) => c.inputs.pooling === "cls")).toBe(true);
    expect(norm(vectors[0] as Float32Array)).toBeCloseTo(1, 5);
    expect(embedder.model).toBe("workers-ai/@cf/baai/bge-small-en-v1.5#cls");

    await embedder.embed(["what do enzymes do?"], "query");
    expect(ai.calls.at(-1)?.inputs.text).toEqual([`${BGE_QUERY_INSTRUCTION}what do enzymes do?`]);
  });

  it("sends the multilingual bge-m3 its text as it is: no pooling, no English instruction", async () => {
    const ai = new WorkersAiStandIn();
    const embedder = new WorkersAiEmbedder(ai, "@cf/baai/bge-m3", 1024, 1_000);
    expect(embedder.model).toBe("workers-ai/@cf/baai/bge-m3");
    const [vector] = await embedder.embed(["연차 휴가는 며칠인가?"], "query");
    expect(vector).toHaveLength(1024);
    expect(ai.calls.at(-1)?.inputs).toEqual({ text: ["연차 휴가는 며칠인가?"], truncate_inputs: true });
  });

  it("turns a failing, slow or wrong-sized model into upstream errors", async () => {
    const ai = new WorkersAiStandIn();
    ai.faults = { error: new Error("3040: Capacity temporarily exceeded") };
    const embedder = new WorkersAiEmbedder(ai, "@cf/baai/bge-small-en-v1.5", 384, 200);
    await expect(embedder.embed(["x"], "document")).rejects.toMatchObject({ code: "upstream_unavailable" });
    ai.faults = { delayMs: 1_000 };
    await expect(embedder.embed(["x"], "document")).rejects.toMatchObject({ code: "upstream_timeout" });
    const wrongSize = new WorkersAiEmbedder(new WorkersAiStandIn(), "@cf/baai/bge-base-en-v1.5", 384, 1_000);
    await expect(wrongSize.embed(["x"], "document")).rejects.toMatchObject({
      code: "upstream_unavailable",
      message: expect.stringMatching(/768 dimensions, expected 384/),
    });
  });
});

describe("OpenAI-compatible embedder", () => {
  const base = () => `${env.TEST_OPENAI_URL}/v1`;
  const key = () => `sk-test-${crypto.randomUUID()}`;
  const make = (apiKey: string, options: Partial<{ sendDimensions: boolean; timeoutMs: number }> = {}) =>
    new OpenAiEmbedder({
      baseUrl: base(),
      model: "text-embedding-3-small",
      dimensions: 256,
      sendDimensions: true,
      timeoutMs: 2_000,
      apiKey: async () => apiKey,
      ...options,
    });
  const sent = async (apiKey: string) =>
    (await (await fetch(`${env.TEST_OPENAI_URL}/__requests?key=${apiKey}`)).json()) as Array<Record<string, unknown>>;
  const fault = (apiKey: string, body: Record<string, unknown>) =>
    fetch(`${env.TEST_OPENAI_URL}/__faults`, { method: "POST", body: JSON.stringify({ key: apiKey, ...body }) });

  it("batches requests, asks for the configured dimensions, and keeps the order of the inputs", async () => {
    const apiKey = key();
    const embedder = make(apiKey);
    const vectors = await embedder.embed(texts(300), "document");
    expect(vectors).toHaveLength(300);
    const requests = await sent(apiKey);
    expect(requests.map((r) => (r.input as string[]).length)).toEqual([128, 128, 44]);
    expect(requests[0]).toMatchObject({ model: "text-embedding-3-small", dimensions: 256, encoding_format: "float" });
    // Same text, same vector: the 6th vector is the 6th text's, whatever the batch it was in.
    const [again] = await embedder.embed([texts(300)[5] as string], "document");
    expect(Array.from(again as Float32Array)).toEqual(Array.from(vectors[5] as Float32Array));
  });

  it("retries a 429 and a 503, then succeeds", async () => {
    const apiKey = key();
    await fault(apiKey, { status: 429, times: 1 });
    expect(await make(apiKey).embed(["a"], "query")).toHaveLength(1);
    await fault(apiKey, { status: 503, times: 2 });
    expect(await make(apiKey).embed(["a"], "query")).toHaveLength(1);
    expect(await sent(apiKey)).toHaveLength(5);
  });

  it("gives up with clear errors: upstream down, key refused, no answer in time", async () => {
    const down = key();
    await fault(down, { status: 500, times: 5 });
    await expect(make(down).embed(["a"], "query")).rejects.toMatchObject({ code: "upstream_unavailable" });
    await expect(make("not-a-test-key").embed(["a"], "query")).rejects.toMatchObject({
      code: "misconfigured",
      message: expect.not.stringContaining("not-a-test-key"),
    });
    const slow = key();
    await fault(slow, { delayMs: 1_500, times: 3 });
    await expect(make(slow, { timeoutMs: 300 }).embed(["a"], "query")).rejects.toMatchObject({
      code: "upstream_timeout",
    });
  });

  it("uses the tenant's own key from its secrets when one is stored, else the operator's", async () => {
    const operatorKey = key();
    const tenantKey = key();
    const { config, embedder } = servicesFor({
      EMBEDDINGS_PROVIDER: "openai",
      EMBEDDINGS_BASE_URL: base(),
      EMBEDDINGS_API_KEY: operatorKey,
      EMBEDDINGS_API_KEY_SECRET: "openai_api_key",
    });
    expect(config.problems).toEqual([]);
    const withSecret = await tenantWithSecret("openai_api_key", tenantKey);
    await embedder.embed(["a"], "query", { tenantId: withSecret });
    await embedder.embed(["b"], "query", { tenantId: "ten_without_secret" });
    expect(await sent(tenantKey)).toHaveLength(1);
    expect(await sent(operatorKey)).toHaveLength(1);
  });
});

async function tenantWithSecret(name: string, value: string): Promise<string> {
  const tenant = await newTenantVia({});
  const res = await callWith({}, "PUT", `/v1/secrets/${name}`, { token: tenant.adminKey, body: { value } });
  expect(res.status).toBeLessThan(300);
  return tenant.id;
}

async function newTenantVia(overrides: Record<string, unknown>): Promise<TestTenant> {
  const res = await callWith(overrides, "POST", "/v1/admin/tenants", { token: ADMIN, body: { name: "P" } });
  expect(res.status).toBe(201);
  const body = await json<{ tenant: { id: string }; api_key: { id: string; key: string } }>(res);
  return { id: body.tenant.id, adminKey: body.api_key.key, adminKeyId: body.api_key.id };
}

/** Queues that record what was sent, so this test runs the consumer itself with its own providers. */
function recordingQueue(sent: IngestMessage[]) {
  return {
    send: async (message: IngestMessage) => {
      sent.push(message);
    },
    sendBatch: async (messages: Array<{ body: IngestMessage }>) => {
      sent.push(...messages.map((m) => m.body));
    },
  };
}

describe.each([
  {
    name: "OpenAI-compatible embeddings + Upstash Vector",
    overrides: () => ({
      EMBEDDINGS_PROVIDER: "openai",
      EMBEDDINGS_BASE_URL: `${env.TEST_OPENAI_URL}/v1`,
      EMBEDDINGS_API_KEY: "sk-test-e2e",
      EMBEDDINGS_DIMENSIONS: "256",
      VECTOR_INDEX_PROVIDER: "upstash",
      UPSTASH_VECTOR_REST_URL: `${env.TEST_UPSTASH_VECTOR_URL}/d256`,
      UPSTASH_VECTOR_REST_TOKEN: env.TEST_UPSTASH_VECTOR_TOKEN,
    }),
    embedder: "openai/text-embedding-3-small@256",
    index: "upstash-vector",
  },
  {
    name: "Workers AI embeddings + Vectorize",
    overrides: () => ({
      EMBEDDINGS_PROVIDER: "workers-ai",
      AI: new WorkersAiStandIn(),
      VECTOR_INDEX_PROVIDER: "vectorize",
      VECTORIZE: new VectorizeStandIn(384),
    }),
    embedder: "workers-ai/@cf/baai/bge-small-en-v1.5#cls",
    index: "vectorize",
  },
])("end to end: $name", ({ overrides, embedder, index }) => {
  it("ingests through the consumer and answers vector and hybrid searches through the route", async () => {
    const sent: IngestMessage[] = [];
    const settings = { ...overrides(), INGEST: recordingQueue(sent), INGEST_HIGH: recordingQueue(sent) };
    const detailed = await json<{ providers: Record<string, string> }>(
      await callWith(settings, "GET", "/health/detailed", { token: ADMIN }),
    );
    expect(detailed.providers).toMatchObject({ embedder, vector_index: index });

    const tenant = await newTenantVia(settings);
    const created = await callWith(settings, "POST", "/v1/collections", {
      token: tenant.adminKey,
      body: { name: "p" },
    });
    const collection = (await json<{ id: string }>(created)).id;
    const bodies = [
      {
        title: "Enzymes",
        text: "Enzymes are proteins that speed up chemical reactions in cells.",
        metadata: { field: "biology" },
      },
      {
        title: "Volcanoes",
        text: "Volcanoes erupt molten rock called lava from the mantle.",
        metadata: { field: "geology" },
      },
    ];
    for (const body of bodies) {
      const res = await callWith(settings, "POST", `/v1/collections/${collection}/documents`, {
        token: tenant.adminKey,
        body,
      });
      expect(res.status).toBe(202);
    }
    expect(sent).toHaveLength(2);

    const batch = createMessageBatch<IngestMessage>(
      "edgerag-ingest",
      sent.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
    );
    const deps = servicesFor(settings);
    await deps.ingest.handleBatch(batch, false);
    const result = await getQueueResult(batch, createExecutionContext());
    expect(result.retryMessages).toEqual([]);

    const collectionView = await json<{ embedding_model: string }>(
      await callWith(settings, "GET", `/v1/collections/${collection}`, { token: tenant.adminKey }),
    );
    expect(collectionView.embedding_model).toBe(embedder);

    for (const strategy of ["vector", "hybrid"]) {
      const res = await callWith(settings, "POST", "/v1/search", {
        token: tenant.adminKey,
        body: { query: "which proteins speed up reactions", collection_ids: [collection], strategy },
      });
      expect(res.status).toBe(200);
      const found = await json<{ results: Array<{ title: string; ranks: { vector?: number } }> }>(res);
      expect(found.results[0]?.title).toBe("Enzymes");
      expect(found.results[0]?.ranks.vector).toBe(1);
    }
    // A metadata filter reaches this index as the matching documents' ids: only they are scored.
    const filtered = await json<{ results: Array<{ title: string }>; degraded?: string[] }>(
      await callWith(settings, "POST", "/v1/search", {
        token: tenant.adminKey,
        body: {
          query: "proteins and molten lava",
          collection_ids: [collection],
          strategy: "vector",
          filter: { metadata: { field: "geology" } },
        },
      }),
    );
    expect(filtered.results.map((r) => r.title)).toEqual(["Volcanoes"]);
    expect(filtered.degraded).toBeUndefined();
    // The second search of the same query takes its vector from the isolate's L1, as answers do.
    const ai = (settings as { AI?: unknown }).AI;
    if (ai instanceof WorkersAiStandIn) {
      const asked = ai.calls.filter((c) => JSON.stringify(c.inputs.text).includes("which proteins speed up"));
      expect(asked).toHaveLength(1);
    }

    // Deleting the collection empties its namespace (by id where the index cannot drop one).
    const [probe] = await deps.embedder.embed(["enzymes proteins"], "query");
    const namespace = namespaceOf(tenant.id, collection);
    expect(probe && (await deps.vectors.query(namespace, probe, 10))).not.toEqual([]);
    const deleted = await callWith(settings, "DELETE", `/v1/collections/${collection}`, { token: tenant.adminKey });
    expect(deleted.status).toBe(204);
    expect(probe && (await deps.vectors.query(namespace, probe, 10))).toEqual([]);
  });
});

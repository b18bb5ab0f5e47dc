import { describe, expect, it } from "vitest";
import { DEFAULT_RATE_TIERS, parseConfig, parseKeyRing } from "../../src/config";
import { envSchema } from "../../src/config/schema";
import settings from "../../src/config/settings.json";

const KEY = btoa("k".repeat(32));

describe("config", () => {
  it("has working defaults for an empty environment", () => {
    const config = parseConfig({});
    expect(config.problems).toEqual([]);
    expect(config.logLevel).toBe("info");
    expect(config.rateLimiter).toEqual({ kind: "durable-object" });
    expect(config.rateTiers).toEqual(DEFAULT_RATE_TIERS);
    expect(config.apiKeyCacheTtlMs).toBe(30_000);
    expect(config.apiKeyCacheFreshMs).toBe(5_000);
    expect(config.collectionVersionMaxAgeMs).toBe(2_000);
    // No collector: no spans are recorded (trace ids still are); every new trace when there is one.
    expect(config.tracing).toBeUndefined();
    expect(config.traceSampleRatio).toBe(1);
    // Defaults are written once, in the schema, and reach the parsed config unchanged.
    expect(config.defaultRateTier).toBe("standard");
    expect(config.maxJsonUploadBytes).toBe(4_194_304);
    expect(config.embeddings).toEqual({ kind: "local", dimensions: 384 });
    expect(config.generator).toEqual({ kind: "extractive" });
  });

  it("reads the OTLP exporter's settings in the OpenTelemetry formats, the headers kept secret", () => {
    const config = parseConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "https://otlp.example.com/",
      OTEL_EXPORTER_OTLP_HEADERS: "Authorization=Bearer%20abc, x-team = t1",
      TRACE_SAMPLE_RATIO: "0.25",
    });
    expect(config.problems).toEqual([]);
    expect(config.tracing).toEqual({
      url: "https://otlp.example.com/v1/traces",
      headers: { authorization: "Bearer abc", "x-team": "t1" },
      timeoutMs: 3_000,
      serviceName: "edgerag",
    });
    expect(config.traceSampleRatio).toBe(0.25);
    expect(parseConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://c.example.com/traces" }).tracing?.url).toBe(
      "https://c.example.com/traces",
    );
    const bad = parseConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "https://o.example.com",
      OTEL_EXPORTER_OTLP_HEADERS: "no-equals",
      TRACE_SAMPLE_RATIO: "2",
    });
    expect(bad.problems.map((p) => p.setting).sort()).toEqual(["OTEL_EXPORTER_OTLP_HEADERS", "TRACE_SAMPLE_RATIO"]);
    expect(JSON.stringify(bad.problems)).not.toContain("no-equals");
  });

  it("parses the search shards' own settings like any other: a bad value is a problem, not ignored", () => {
    expect(parseConfig({})).toMatchObject({ shardMoveChunks: 1_000, vectorShardMaxBytes: 50_000 * 384 * 4 });
    expect(parseConfig({ SEARCH_SHARD_MOVE_CHUNKS: "8", VECTOR_SHARD_MAX_BYTES: "1536000" })).toMatchObject({
      shardMoveChunks: 8,
      vectorShardMaxBytes: 1_536_000,
    });
    const bad = parseConfig({ SEARCH_SHARD_MOVE_CHUNKS: "0", VECTOR_SHARD_MAX_BYTES: "lots" });
    expect(bad.problems.map((p) => p.setting).sort()).toEqual(["SEARCH_SHARD_MOVE_CHUNKS", "VECTOR_SHARD_MAX_BYTES"]);
    expect(bad).toMatchObject({ shardMoveChunks: 1_000, vectorShardMaxBytes: 50_000 * 384 * 4 });
  });

  it("chooses Upstash only when URL and token are both set", () => {
    const config = parseConfig({ UPSTASH_REDIS_REST_URL: "https://db.upstash.io", UPSTASH_REDIS_REST_TOKEN: "t" });
    expect(config.rateLimiter).toMatchObject({ kind: "upstash", url: "https://db.upstash.io" });
    expect(parseConfig({ UPSTASH_REDIS_REST_TOKEN: "t" }).problems).toEqual([
      expect.objectContaining({ setting: "UPSTASH_REDIS_REST_URL" }),
    ]);
  });

  it("reports every bad setting without throwing, keeping defaults for the rest", () => {
    const config = parseConfig({
      LOG_LEVEL: "loud",
      REQUEST_TIMEOUT_MS: "abc",
      RATE_LIMIT_TIERS: "{",
      API_KEY_CACHE_TTL_MS: "60000",
    });
    expect(config.problems.map((p) => p.setting).sort()).toEqual([
      "API_KEY_CACHE_TTL_MS",
      "LOG_LEVEL",
      "RATE_LIMIT_TIERS",
      "REQUEST_TIMEOUT_MS",
    ]);
    expect(config.requestTimeoutMs).toBe(30_000);
  });

  it("merges custom tiers over the built-in ones and validates the default tier", () => {
    const config = parseConfig({
      RATE_LIMIT_TIERS: '{"gold":{"limit":5,"window_s":1}}',
      RATE_LIMIT_DEFAULT_TIER: "gold",
    });
    expect(config.problems).toEqual([]);
    expect(config.rateTiers.gold).toEqual({ limit: 5, window_s: 1 });
    expect(config.rateTiers.anonymous).toBeDefined();
    expect(parseConfig({ RATE_LIMIT_DEFAULT_TIER: "nope" }).problems[0]?.setting).toBe("RATE_LIMIT_DEFAULT_TIER");
    expect(parseConfig({ RATE_LIMIT_TIERS: '{"x":{"limit":0,"window_s":1}}' }).problems[0]?.setting).toBe(
      "RATE_LIMIT_TIERS",
    );
  });

  it("parses a key ring newest first and rejects bad entries", () => {
    expect(parseKeyRing(`v1:${KEY},v3:${KEY}`).map((e) => e.version)).toEqual([3, 1]);
    expect(() => parseKeyRing("v1:c2hvcnQ=")).toThrow(/32 bytes/);
    expect(() => parseKeyRing(`v1:${KEY},v1:${KEY}`)).toThrow(/twice/);
    expect(() => parseKeyRing("key")).toThrow(/v<N>/);
  });

  it("chooses embedder and vector index providers, naming every missing piece", () => {
    expect(parseConfig({}).embeddings).toEqual({ kind: "local", dimensions: 384 });
    expect(parseConfig({}).vectorIndex).toEqual({ kind: "durable-object" });
    const ai = { run: async () => ({}) };
    expect(parseConfig({ EMBEDDINGS_PROVIDER: "workers-ai", AI: ai }).embeddings).toMatchObject({
      kind: "workers-ai",
      model: "@cf/baai/bge-small-en-v1.5",
      dimensions: 384,
    });
    const settings = (env: Record<string, unknown>) => parseConfig(env).problems.map((p) => p.setting);
    expect(settings({ EMBEDDINGS_PROVIDER: "workers-ai" })).toEqual(["AI"]);
    expect(settings({ EMBEDDINGS_PROVIDER: "workers-ai", AI: ai, EMBEDDINGS_MODEL: "@cf/some/new-model" })).toEqual([
      "EMBEDDINGS_DIMENSIONS",
    ]);
    expect(settings({ EMBEDDINGS_PROVIDER: "openai" })).toEqual(["EMBEDDINGS_BASE_URL", "EMBEDDINGS_API_KEY"]);
    expect(settings({ EMBEDDINGS_PROVIDER: "cohere" })).toEqual(["EMBEDDINGS_PROVIDER"]);
    expect(settings({ EMBEDDINGS_DIMENSIONS: "2048" })).toEqual(["EMBEDDINGS_DIMENSIONS"]);
    expect(settings({ VECTOR_INDEX_PROVIDER: "vectorize" })).toEqual(["VECTORIZE"]);
    expect(settings({ GENERATOR_PROVIDER: "openai" })).toEqual([
      "GENERATOR_BASE_URL",
      "GENERATOR_MODEL",
      "GENERATOR_API_KEY",
    ]);
    expect(parseConfig({}).generator).toEqual({ kind: "extractive" });
    expect(settings({ GENERATOR_PROVIDER: "workers-ai" })).toEqual(["AI"]);
    expect(settings({ RERANKER_PROVIDER: "workers-ai" })).toEqual(["AI"]);
    expect(parseConfig({ RERANKER_PROVIDER: "workers-ai", AI: ai }).reranker).toMatchObject({
      model: "@cf/baai/bge-reranker-base",
    });
    expect(settings({ RERANK_WEIGHTS: '{"prior":-1}' })).toEqual(["RERANK_WEIGHTS"]);
    expect(settings({ VECTOR_INDEX_PROVIDER: "upstash", UPSTASH_VECTOR_REST_URL: "https://v.upstash.io" })).toEqual([
      "UPSTASH_VECTOR_REST_TOKEN",
    ]);
    const openai = parseConfig({
      EMBEDDINGS_PROVIDER: "openai",
      EMBEDDINGS_BASE_URL: "https://api.openai.com/v1/",
      EMBEDDINGS_API_KEY_SECRET: "openai_api_key",
    });
    expect(openai.problems).toEqual([]);
    expect(openai.embeddings).toMatchObject({
      baseUrl: "https://api.openai.com/v1",
      model: "text-embedding-3-small",
      dimensions: 1536,
      sendDimensions: false,
    });
  });
});

describe("docs/configuration.md", () => {
  it("documents every setting the schema reads, and no other (src/config/settings.json)", () => {
    const documented = settings.flatMap((s) => s.names).sort();
    expect(documented).toEqual(Object.keys(envSchema.shape).sort());
    for (const setting of settings) {
      expect(["var", "secret"]).toContain(setting.kind);
      expect(setting.meaning.length).toBeGreaterThan(10);
    }
  });
});

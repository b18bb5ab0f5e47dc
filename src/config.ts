/**
 * Configuration: one zod schema parses the environment once per isolate and decides which adapter
 * implementations are used. Parsing never throws: a bad or half-configured setting becomes a
 * `ConfigProblem`, which /health/ready reports and which makes protected routes answer 503
 * `misconfigured` naming the setting, instead of crashing the isolate.
 */

import { z } from "zod";
import type { KeyRingEntry } from "./lib/keyring";
import { LOG_LEVELS, type LogLevel } from "./lib/log";

export interface RateTier {
  /** Units admitted per window (a request costs 1 unit unless its route says more). */
  limit: number;
  window_s: number;
}

export type RateLimiterConfig =
  | { kind: "durable-object" }
  | { kind: "upstash"; url: string; token: string; timeoutMs: number };

/** Which embedder computes vectors; dimensions are fixed per model and recorded per collection. */
export type EmbeddingsConfig =
  | { kind: "local"; dimensions: number }
  | { kind: "workers-ai"; model: string; dimensions: number; timeoutMs: number }
  | {
      kind: "openai";
      /** Base of an OpenAI-compatible API, e.g. `https://api.openai.com/v1`; we POST `<base>/embeddings`. */
      baseUrl: string;
      model: string;
      dimensions: number;
      /** Send `dimensions` in the request (only when EMBEDDINGS_DIMENSIONS is set explicitly). */
      sendDimensions: boolean;
      apiKey: string | undefined;
      /** Name of a tenant secret whose value, when the tenant has stored it, replaces `apiKey`. */
      apiKeySecret: string | undefined;
      timeoutMs: number;
    };

export type GeneratorConfig =
  | { kind: "extractive" }
  | { kind: "workers-ai"; model: string }
  | {
      kind: "openai";
      /** Base of an OpenAI-compatible API; we POST `<base>/chat/completions` with `stream: true`. */
      baseUrl: string;
      model: string;
      apiKey: string | undefined;
      apiKeySecret: string | undefined;
      timeoutMs: number;
    };

/** Where answers and query embeddings are shared: this colo's Cache API, plus Upstash Redis. */
export type CacheConfig = { kind: "cache-api" } | { kind: "upstash"; url: string; token: string; timeoutMs: number };

export type VectorIndexConfig =
  | { kind: "durable-object" }
  | { kind: "vectorize" }
  | { kind: "upstash"; url: string; token: string; timeoutMs: number };

export interface RerankWeights {
  coverage: number;
  title: number;
  proximity: number;
  prior: number;
}

/** The local reranker's feature weights, tuned on SciFact train only (see README, "Answers: query modes"). */
export const DEFAULT_RERANK_WEIGHTS: RerankWeights = { coverage: 1, title: 1, proximity: 0.3, prior: 1.5 };

export interface ConfigProblem {
  setting: string;
  message: string;
}

export interface Config {
  logLevel: LogLevel;
  corsOrigins: string[];
  requestTimeoutMs: number;
  healthCheckTimeoutMs: number;
  maxJsonBodyBytes: number;
  maxUploadBytes: number;
  /** JSON document uploads (single or batch): parsing JSON costs ~11x its size in memory, a file ~7x. */
  maxJsonUploadBytes: number;
  searchMaxTopK: number;
  /** Reciprocal Rank Fusion constant and the vector list's weight (undefined: the embedder's own). */
  rrfK: number;
  vectorWeight: number | undefined;
  /** Deadline of each query mode, from the start of the request. */
  queryBudgets: { fast: number; balanced: number; deep: number };
  /** Feature weights of the local reranker (defaults tuned on SciFact train). */
  rerankWeights: RerankWeights;
  /** How long a complete answer is reused (0: never cached). */
  answerCacheTtlSeconds: number;
  /** How long a query embedding from a remote embedder is reused in the shared cache (0: never). */
  embeddingCacheTtlSeconds: number;
  cache: CacheConfig;
  /** Per tenant, how many frequent recent queries the cron job keeps answered (0: off). */
  cacheWarmTopN: number;
  /** Keyword search leaves out terms found in more than this share of all chunks (1 = keep all). */
  commonTermRatio: number;
  apiKeyCacheTtlMs: number;
  adminToken: string | undefined;
  /** Sorted newest (highest version) first; empty when ENCRYPTION_KEYS is unset. */
  keyRing: KeyRingEntry[];
  rateTiers: Record<string, RateTier>;
  defaultRateTier: string;
  rateLimiter: RateLimiterConfig;
  embeddings: EmbeddingsConfig;
  vectorIndex: VectorIndexConfig;
  generator: GeneratorConfig;
  reranker: { kind: "local" } | { kind: "workers-ai"; model: string; timeoutMs: number };
  problems: ConfigProblem[];
}

/** Models whose dimensions we know; any other model needs EMBEDDINGS_DIMENSIONS. */
export const KNOWN_EMBEDDING_DIMENSIONS: Record<string, number> = {
  "@cf/baai/bge-small-en-v1.5": 384,
  "@cf/baai/bge-base-en-v1.5": 768,
  "@cf/baai/bge-large-en-v1.5": 1024,
  "text-embedding-3-small": 1536,
  "text-embedding-3-large": 3072,
  "text-embedding-ada-002": 1536,
};

const DEFAULT_MODELS = { "workers-ai": "@cf/baai/bge-small-en-v1.5", openai: "text-embedding-3-small" } as const;

export const DEFAULT_RATE_TIERS: Record<string, RateTier> = {
  anonymous: { limit: 60, window_s: 60 },
  operator: { limit: 1200, window_s: 60 },
  free: { limit: 120, window_s: 60 },
  standard: { limit: 600, window_s: 60 },
  enterprise: { limit: 6000, window_s: 60 },
};

const intFrom = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? fallback : Number(v)))
    .pipe(z.number().int().min(min).max(max));

/** A provider name: case-insensitive, one of `names`; unset or empty means the first (the default). */
const providerChoice = <const T extends readonly [string, ...string[]]>(names: T) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? names[0] : v.trim().toLowerCase()))
    .pipe(z.enum(names));

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const tierSchema = z.object({
  limit: z.number().int().min(1).max(1_000_000),
  window_s: z.number().int().min(1).max(86_400),
});

const envSchema = z.object({
  LOG_LEVEL: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === "" ? "info" : v.toLowerCase()))
    .pipe(z.enum(LOG_LEVELS)),
  CORS_ORIGINS: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.union([z.literal("*"), z.url({ protocol: /^https?$/ })]))),
  REQUEST_TIMEOUT_MS: intFrom(30_000, 100, 300_000),
  HEALTH_CHECK_TIMEOUT_MS: intFrom(1_500, 50, 1_900),
  MAX_JSON_BODY_BYTES: intFrom(1_048_576, 1_024, 104_857_600),
  MAX_UPLOAD_BYTES: intFrom(20_971_520, 1_024, 104_857_600),
  MAX_JSON_UPLOAD_BYTES: intFrom(4_194_304, 1_024, 104_857_600),
  SEARCH_MAX_TOP_K: intFrom(50, 1, 200),
  SEARCH_RRF_K: intFrom(60, 1, 1_000),
  QUERY_BUDGET_FAST_MS: intFrom(800, 1, 60_000),
  QUERY_BUDGET_BALANCED_MS: intFrom(2_500, 1, 60_000),
  QUERY_BUDGET_DEEP_MS: intFrom(8_000, 1, 60_000),
  ANSWER_CACHE_TTL_S: intFrom(300, 0, 86_400),
  EMBEDDING_CACHE_TTL_S: intFrom(86_400, 0, 2_592_000),
  CACHE_PROVIDER: providerChoice(["cache-api", "upstash"]),
  CACHE_TIMEOUT_MS: intFrom(250, 10, 5_000),
  CACHE_WARM_TOP_N: intFrom(10, 0, 100),
  RERANK_WEIGHTS: optionalText,
  SEARCH_COMMON_TERM_RATIO: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? 0.2 : Number(v)))
    .pipe(z.number().gt(0).max(1)),
  SEARCH_VECTOR_WEIGHT: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? undefined : Number(v)))
    .pipe(z.number().min(0).max(10).optional()),
  API_KEY_CACHE_TTL_MS: intFrom(30_000, 0, 30_000),
  RATE_LIMIT_TIMEOUT_MS: intFrom(1_000, 50, 10_000),
  RATE_LIMIT_DEFAULT_TIER: optionalText.transform((v) => v ?? "standard"),
  RATE_LIMIT_TIERS: optionalText,
  ADMIN_TOKEN: optionalText,
  ENCRYPTION_KEYS: optionalText,
  UPSTASH_REDIS_REST_URL: optionalText,
  UPSTASH_REDIS_REST_TOKEN: optionalText,
  EMBEDDINGS_PROVIDER: providerChoice(["local", "workers-ai", "openai"]),
  EMBEDDINGS_MODEL: optionalText,
  EMBEDDINGS_DIMENSIONS: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? undefined : Number(v)))
    .pipe(z.number().int().min(8).max(4_096).optional()),
  EMBEDDINGS_BASE_URL: optionalText.pipe(z.url({ protocol: /^https?$/ }).optional()),
  EMBEDDINGS_API_KEY: optionalText,
  EMBEDDINGS_API_KEY_SECRET: optionalText.pipe(
    z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,63}$/)
      .optional(),
  ),
  EMBEDDINGS_TIMEOUT_MS: intFrom(10_000, 100, 60_000),
  GENERATOR_PROVIDER: providerChoice(["extractive", "openai", "workers-ai"]),
  GENERATOR_MODEL: optionalText,
  GENERATOR_BASE_URL: optionalText.pipe(z.url({ protocol: /^https?$/ }).optional()),
  GENERATOR_API_KEY: optionalText,
  GENERATOR_API_KEY_SECRET: optionalText.pipe(
    z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,63}$/)
      .optional(),
  ),
  GENERATOR_TIMEOUT_MS: intFrom(30_000, 100, 120_000),
  RERANKER_PROVIDER: providerChoice(["local", "workers-ai"]),
  RERANKER_MODEL: optionalText,
  VECTOR_INDEX_PROVIDER: providerChoice(["durable-object", "vectorize", "upstash"]),
  UPSTASH_VECTOR_REST_URL: optionalText.pipe(z.url({ protocol: /^https?$/ }).optional()),
  UPSTASH_VECTOR_REST_TOKEN: optionalText,
  VECTOR_INDEX_TIMEOUT_MS: intFrom(5_000, 100, 60_000),
});

type RawEnv = Record<string, unknown>;

/** Parses `ENCRYPTION_KEYS` (`v2:<base64>,v1:<base64>`): each key 32 bytes, versions unique. */
export function parseKeyRing(text: string): KeyRingEntry[] {
  const entries: KeyRingEntry[] = [];
  for (const part of text.split(",")) {
    const match = /^v(\d{1,6}):([A-Za-z0-9+/=_-]+)$/.exec(part.trim());
    if (!match?.[1] || !match[2]) {
      throw new Error("each entry must look like v<N>:<base64 of 32 bytes>");
    }
    const version = Number(match[1]);
    let key: Uint8Array;
    try {
      key = Uint8Array.from(atob(match[2].replace(/-/g, "+").replace(/_/g, "/")), (ch) => ch.charCodeAt(0));
    } catch {
      throw new Error(`key v${version} is not valid base64`);
    }
    if (key.length !== 32) {
      throw new Error(`key v${version} must decode to 32 bytes (AES-256), got ${key.length}`);
    }
    if (entries.some((e) => e.version === version)) {
      throw new Error(`version v${version} appears twice`);
    }
    entries.push({ version, key });
  }
  return entries.sort((a, b) => b.version - a.version);
}

function parseTiers(text: string | undefined): Record<string, RateTier> {
  if (text === undefined) {
    return { ...DEFAULT_RATE_TIERS };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error("must be a JSON object");
  }
  const parsed = z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/), tierSchema).safeParse(json);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; "));
  }
  // Built-in tiers stay available unless overridden, so `anonymous` and `operator` always exist.
  return { ...DEFAULT_RATE_TIERS, ...parsed.data };
}

/** Parses an environment. Pure; see `getConfig` for the per-isolate cache. */
export function parseConfig(env: object): Config {
  const raw = env as RawEnv;
  const problems: ConfigProblem[] = [];
  const strings: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = raw[key];
    strings[key] = typeof value === "string" ? value : undefined;
  }
  // Parse field by field so one bad setting does not hide the others or their defaults.
  const fields: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(envSchema.shape)) {
    const result = (schema as z.ZodType).safeParse(strings[key]);
    if (result.success) {
      fields[key] = result.data;
    } else {
      problems.push({ setting: key, message: result.error.issues.map((i) => i.message).join("; ") });
      fields[key] = (schema as z.ZodType).safeParse(undefined).data;
    }
  }
  // Every field has a value now: its own, or its schema's default when it was missing or invalid
  // (a default is written once, in the schema).
  const f = fields as z.infer<typeof envSchema>;

  let keyRing: KeyRingEntry[] = [];
  if (f.ENCRYPTION_KEYS !== undefined) {
    try {
      keyRing = parseKeyRing(f.ENCRYPTION_KEYS);
    } catch (error) {
      problems.push({ setting: "ENCRYPTION_KEYS", message: (error as Error).message });
    }
  }

  let rateTiers = { ...DEFAULT_RATE_TIERS };
  try {
    rateTiers = parseTiers(f.RATE_LIMIT_TIERS);
  } catch (error) {
    problems.push({ setting: "RATE_LIMIT_TIERS", message: (error as Error).message });
  }
  const defaultRateTier = f.RATE_LIMIT_DEFAULT_TIER;
  if (!rateTiers[defaultRateTier]) {
    problems.push({ setting: "RATE_LIMIT_DEFAULT_TIER", message: `unknown tier "${defaultRateTier}"` });
  }

  let rateLimiter: RateLimiterConfig = { kind: "durable-object" };
  const url = f.UPSTASH_REDIS_REST_URL;
  const token = f.UPSTASH_REDIS_REST_TOKEN;
  if (url !== undefined && token !== undefined) {
    if (!/^https?:\/\/[^\s/$.?#].\S*$/.test(url)) {
      problems.push({ setting: "UPSTASH_REDIS_REST_URL", message: "must be an http(s) URL" });
    } else {
      rateLimiter = { kind: "upstash", url, token, timeoutMs: f.RATE_LIMIT_TIMEOUT_MS };
    }
  } else if (url !== undefined) {
    problems.push({ setting: "UPSTASH_REDIS_REST_TOKEN", message: "is required when UPSTASH_REDIS_REST_URL is set" });
  } else if (token !== undefined) {
    problems.push({ setting: "UPSTASH_REDIS_REST_URL", message: "is required when UPSTASH_REDIS_REST_TOKEN is set" });
  }

  let cache: CacheConfig = { kind: "cache-api" };
  if (f.CACHE_PROVIDER === "upstash") {
    if (url !== undefined && token !== undefined && rateLimiter.kind === "upstash") {
      cache = { kind: "upstash", url, token, timeoutMs: f.CACHE_TIMEOUT_MS };
    } else if (url === undefined || token === undefined) {
      problems.push({
        setting: "CACHE_PROVIDER",
        message: "upstash needs UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN",
      });
    }
  }

  const embeddings = parseEmbeddings(f, raw, problems);
  const vectorIndex = parseVectorIndex(f, raw, problems);

  return {
    logLevel: f.LOG_LEVEL,
    corsOrigins: f.CORS_ORIGINS,
    requestTimeoutMs: f.REQUEST_TIMEOUT_MS,
    healthCheckTimeoutMs: f.HEALTH_CHECK_TIMEOUT_MS,
    maxJsonBodyBytes: f.MAX_JSON_BODY_BYTES,
    maxUploadBytes: f.MAX_UPLOAD_BYTES,
    maxJsonUploadBytes: f.MAX_JSON_UPLOAD_BYTES,
    searchMaxTopK: f.SEARCH_MAX_TOP_K,
    rrfK: f.SEARCH_RRF_K,
    vectorWeight: f.SEARCH_VECTOR_WEIGHT,
    commonTermRatio: f.SEARCH_COMMON_TERM_RATIO,
    queryBudgets: {
      fast: f.QUERY_BUDGET_FAST_MS,
      balanced: f.QUERY_BUDGET_BALANCED_MS,
      deep: f.QUERY_BUDGET_DEEP_MS,
    },
    answerCacheTtlSeconds: f.ANSWER_CACHE_TTL_S,
    embeddingCacheTtlSeconds: f.EMBEDDING_CACHE_TTL_S,
    cache,
    cacheWarmTopN: f.CACHE_WARM_TOP_N,
    rerankWeights: parseRerankWeights(f.RERANK_WEIGHTS, problems),
    apiKeyCacheTtlMs: f.API_KEY_CACHE_TTL_MS,
    adminToken: f.ADMIN_TOKEN,
    keyRing,
    rateTiers,
    defaultRateTier,
    rateLimiter,
    embeddings,
    vectorIndex,
    generator: parseGenerator(f, raw, problems),
    reranker: parseReranker(f, raw, problems),
    problems,
  };
}

type Fields = z.infer<typeof envSchema>;

const hasMethod = (binding: unknown, method: string) =>
  typeof binding === "object" && binding !== null && typeof (binding as Record<string, unknown>)[method] === "function";

function requireAiBinding(raw: RawEnv, setting: string, problems: ConfigProblem[]): void {
  if (!hasMethod(raw.AI, "run")) {
    problems.push({ setting: "AI", message: `${setting}=workers-ai needs the Workers AI binding \`AI\`` });
  }
}

/**
 * The settings of an OpenAI-compatible endpoint, `<PREFIX>_BASE_URL` (required) and a key from
 * `<PREFIX>_API_KEY` or the tenant secret named by `<PREFIX>_API_KEY_SECRET` (one of them required).
 */
function openAiCompatible(
  f: Fields,
  prefix: "EMBEDDINGS" | "GENERATOR",
  problems: ConfigProblem[],
  /** Other settings this provider cannot do without, reported in this order after the URL. */
  required: Array<[setting: string, value: unknown]> = [],
) {
  const baseUrl = f[`${prefix}_BASE_URL`];
  const apiKey = f[`${prefix}_API_KEY`];
  const apiKeySecret = f[`${prefix}_API_KEY_SECRET`];
  if (baseUrl === undefined) {
    problems.push({ setting: `${prefix}_BASE_URL`, message: `is required when ${prefix}_PROVIDER=openai` });
  }
  for (const [setting, value] of required) {
    if (value === undefined) {
      problems.push({ setting, message: `is required when ${prefix}_PROVIDER=openai` });
    }
  }
  if (apiKey === undefined && apiKeySecret === undefined) {
    problems.push({
      setting: `${prefix}_API_KEY`,
      message: `${prefix}_PROVIDER=openai needs ${prefix}_API_KEY or ${prefix}_API_KEY_SECRET`,
    });
  }
  return { baseUrl: (baseUrl ?? "https://invalid.example").replace(/\/+$/, ""), apiKey, apiKeySecret };
}

function parseEmbeddings(f: Fields, raw: RawEnv, problems: ConfigProblem[]): EmbeddingsConfig {
  const provider = f.EMBEDDINGS_PROVIDER;
  const timeoutMs = f.EMBEDDINGS_TIMEOUT_MS;
  if (provider === "local") {
    const dimensions = f.EMBEDDINGS_DIMENSIONS ?? 384;
    if (dimensions < 384 || dimensions > 1_024) {
      problems.push({
        setting: "EMBEDDINGS_DIMENSIONS",
        message: "the local embedder supports 384 to 1024 dimensions",
      });
      return { kind: "local", dimensions: 384 };
    }
    return { kind: "local", dimensions };
  }
  const model = f.EMBEDDINGS_MODEL ?? DEFAULT_MODELS[provider];
  const dimensions = f.EMBEDDINGS_DIMENSIONS ?? KNOWN_EMBEDDING_DIMENSIONS[model];
  if (dimensions === undefined) {
    problems.push({ setting: "EMBEDDINGS_DIMENSIONS", message: `is required for model "${model}"` });
  }
  if (provider === "workers-ai") {
    requireAiBinding(raw, "EMBEDDINGS_PROVIDER", problems);
    return { kind: "workers-ai", model, dimensions: dimensions ?? 0, timeoutMs };
  }
  return {
    kind: "openai",
    ...openAiCompatible(f, "EMBEDDINGS", problems),
    model,
    dimensions: dimensions ?? 0,
    sendDimensions: f.EMBEDDINGS_DIMENSIONS !== undefined,
    timeoutMs,
  };
}

function parseRerankWeights(text: string | undefined, problems: ConfigProblem[]): RerankWeights {
  if (text === undefined) {
    return DEFAULT_RERANK_WEIGHTS;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    problems.push({ setting: "RERANK_WEIGHTS", message: "must be a JSON object" });
    return DEFAULT_RERANK_WEIGHTS;
  }
  const weight = z.number().min(0).max(100);
  const parsed = z
    .object({ coverage: weight, title: weight, proximity: weight, prior: weight })
    .partial()
    .strict()
    .safeParse(json);
  if (!parsed.success) {
    problems.push({ setting: "RERANK_WEIGHTS", message: parsed.error.issues.map((i) => i.message).join("; ") });
    return DEFAULT_RERANK_WEIGHTS;
  }
  return { ...DEFAULT_RERANK_WEIGHTS, ...parsed.data };
}

function parseReranker(f: Fields, raw: RawEnv, problems: ConfigProblem[]): Config["reranker"] {
  if (f.RERANKER_PROVIDER === "local") {
    return { kind: "local" };
  }
  requireAiBinding(raw, "RERANKER_PROVIDER", problems);
  return { kind: "workers-ai", model: f.RERANKER_MODEL ?? "@cf/baai/bge-reranker-base", timeoutMs: 2_000 };
}

function parseGenerator(f: Fields, raw: RawEnv, problems: ConfigProblem[]): GeneratorConfig {
  const provider = f.GENERATOR_PROVIDER;
  if (provider === "extractive") {
    return { kind: "extractive" };
  }
  if (provider === "workers-ai") {
    requireAiBinding(raw, "GENERATOR_PROVIDER", problems);
    return { kind: "workers-ai", model: f.GENERATOR_MODEL ?? "@cf/meta/llama-3.1-8b-instruct" };
  }
  return {
    kind: "openai",
    ...openAiCompatible(f, "GENERATOR", problems, [["GENERATOR_MODEL", f.GENERATOR_MODEL]]),
    model: f.GENERATOR_MODEL ?? "unset",
    timeoutMs: f.GENERATOR_TIMEOUT_MS,
  };
}

function parseVectorIndex(f: Fields, raw: RawEnv, problems: ConfigProblem[]): VectorIndexConfig {
  const provider = f.VECTOR_INDEX_PROVIDER;
  if (provider === "vectorize") {
    if (!hasMethod(raw.VECTORIZE, "query")) {
      problems.push({
        setting: "VECTORIZE",
        message: "VECTOR_INDEX_PROVIDER=vectorize needs the Vectorize binding `VECTORIZE`",
      });
    }
    return { kind: "vectorize" };
  }
  if (provider === "upstash") {
    const url = f.UPSTASH_VECTOR_REST_URL;
    const token = f.UPSTASH_VECTOR_REST_TOKEN;
    for (const [setting, value] of [
      ["UPSTASH_VECTOR_REST_URL", url],
      ["UPSTASH_VECTOR_REST_TOKEN", token],
    ] as const) {
      if (value === undefined) {
        problems.push({ setting, message: "is required when VECTOR_INDEX_PROVIDER=upstash" });
      }
    }
    if (url === undefined || token === undefined) {
      return { kind: "durable-object" };
    }
    return { kind: "upstash", url, token, timeoutMs: f.VECTOR_INDEX_TIMEOUT_MS };
  }
  return { kind: "durable-object" };
}

const cache = new WeakMap<object, Config>();

/** The parsed configuration for this environment object, parsed once per isolate. */
export function getConfig(env: object): Config {
  let config = cache.get(env);
  if (!config) {
    config = parseConfig(env);
    cache.set(env, config);
  }
  return config;
}

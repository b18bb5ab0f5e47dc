/**
 * Configuration: one zod schema parses the environment once per isolate and decides which adapter
 * implementations are used. Parsing never throws: a bad or half-configured setting becomes a
 * `ConfigProblem`, which /health/ready reports and which makes protected routes answer 503
 * `misconfigured` naming the setting, instead of crashing the isolate.
 */
import { z } from "zod";
import type { KeyRingEntry } from "../lib/keyring";
import {
  parseDatabase,
  parseEmbeddings,
  parseGenerator,
  parseReranker,
  parseRerankWeights,
  parseVectorIndex,
} from "./providers";
import { DEFAULT_RATE_TIERS, envSchema, type RawEnv, tierSchema } from "./schema";
import type { CacheConfig, Config, ConfigProblem, RateLimiterConfig, RateTier, TracingConfig } from "./types";

export { KNOWN_EMBEDDING_DIMENSIONS } from "./providers";
export { DEFAULT_RATE_TIERS } from "./schema";
export * from "./types";

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

/** `OTEL_EXPORTER_OTLP_HEADERS`: `name=value,name2=value2`, values percent-encoded (the OTel spec's format). */
export function parseOtlpHeaders(text: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const part of (text ?? "").split(",")) {
    if (part.trim() === "") {
      continue;
    }
    const at = part.indexOf("=");
    const name = part.slice(0, at).trim().toLowerCase();
    if (at <= 0 || !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
      throw new Error("must look like name=value,name2=value2");
    }
    let value: string;
    try {
      value = decodeURIComponent(part.slice(at + 1).trim());
    } catch {
      throw new Error(`the value of ${name} is not valid percent-encoding`);
    }
    headers[name] = value;
  }
  return headers;
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
  const database = parseDatabase(f, raw, problems);

  let tracing: TracingConfig | undefined;
  const tracesUrl =
    f.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (f.OTEL_EXPORTER_OTLP_ENDPOINT && `${f.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, "")}/v1/traces`);
  try {
    const headers = parseOtlpHeaders(f.OTEL_EXPORTER_OTLP_HEADERS);
    if (tracesUrl) {
      tracing = { url: tracesUrl, headers, timeoutMs: f.OTEL_EXPORTER_OTLP_TIMEOUT, serviceName: f.OTEL_SERVICE_NAME };
    }
  } catch (error) {
    problems.push({ setting: "OTEL_EXPORTER_OTLP_HEADERS", message: (error as Error).message });
  }

  return {
    logLevel: f.LOG_LEVEL,
    tracing,
    traceSampleRatio: f.TRACE_SAMPLE_RATIO,
    corsOrigins: f.CORS_ORIGINS,
    publicUrl: f.PUBLIC_URL,
    requestTimeoutMs: f.REQUEST_TIMEOUT_MS,
    queryLogRetentionMs: f.QUERY_LOG_RETENTION_DAYS * 86_400_000,
    conversationRetentionMs: f.CONVERSATION_RETENTION_DAYS * 86_400_000,
    exports: {
      ttlMs: f.EXPORT_TTL_HOURS * 3_600_000,
      maxPages: f.EXPORT_MAX_PAGES,
      maxHtmlBytes: f.EXPORT_MAX_HTML_BYTES,
      renderTimeoutMs: f.EXPORT_RENDER_TIMEOUT_MS,
      maxAttempts: f.EXPORT_MAX_ATTEMPTS,
      keepAliveMs: f.EXPORT_BROWSER_KEEP_ALIVE_S * 1_000,
    },
    webhooks: {
      maxPerTenant: f.WEBHOOK_MAX_PER_TENANT,
      timeoutMs: f.WEBHOOK_TIMEOUT_MS,
      retryScheduleS: f.WEBHOOK_RETRY_SCHEDULE_S,
      allowedPorts: f.WEBHOOK_ALLOWED_PORTS,
      allowLoopback: f.WEBHOOK_ALLOW_LOOPBACK,
      dnsResolver: f.WEBHOOK_DNS_RESOLVER,
    },
    notifications: {
      retainEvents: f.NOTIFY_RETAIN_EVENTS,
      retainMs: f.NOTIFY_RETAIN_HOURS * 3_600_000,
      maxSocketsPerTenant: f.NOTIFY_MAX_SOCKETS_PER_TENANT,
      maxSocketsPerKey: f.NOTIFY_MAX_SOCKETS_PER_KEY,
      maxMessageBytes: f.NOTIFY_MAX_MESSAGE_BYTES,
      idleTimeoutMs: f.NOTIFY_IDLE_TIMEOUT_S * 1_000,
    },
    healthCheckTimeoutMs: f.HEALTH_CHECK_TIMEOUT_MS,
    maxJsonBodyBytes: f.MAX_JSON_BODY_BYTES,
    maxUploadBytes: f.MAX_UPLOAD_BYTES,
    maxJsonUploadBytes: f.MAX_JSON_UPLOAD_BYTES,
    searchMaxTopK: f.SEARCH_MAX_TOP_K,
    rrfK: f.SEARCH_RRF_K,
    vectorWeight: f.SEARCH_VECTOR_WEIGHT,
    commonTermRatio: f.SEARCH_COMMON_TERM_RATIO,
    shardSplitChunks: f.SEARCH_SHARD_SPLIT_CHUNKS,
    shardMaxCount: f.SEARCH_SHARD_MAX_COUNT,
    shardMoveChunks: f.SEARCH_SHARD_MOVE_CHUNKS,
    vectorShardMaxBytes: f.VECTOR_SHARD_MAX_BYTES,
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
    apiKeyCacheFreshMs: Math.min(f.API_KEY_CACHE_FRESH_MS, f.API_KEY_CACHE_TTL_MS),
    collectionVersionMaxAgeMs: f.COLLECTION_VERSION_MAX_AGE_MS,
    adminToken: f.ADMIN_TOKEN,
    keyRing,
    rateTiers,
    defaultRateTier,
    rateLimiter,
    embeddings,
    database,
    vectorIndex,
    generator: parseGenerator(f, raw, problems),
    reranker: parseReranker(f, raw, problems),
    problems,
  };
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

/**
 * The environment's schema: every setting, its range and its default, written once here (the
 * docs/configuration.md's table lists the same names).
 */
import { z } from "zod";
import { LOG_LEVELS } from "../lib/log";
import type { RateTier } from "./types";

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

export const tierSchema = z.object({
  limit: z.number().int().min(1).max(1_000_000),
  window_s: z.number().int().min(1).max(86_400),
});

export const envSchema = z.object({
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
  PUBLIC_URL: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim().replace(/\/+$/, "")))
    .pipe(z.url({ protocol: /^https?$/ }).optional()),
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
  SEARCH_SHARD_SPLIT_CHUNKS: intFrom(40_000, 10, 10_000_000),
  SEARCH_SHARD_MAX_COUNT: intFrom(64, 1, 1_024),
  // Read by the VectorShard object through the same config (a bad value is a config problem there too).
  SEARCH_SHARD_MOVE_CHUNKS: intFrom(1_000, 1, 100_000),
  // 50,000 × 384 float32 ≈ 77 MB of the 128 MB a Durable Object may use.
  VECTOR_SHARD_MAX_BYTES: intFrom(50_000 * 384 * 4, 1_024, 120_000_000),
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
  API_KEY_CACHE_FRESH_MS: intFrom(5_000, 0, 30_000),
  COLLECTION_VERSION_MAX_AGE_MS: intFrom(2_000, 0, 30_000),
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
  DATABASE_PROVIDER: providerChoice(["d1", "hyperdrive"]),
  VECTOR_INDEX_PROVIDER: providerChoice(["durable-object", "vectorize", "upstash"]),
  UPSTASH_VECTOR_REST_URL: optionalText.pipe(z.url({ protocol: /^https?$/ }).optional()),
  UPSTASH_VECTOR_REST_TOKEN: optionalText,
  VECTOR_INDEX_TIMEOUT_MS: intFrom(5_000, 100, 60_000),
  NOTIFY_RETAIN_EVENTS: intFrom(10_000, 100, 1_000_000),
  NOTIFY_RETAIN_HOURS: intFrom(720, 24, 8_760),
  NOTIFY_MAX_SOCKETS_PER_TENANT: intFrom(2_000, 1, 30_000),
  NOTIFY_MAX_SOCKETS_PER_KEY: intFrom(500, 1, 30_000),
  NOTIFY_MAX_MESSAGE_BYTES: intFrom(4_096, 256, 1_048_576),
  NOTIFY_IDLE_TIMEOUT_S: intFrom(90, 10, 3_600),
  WEBHOOK_MAX_PER_TENANT: intFrom(20, 1, 1_000),
  QUERY_LOG_RETENTION_DAYS: intFrom(30, 2, 400),
  CONVERSATION_RETENTION_DAYS: intFrom(30, 1, 400),
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalText.pipe(z.url({ protocol: /^https?$/ }).optional()),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalText.pipe(z.url({ protocol: /^https?$/ }).optional()),
  OTEL_EXPORTER_OTLP_HEADERS: optionalText,
  OTEL_EXPORTER_OTLP_TIMEOUT: intFrom(3_000, 100, 30_000),
  OTEL_SERVICE_NAME: optionalText.transform((v) => v ?? "edgerag"),
  TRACE_SAMPLE_RATIO: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? 1 : Number(v)))
    .pipe(z.number().min(0).max(1)),
  EXPORT_TTL_HOURS: intFrom(168, 1, 8_760),
  EXPORT_MAX_PAGES: intFrom(50, 1, 500),
  EXPORT_MAX_HTML_BYTES: intFrom(5_242_880, 65_536, 52_428_800),
  EXPORT_RENDER_TIMEOUT_MS: intFrom(30_000, 1_000, 120_000),
  EXPORT_MAX_ATTEMPTS: intFrom(3, 1, 10),
  EXPORT_BROWSER_KEEP_ALIVE_S: intFrom(60, 0, 600),
  WEBHOOK_TIMEOUT_MS: intFrom(15_000, 1_000, 30_000),
  /** Seconds before each attempt (Svix's schedule): 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
  WEBHOOK_RETRY_SCHEDULE_S: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? "0,5,300,1800,7200,18000,36000,36000" : v))
    .transform((v) => v.split(",").map((s) => Number(s.trim())))
    .pipe(z.array(z.number().int().min(0).max(43_200)).min(1).max(20)),
  WEBHOOK_ALLOWED_PORTS: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === "" ? [] : v.split(",").map((s) => Number(s.trim()))))
    .pipe(z.array(z.number().int().min(1).max(65_535))),
  /** Local development and tests: delivery to a receiver on 127.0.0.1 over plain http. */
  WEBHOOK_ALLOW_LOOPBACK: z
    .string()
    .optional()
    .transform((v) => v?.trim().toLowerCase() === "true"),
  WEBHOOK_DNS_RESOLVER: optionalText
    .transform((v) => v ?? "https://cloudflare-dns.com/dns-query")
    .pipe(z.url({ protocol: /^https?$/ })),
});

/** The environment as parsed by `envSchema`. */
export type Fields = z.infer<typeof envSchema>;
/** The environment as given (bindings included). */
export type RawEnv = Record<string, unknown>;

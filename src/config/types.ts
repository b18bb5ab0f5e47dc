/** The parsed configuration's shape: what each adapter and service is given. */
import type { KeyRingEntry } from "../lib/keyring";
import type { LogLevel } from "../lib/log";

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

/**
 * The relational store: D1 (default) or PostgreSQL through the `HYPERDRIVE` binding;
 * `dependency` is its name in metrics, spans and the health checks.
 */
export type DatabaseConfig = { kind: "d1"; dependency: "d1" } | { kind: "hyperdrive"; dependency: "postgres" };

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

/** The local reranker's feature weights, tuned on SciFact train only (see docs/api.md, "Answers: query modes"). */
export const DEFAULT_RERANK_WEIGHTS: RerankWeights = { coverage: 1, title: 1, proximity: 0.3, prior: 1.5 };

export interface ConfigProblem {
  setting: string;
  message: string;
}

/** Where spans go (OTEL_EXPORTER_OTLP_*); absent: no spans are recorded (trace ids still are). */
export interface TracingConfig {
  url: string;
  /** Secret (an API key for the collector): sent, never logged. */
  headers: Record<string, string>;
  timeoutMs: number;
  serviceName: string;
}

export interface Config {
  logLevel: LogLevel;
  tracing: TracingConfig | undefined;
  /** New traces recorded (0–1); a caller's `traceparent` sampled flag decides for its traces. */
  traceSampleRatio: number;
  corsOrigins: string[];
  /** The deployment's public origin (OAuth's issuer and `/mcp` resource); undefined = the request's. */
  publicUrl: string | undefined;
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
  /** A collection's shards double once one holds this many chunks. */
  shardSplitChunks: number;
  /** Chunks a split moves per step (read by the VectorShard object). */
  shardMoveChunks: number;
  /** Bytes of vectors one shard's Durable Object index holds at most. */
  vectorShardMaxBytes: number;
  /** Shards a collection may split into at most (a power of two is reached below it). */
  shardMaxCount: number;
  apiKeyCacheTtlMs: number;
  /** A cached key row younger than this is used as it is; older (up to the TTL) it is refreshed in the background. */
  apiKeyCacheFreshMs: number;
  /** The staleness bound of the isolate's collection versions (answer-cache keys); 0: read D1 every time. */
  collectionVersionMaxAgeMs: number;
  adminToken: string | undefined;
  /** Sorted newest (highest version) first; empty when ENCRYPTION_KEYS is unset. */
  keyRing: KeyRingEntry[];
  rateTiers: Record<string, RateTier>;
  defaultRateTier: string;
  rateLimiter: RateLimiterConfig;
  embeddings: EmbeddingsConfig;
  database: DatabaseConfig;
  vectorIndex: VectorIndexConfig;
  generator: GeneratorConfig;
  reranker: { kind: "local" } | { kind: "workers-ai"; model: string; timeoutMs: number };
  notifications: NotificationSettings;
  webhooks: WebhookSettings;
  /** Raw `query_log` rows older than this are deleted once rolled up (the dashboard reads rollups). */
  queryLogRetentionMs: number;
  /** A conversation is deleted this long after its last turn (CONVERSATION_RETENTION_DAYS). */
  conversationRetentionMs: number;
  exports: {
    ttlMs: number;
    maxPages: number;
    maxHtmlBytes: number;
    renderTimeoutMs: number;
    maxAttempts: number;
    /** Browser sessions are kept this long for the next export; 0: closed after each one. */
    keepAliveMs: number;
  };
  problems: ConfigProblem[];
}

export interface WebhookSettings {
  maxPerTenant: number;
  timeoutMs: number;
  /** Delay before each attempt, in seconds; its length is the number of attempts. */
  retryScheduleS: number[];
  allowedPorts: number[];
  allowLoopback: boolean;
  /** DNS over HTTPS (JSON) endpoint that resolves webhook hosts before every delivery. */
  dnsResolver: string;
}

/** The per-tenant notification hub: what it keeps, and how many and how big its sockets may be. */
export interface NotificationSettings {
  /** Keep at least this many of the newest events … */
  retainEvents: number;
  /** … and at least every event younger than this. */
  retainMs: number;
  maxSocketsPerTenant: number;
  maxSocketsPerKey: number;
  /** Largest message a client may send (bigger: close 1009). */
  maxMessageBytes: number;
  /** A socket silent for this long (no message, no ping) is closed with 4408. */
  idleTimeoutMs: number;
}

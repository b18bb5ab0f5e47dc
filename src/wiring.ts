/**
 * The composition root's first half (container.ts is the second): which adapter serves each
 * capability, as the parsed configuration chooses, each observed (adapters/instrument.ts). The
 * only importer of adapter implementations besides the tests. Instances that hold isolate-level
 * state (connection settings, caches, a collector's backoff) are kept per configuration object.
 */
import { BrowserRenderingPdf } from "./adapters/browser/browser-rendering";
import type { PdfRenderer } from "./adapters/browser/interface";
import { CacheApiCache } from "./adapters/cache/cache-api";
import type { EdgeCache } from "./adapters/cache/interface";
import { TieredCache, UpstashCache } from "./adapters/cache/upstash";
import { createDb, type Db } from "./adapters/db/client";
import { postgresD1 } from "./adapters/db/postgres";
import { DohResolver } from "./adapters/dns/doh";
import type { Resolver } from "./adapters/dns/interface";
import type { Embedder } from "./adapters/embed/interface";
import { LocalHashEmbedder } from "./adapters/embed/local";
import { OpenAiEmbedder } from "./adapters/embed/openai";
import { type AiBinding, WorkersAiEmbedder } from "./adapters/embed/workers-ai";
import { ExtractiveGenerator } from "./adapters/generate/extractive";
import type { Generator } from "./adapters/generate/interface";
import { OpenAiGenerator } from "./adapters/generate/openai";
import { WorkersAiGenerator } from "./adapters/generate/workers-ai";
import { instrument, instrumentD1, instrumentQueue } from "./adapters/instrument";
import { DurableObjectHubs } from "./adapters/notify/durable-object";
import type { NotificationHubs } from "./adapters/notify/interface";
import { DurableObjectRateLimiter } from "./adapters/rate-limit/durable-object";
import type { RateLimiter } from "./adapters/rate-limit/interface";
import { UpstashRateLimiter } from "./adapters/rate-limit/upstash";
import type { Reranker } from "./adapters/rerank/interface";
import { LocalReranker } from "./adapters/rerank/local";
import { WorkersAiReranker } from "./adapters/rerank/workers-ai";
import { DurableObjectChunkShards } from "./adapters/shards/durable-object";
import type { ChunkShards } from "./adapters/shards/interface";
import { ShardRouter } from "./adapters/shards/router";
import type { SpanExporter } from "./adapters/telemetry/interface";
import { OtlpHttpExporter } from "./adapters/telemetry/otlp";
import { DurableObjectVectorIndex } from "./adapters/vector/durable-object";
import type { VectorIndex } from "./adapters/vector/interface";
import { UpstashVectorIndex } from "./adapters/vector/upstash";
import { type VectorizeBinding, VectorizeVectorIndex } from "./adapters/vector/vectorize";
import { type Config, getConfig } from "./config";
import type { NotificationHub } from "./durable-objects/notification-hub";
import { Lru } from "./lib/lru";
import type { ExportMessage } from "./schemas/exports";
import type { NotifyMessage } from "./schemas/notifications";
import type { WebhookMessage } from "./schemas/webhooks";
import type { IngestQueues } from "./services/queue";
import { revealSecret } from "./services/secrets";
import { versionOf } from "./telemetry/invocation";

/** Bindings that only exist when the operator adds them to wrangler.toml. */
interface OptionalBindings {
  AI?: AiBinding;
  HYPERDRIVE?: Hyperdrive;
  VECTORIZE?: VectorizeBinding;
}

export function memo<T>(cache: WeakMap<Config, T>, config: Config, make: () => T): T {
  let value = cache.get(config);
  if (value === undefined) {
    value = make();
    cache.set(config, value);
  }
  return value;
}

/** How long a tenant's provider key, once decrypted, is reused by this isolate. */
const TENANT_KEY_TTL_MS = 60_000;

/**
 * A provider's API key for a tenant: the tenant's own secret named `apiKeySecret` when it stored
 * one (decrypted at most once a minute per isolate), else the operator's `apiKey`.
 */
function providerKey(
  config: Config,
  env: Env,
  settings: { apiKey: string | undefined; apiKeySecret: string | undefined },
): (tenantId: string | undefined) => Promise<string | undefined> {
  const { apiKey, apiKeySecret } = settings;
  const tenantKeys = new Lru<string | null>(1_000);
  return async (tenantId) => {
    if (apiKeySecret === undefined || tenantId === undefined) {
      return apiKey;
    }
    let own = tenantKeys.get(tenantId);
    if (own === undefined) {
      own = (await revealSecret(dbFor(config, env), config, tenantId, apiKeySecret)) ?? null;
      tenantKeys.set(tenantId, own, TENANT_KEY_TTL_MS);
    }
    return own ?? apiKey;
  };
}

/**
 * The relational store: the D1 binding, or PostgreSQL through Hyperdrive behind the same
 * interface (adapters/db/postgres.ts). A PostgreSQL connection belongs to the invocation that
 * opened it (Workers do not share I/O across requests), so each call builds a new one, opened
 * only by a first statement; Hyperdrive pools the real connections.
 */
export function dbFor(config: Config, env: Env): Db {
  if (config.database.kind === "hyperdrive") {
    const hyperdrive = (env as Env & OptionalBindings).HYPERDRIVE;
    return createDb(instrumentD1(postgresD1(hyperdrive?.connectionString), config.database.dependency));
  }
  return createDb(instrumentD1(env.DB, config.database.dependency));
}

const embedders = new WeakMap<Config, Embedder>();

/** The embedder: local hashing (default), Workers AI or an OpenAI-compatible endpoint. */
function embedderFor(config: Config, env: Env): Embedder {
  return memo(embedders, config, () => {
    const settings = config.embeddings;
    const bindings = env as Env & OptionalBindings;
    if (settings.kind === "workers-ai" && bindings.AI) {
      return new WorkersAiEmbedder(bindings.AI, settings.model, settings.dimensions, settings.timeoutMs);
    }
    if (settings.kind === "openai") {
      return new OpenAiEmbedder({ ...settings, apiKey: providerKey(config, env, settings) });
    }
    // Local, and the fallback while a half-configured provider is reported as `misconfigured`.
    return new LocalHashEmbedder(settings.kind === "local" ? settings.dimensions : 384);
  });
}

const vectorIndexes = new WeakMap<Config, VectorIndex>();

/** The vector index: Durable Object shards (default), Vectorize or Upstash Vector. */
function vectorIndexFor(config: Config, env: Env): VectorIndex {
  const settings = config.vectorIndex;
  const bindings = env as Env & OptionalBindings;
  if (settings.kind === "durable-object") {
    // Holds a request-bound namespace binding: cheap to build, never cached across requests.
    return new DurableObjectVectorIndex(shardRouterFor(config, env));
  }
  return memo(vectorIndexes, config, () =>
    settings.kind === "vectorize" && bindings.VECTORIZE
      ? new VectorizeVectorIndex(bindings.VECTORIZE)
      : settings.kind === "upstash"
        ? new UpstashVectorIndex(settings)
        : new DurableObjectVectorIndex(shardRouterFor(config, env)),
  );
}

/** Finds each collection's search shards (one, or several once it split); request-bound like its binding. */
function shardRouterFor(config: Config, env: Env): ShardRouter {
  return new ShardRouter(env.VECTOR_SHARD, {
    splitAtChunks: config.shardSplitChunks,
    maxShards: config.shardMaxCount,
  });
}

export const extractive = new ExtractiveGenerator();

const rerankers = new WeakMap<Config, Reranker>();

/** The reranker: the local cross-feature scorer (default) or a Workers AI cross-encoder. */
function rerankerFor(config: Config, env: Env): Reranker {
  const settings = config.reranker;
  const ai = (env as Env & OptionalBindings).AI;
  return memo(rerankers, config, () =>
    settings.kind === "workers-ai" && ai
      ? new WorkersAiReranker(ai, settings.model, settings.timeoutMs)
      : new LocalReranker(config.rerankWeights),
  );
}

const generators = new WeakMap<Config, Generator>();

/** The generator: extractive with citations (default), or an OpenAI-compatible chat model. */
function generatorFor(config: Config, env: Env): Generator {
  const settings = config.generator;
  const ai = (env as Env & OptionalBindings).AI;
  if (settings.kind === "openai") {
    return memo(
      generators,
      config,
      () => new OpenAiGenerator({ ...settings, apiKey: providerKey(config, env, settings) }),
    );
  }
  if (settings.kind === "workers-ai" && ai) {
    return memo(generators, config, () => new WorkersAiGenerator(ai, settings.model));
  }
  // Extractive, and the fallback while a missing binding is reported as `misconfigured`.
  return extractive;
}

const redisCaches = new WeakMap<Config, UpstashCache>();

/**
 * Where answers and query embeddings are shared: the Workers Cache API of this data centre, in
 * front of Upstash Redis when CACHE_PROVIDER=upstash.
 */
function edgeCacheFor(config: Config): EdgeCache {
  const near = new CacheApiCache(caches.default);
  const settings = config.cache;
  if (settings.kind !== "upstash") {
    return near;
  }
  return new TieredCache(
    near,
    memo(redisCaches, config, () => new UpstashCache(settings)),
  );
}

const limiters = new WeakMap<Config, RateLimiter>();

/** The rate limiter: Upstash when both of its settings are present, else the Durable Object one. */
function rateLimiterFor(config: Config, env: Env): RateLimiter {
  return memo(limiters, config, () =>
    config.rateLimiter.kind === "upstash"
      ? new UpstashRateLimiter(config.rateLimiter)
      : new DurableObjectRateLimiter(env.RATE_LIMITER),
  );
}

/** The outside world, one adapter per capability; tests replace any of them (`overrides`). */
export interface Adapters {
  db: Db;
  limiter: RateLimiter;
  blobs: R2Bucket;
  /** Queue per priority: `high` has its own so it is never stuck behind bulk imports. */
  queues: IngestQueues;
  embedder: Embedder;
  vectors: VectorIndex;
  /** Each collection's search shard (chunks and keyword index; the source of truth for search). */
  shards: ChunkShards;
  reranker: Reranker;
  generator: Generator;
  cache: EdgeCache;
  /** Per-tenant notification hubs, and the queue that retries what they could not take. */
  hubs: NotificationHubs;
  notifyQueue: Queue<NotifyMessage>;
  /** Webhook deliveries, and the DNS that checks their hosts. */
  webhookQueue: Queue<WebhookMessage>;
  resolver: Resolver;
  /** PDF exports: the renderer (Browser Rendering) and their queue. */
  renderer: PdfRenderer;
  exportQueue: Queue<ExportMessage>;
}

/**
 * The adapters the configuration chooses (production wiring), each observed: a dependency tally
 * and, when the invocation is traced, a span per call (adapters/instrument.ts).
 */
export function adaptersFor(config: Config, env: Env): Adapters {
  return {
    db: dbFor(config, env),
    limiter: instrument(rateLimiterFor(config, env), "limiter"),
    blobs: instrument(env.BLOBS, "r2"),
    queues: { high: instrumentQueue(env.INGEST_HIGH, "ingest-high"), bulk: instrumentQueue(env.INGEST, "ingest") },
    embedder: instrument(embedderFor(config, env), "embedder"),
    vectors: instrument(vectorIndexFor(config, env), "vectors"),
    shards: instrument(new DurableObjectChunkShards(shardRouterFor(config, env)), "shards"),
    reranker: instrument(rerankerFor(config, env), "reranker"),
    generator: instrument(generatorFor(config, env), "generator"),
    cache: instrument(edgeCacheFor(config), "cache"),
    hubs: instrument(
      new DurableObjectHubs(env.NOTIFICATION_HUB as unknown as DurableObjectNamespace<NotificationHub>),
      "hubs",
    ),
    notifyQueue: instrumentQueue(env.NOTIFY as Queue<NotifyMessage>, "notify"),
    webhookQueue: instrumentQueue(env.WEBHOOKS as Queue<WebhookMessage>, "webhooks"),
    resolver: instrument(resolverFor(config), "dns"),
    renderer: instrument(
      new BrowserRenderingPdf(env.BROWSER as unknown as Fetcher, config.exports.keepAliveMs),
      "renderer",
    ),
    exportQueue: instrumentQueue(env.EXPORTS as Queue<ExportMessage>, "exports"),
  };
}

const resolvers = new WeakMap<Config, Resolver>();

/** DNS over HTTPS for webhook hosts (WEBHOOK_DNS_RESOLVER). */
function resolverFor(config: Config): Resolver {
  return memo(resolvers, config, () => new DohResolver(config.webhooks.dnsResolver));
}

const exporters = new WeakMap<Config, SpanExporter>();

/** The OTLP exporter for this configuration (one per isolate: it holds the collector's backoff). */
export function spanExporterFor(env: Env): SpanExporter | undefined {
  const config = getConfig(env);
  const tracing = config.tracing;
  if (!tracing) {
    return undefined;
  }
  let exporter = exporters.get(config);
  if (!exporter) {
    exporter = new OtlpHttpExporter({
      url: tracing.url,
      headers: tracing.headers,
      timeoutMs: tracing.timeoutMs,
      resource: {
        "service.name": tracing.serviceName,
        "service.version": versionOf(env),
        "cloud.provider": "cloudflare",
        "cloud.platform": "cloudflare_workers",
      },
    });
    exporters.set(config, exporter);
  }
  return exporter;
}

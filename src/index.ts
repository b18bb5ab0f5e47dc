import { edgeCacheFor, embedderFor, generatorFor, rerankerFor, vectorIndexFor } from "./adapters/choose";
import { createDb } from "./adapters/db/client";
import { createApp } from "./app";
import { getConfig } from "./config";
import { createLogger } from "./lib/log";
import { Lru } from "./lib/lru";
import { warmAnswerCache } from "./services/cache-warming";
import type { IngestMessage } from "./services/documents";
import { handleIngestBatch, sweepStale } from "./services/ingest";
import { fusionOf } from "./services/search";

export { RateLimiter } from "./durable-objects/rate-limiter";
export { VectorShard } from "./durable-objects/vector-shard";

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    const config = getConfig(env);
    const logger = createLogger(config.logLevel, { queue: batch.queue });
    await handleIngestBatch(
      {
        db: createDb(env.DB),
        blobs: env.BLOBS,
        embedder: embedderFor(config, env),
        vectors: vectorIndexFor(config, env),
        logger,
      },
      batch as MessageBatch<IngestMessage>,
      batch.queue.endsWith("-dlq"),
    );
  },
  async scheduled(_controller, env) {
    const config = getConfig(env);
    const db = createDb(env.DB);
    const sweep = sweepStale({
      db,
      queues: { high: env.INGEST_HIGH, bulk: env.INGEST },
      logger: createLogger(config.logLevel, { job: "sweep" }),
    });
    const warmLogger = createLogger(config.logLevel, { job: "cache-warming" });
    const warm = warmAnswerCache(
      {
        db,
        embedder: embedderFor(config, env),
        vectors: vectorIndexFor(config, env),
        reranker: rerankerFor(config, env),
        generator: generatorFor(config, env),
        cache: edgeCacheFor(config),
        queryEmbeddings: new Lru(100),
        logger: warmLogger,
      },
      {
        topN: config.cacheWarmTopN,
        budgets: config.queryBudgets,
        rrf: fusionOf(config, embedderFor(config, env)),
        commonTermRatio: config.commonTermRatio,
        cacheTtlSeconds: config.answerCacheTtlSeconds,
        embeddingCacheTtlSeconds: config.embeddingCacheTtlSeconds,
      },
    ).then((result) => warmLogger.info("answer cache warmed", { ...result }));
    // Independent jobs: one failing must not stop the other.
    const [swept, warmed] = await Promise.allSettled([sweep, warm]);
    for (const [job, outcome] of [
      ["sweep", swept],
      ["cache-warming", warmed],
    ] as const) {
      if (outcome.status === "rejected") {
        createLogger(config.logLevel, { job }).error("scheduled job failed", { error: outcome.reason });
      }
    }
  },
} satisfies ExportedHandler<Env>;

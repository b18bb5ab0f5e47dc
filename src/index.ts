import { createApp } from "./app";
import { createServices } from "./container";
import type { IngestMessage } from "./schemas/queue";
import { handleIngestBatch } from "./services/ingest/consumer";
import { sweepStale } from "./services/ingest/sweep";
import { warmAnswerCache } from "./services/query/warming";

export { RateLimiter } from "./durable-objects/rate-limiter";
export { VectorShard } from "./durable-objects/vector-shard";

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch, env, ctx) {
    const services = createServices(env, ctx, { queue: batch.queue });
    await handleIngestBatch(services, batch as MessageBatch<IngestMessage>, batch.queue.endsWith("-dlq"));
  },
  async scheduled(_controller, env, ctx) {
    const services = createServices(env, ctx);
    const { config, logger } = services;
    const sweep = sweepStale({ ...services, logger: logger.child({ job: "sweep" }) });
    const warmLogger = logger.child({ job: "cache-warming" });
    const warm = warmAnswerCache(
      { ...services.answering, logger: warmLogger },
      { ...services.retrieval, topN: config.cacheWarmTopN },
    ).then((result) => warmLogger.info("answer cache warmed", { ...result }));
    // Independent jobs: one failing must not stop the other.
    const [swept, warmed] = await Promise.allSettled([sweep, warm]);
    for (const [job, outcome] of [
      ["sweep", swept],
      ["cache-warming", warmed],
    ] as const) {
      if (outcome.status === "rejected") {
        logger.child({ job }).error("scheduled job failed", { error: outcome.reason });
      }
    }
  },
} satisfies ExportedHandler<Env>;

import { embedderFor, vectorIndexFor } from "./adapters/choose";
import { createDb } from "./adapters/db/client";
import { createApp } from "./app";
import { getConfig } from "./config";
import { createLogger } from "./lib/log";
import type { IngestMessage } from "./services/documents";
import { handleIngestBatch, sweepStale } from "./services/ingest";

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
    const logger = createLogger(config.logLevel, { job: "sweep" });
    await sweepStale({ db: createDb(env.DB), queues: { high: env.INGEST_HIGH, bulk: env.INGEST }, logger });
  },
} satisfies ExportedHandler<Env>;

import { createApp } from "./app";
import { createServices, type Services } from "./container";
import type { ExportMessage } from "./schemas/exports";
import type { NotifyMessage } from "./schemas/notifications";
import type { IngestMessage } from "./schemas/queue";
import type { WebhookMessage } from "./schemas/webhooks";

export { NotificationHub } from "./durable-objects/notification-hub";
export { RateLimiter } from "./durable-objects/rate-limiter";
export { VectorShard } from "./durable-objects/vector-shard";

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch, env, ctx) {
    const services = createServices(env, ctx, { queue: batch.queue });
    if (batch.queue === "edgerag-notify") {
      await services.notifications.handleBatch(batch as MessageBatch<NotifyMessage>);
      return;
    }
    if (batch.queue === "edgerag-exports") {
      await services.exports.handleBatch(batch as MessageBatch<ExportMessage>);
      return;
    }
    if (batch.queue === "edgerag-webhooks") {
      await services.webhooks.handleBatch(batch as MessageBatch<WebhookMessage>);
      return;
    }
    await services.ingest.handleBatch(batch as MessageBatch<IngestMessage>, batch.queue.endsWith("-dlq"));
  },
  async scheduled(_controller, env, ctx) {
    // Independent jobs, each with its own logger fields: one failing must not stop the other.
    const jobs = {
      sweep: (s: Services) => s.ingest.sweep(),
      "ticket-sweep": (s: Services) => s.notifications.sweepTickets(),
      "webhook-sweep": (s: Services) => s.webhooks.sweep(),
      "export-sweep": (s: Services) => s.exports.sweep(),
      "query-rollup": (s: Services) =>
        s.dashboard.rollUp().then((result) => s.logger.info("query log rolled up", { ...result })),
      "cache-warming": (s: Services) =>
        s.query.warm(s.config.cacheWarmTopN).then((result) => s.logger.info("answer cache warmed", { ...result })),
    };
    await Promise.all(
      Object.entries(jobs).map(async ([job, run]) => {
        const services = createServices(env, ctx, { job });
        try {
          await run(services);
        } catch (error) {
          services.logger.error("scheduled job failed", { error });
        }
      }),
    );
  },
} satisfies ExportedHandler<Env>;

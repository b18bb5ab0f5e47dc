import { instrumentGlobalFetch } from "./adapters/instrument";
import { createApp } from "./app";
import { handleBatch } from "./consumers";
import { createServices, type Services, spanExporterFor } from "./container";
import { asAppError, problemResponse } from "./errors";
import { withOAuth } from "./oauth";
import { routeCost } from "./services/rate-limits";
import { point } from "./telemetry/analytics-schema";
import { beginInvocation, finishInvocation, recordGauge, versionOf } from "./telemetry/invocation";
import { parseTraceparent, type SpanContext } from "./telemetry/trace-context";

export { NotificationHub } from "./durable-objects/notification-hub";
export { RateLimiter } from "./durable-objects/rate-limiter";
export { VectorShard } from "./durable-objects/vector-shard";

instrumentGlobalFetch();
const app = createApp();

/**
 * Client registration and token requests, which the OAuth provider answers without the app, are
 * metered like any anonymous request: by client address, at the route's cost (services/rate-limits.ts).
 */
async function meterOAuth(request: Request, env: Env, ctx: ExecutionContext): Promise<Response | undefined> {
  const { pathname, origin } = new URL(request.url);
  const services = createServices(env, ctx, { route: pathname });
  const meter = services.rateLimits.meter(undefined, request.headers.get("cf-connecting-ip") ?? "local");
  try {
    await services.rateLimits.admit(meter, routeCost(request.method, pathname));
    return undefined;
  } catch (error) {
    return problemResponse(asAppError(error), crypto.randomUUID(), origin);
  }
}

/** The producers' trace contexts (stamped by `instrumentQueue`): the consumer's trace links to them. */
function producerLinks(batch: MessageBatch): SpanContext[] {
  const links: SpanContext[] = [];
  for (const message of batch.messages) {
    const context = parseTraceparent((message.body as { traceparent?: string } | null)?.traceparent);
    if (context && !links.some((link) => link.spanId === context.spanId)) {
      links.push(context);
    }
  }
  return links;
}

/** Independent jobs, each its own trace and logger fields: one failing must not stop the others. */
const jobs: Record<string, (s: Services) => Promise<unknown>> = {
  sweep: async (s) => {
    await s.ingest.sweep();
    recordGauge("ingest_backlog", await s.ingest.backlog());
  },
  "shard-migration": (s) =>
    s.ingest.migrateToShards().then((moved) => {
      if (moved.documents > 0) {
        s.logger.info("chunks moved to their shards", { ...moved });
      }
    }),
  "ticket-sweep": (s) => s.notifications.sweepTickets(),
  "webhook-sweep": (s) => s.webhooks.sweep(),
  // The guides /v1/help answers from follow the deployed code (only what changed is re-indexed).
  "help-guides": (s) => s.help.sync(),
  "export-sweep": (s) => s.exports.sweep(),
  "conversation-sweep": (s) => s.conversations.purgeExpired(),
  "query-rollup": (s) => s.dashboard.rollUp().then((result) => s.logger.info("query log rolled up", { ...result })),
  "cache-warming": (s) =>
    s.query.warm(s.config.cacheWarmTopN).then((result) => s.logger.info("answer cache warmed", { ...result })),
};

export default {
  // OAuth's endpoints, and /mcp with an OAuth token, pass the provider first (src/oauth.ts).
  fetch: withOAuth(app, meterOAuth),
  async queue(batch, env, ctx) {
    const started = performance.now();
    const telemetry = beginInvocation(env, {
      name: `${batch.queue} process`,
      kind: "consumer",
      links: producerLinks(batch),
      attributes: { "messaging.destination.name": batch.queue, "messaging.batch.message_count": batch.messages.length },
    });
    let failed = false;
    try {
      await telemetry.run(() =>
        handleBatch(batch, createServices(env, ctx, { queue: batch.queue, trace_id: telemetry.traceId })),
      );
    } catch (error) {
      failed = true;
      telemetry.annotate({ code: "internal" });
      throw error;
    } finally {
      const now = Date.now();
      const oldest = Math.min(now, ...batch.messages.map((m) => m.timestamp.getTime()));
      finishInvocation(env, ctx, telemetry, {
        exporter: spanExporterFor(env),
        entry: batch.queue,
        own: point("queue", {
          index: batch.queue,
          queue: batch.queue,
          version: versionOf(env),
          outcome: failed ? "error" : "ok",
          duration_ms: Math.round((performance.now() - started) * 100) / 100,
          messages: batch.messages.length,
          failed: failed ? 1 : 0,
          redelivered: batch.messages.filter((m) => m.attempts > 1).length,
          oldest_age_ms: now - oldest,
          dead_lettered: batch.queue.endsWith("-dlq") ? batch.messages.length : 0,
        }),
      });
    }
  },
  async scheduled(_controller, env, ctx) {
    await Promise.all(
      Object.entries(jobs).map(async ([job, run]) => {
        const started = performance.now();
        const telemetry = beginInvocation(env, {
          name: `cron ${job}`,
          kind: "internal",
          attributes: { "edgerag.job": job },
        });
        const services = createServices(env, ctx, { job, trace_id: telemetry.traceId });
        let failed = false;
        try {
          await telemetry.run(() => run(services));
        } catch (error) {
          failed = true;
          telemetry.annotate({ code: "internal" });
          services.logger.error("scheduled job failed", { error });
        } finally {
          finishInvocation(env, ctx, telemetry, {
            exporter: spanExporterFor(env),
            entry: job,
            own: point("cron", {
              index: job,
              job,
              version: versionOf(env),
              outcome: failed ? "error" : "ok",
              duration_ms: Math.round((performance.now() - started) * 100) / 100,
              count: 1,
              failed: failed ? 1 : 0,
            }),
          });
        }
      }),
    );
  },
} satisfies ExportedHandler<Env>;

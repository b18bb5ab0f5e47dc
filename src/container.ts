/**
 * The composition root: parsed configuration becomes adapter instances (wiring.ts, its first half)
 * and adapters are bound into the services that routes, the queue consumer, the cron handler and the
 * tests use (`createServices`). Instances that hold isolate-level state (connection settings,
 * caches) are kept per configuration object; values derived from configuration are computed once
 * per parsed configuration, not per request.
 */

import { type Config, getConfig } from "./config";
import { createLogger, type LogSink } from "./lib/log";
import { Lru } from "./lib/lru";
import { oauthApi } from "./oauth";
import { apiKeyService } from "./services/api-keys";
import { authService } from "./services/auth";
import { collectionService } from "./services/collections";
import { conversationService } from "./services/conversations";
import { dashboardService } from "./services/dashboard/service";
import { documentService } from "./services/documents";
import { exportService } from "./services/exports/service";
import { healthService } from "./services/health";
import { helpService } from "./services/help";
import { ingestService } from "./services/ingest/service";
import { notificationService } from "./services/notifications/service";
import { oauthGrantService } from "./services/oauth-grants";
import type { AnswerDeps, CachedAnswer } from "./services/query/pipeline";
import { type QuerySettings, queryService, searchService } from "./services/query/service";
import { rateLimitService } from "./services/rate-limits";
import { fusionOf } from "./services/search";
import { secretService } from "./services/secrets";
import { tenantService } from "./services/tenants";
import { webhookService } from "./services/webhooks/service";
import { type Adapters, adaptersFor, extractive, memo } from "./wiring";

export { type Adapters, spanExporterFor } from "./wiring";

const querySettings = new WeakMap<Config, QuerySettings>();

/** L1 caches of this isolate (bounded), shared by every request, queue batch and cron tick. */
const queryEmbeddings = new Lru<Float32Array>(2_000);
const answers = new Lru<CachedAnswer>(256);

/** What tests may replace: any adapter, where log lines go, and the isolate's L1 caches. */
export interface Overrides extends Partial<Adapters> {
  logSink?: LogSink;
  queryEmbeddings?: Lru<Float32Array>;
  /** `undefined` given explicitly: no L1 answer cache. */
  answers?: Lru<CachedAnswer> | undefined;
}

/** Where background work goes: the invocation's `waitUntil` (a request, a queue batch, a cron tick). */
export type Invocation = Pick<ExecutionContext, "waitUntil">;

/**
 * Everything a request, a queue batch or a cron tick works with, bound once: the capabilities
 * routes call (`services.<capability>.<verb>(principal, input)`), and the adapters under them for
 * the middleware (the limiter) and for tests.
 */
export type Services = ReturnType<typeof createServices>;

/**
 * The composition root. Called once per request by the `services` middleware, once per queue
 * batch and cron tick by the Worker entry, and by the tests, so that all of them run the same
 * wiring. `overrides` replaces adapters (the unit layer passes in-memory ones).
 */
export function createServices(
  env: Env,
  invocation: Invocation,
  fields: Record<string, unknown> = {},
  overrides: Overrides = {},
) {
  const config = getConfig(env);
  // Everything but the log sink and the L1 caches replaces an adapter (`answers` is read below).
  const { logSink, queryEmbeddings: embeddingsL1 = queryEmbeddings, answers: _answers, ...replaced } = overrides;
  const logger = createLogger(config.logLevel, fields, logSink);
  const adapters: Adapters = { ...adaptersFor(config, env), ...replaced };
  const { db } = adapters;
  const settingsOf = (): QuerySettings => ({
    rrf: fusionOf(config, adapters.embedder),
    maxTopK: config.searchMaxTopK,
    versionMaxAgeMs: config.collectionVersionMaxAgeMs,
    commonTermRatio: config.commonTermRatio,
    budgets: config.queryBudgets,
    cacheTtlSeconds: config.answerCacheTtlSeconds,
    embeddingCacheTtlSeconds: config.embeddingCacheTtlSeconds,
  });
  // The fusion weight depends on the embedder: memoised for the configured one only.
  const settings = replaced.embedder ? settingsOf() : memo(querySettings, config, settingsOf);
  const answering: AnswerDeps = {
    ...adapters,
    fallbackGenerator: extractive,
    queryEmbeddings: embeddingsL1,
    answers: "answers" in overrides ? overrides.answers : answers,
    defer: (work) => invocation.waitUntil(work),
    logger,
  };
  const defer = (work: Promise<unknown>) => invocation.waitUntil(work);
  const webhooks = webhookService({
    db,
    config,
    queue: adapters.webhookQueue,
    resolver: adapters.resolver,
    notify: (...event) => notifications.publish(...event),
    logger,
  });
  const notifications = notificationService({
    db,
    hubs: adapters.hubs,
    queue: adapters.notifyQueue,
    defer,
    logger,
    fanOut: webhooks.fanOut,
  });
  const notify = notifications.publish;
  const conversations = conversationService({ db, config });
  const query = queryService(answering, settings, conversations);
  const documents = documentService({ ...adapters, maxUploadBytes: config.maxUploadBytes });
  const search = searchService(answering, settings);
  const collections = collectionService(adapters);
  const dashboard = dashboardService({ db, hubs: adapters.hubs, queryLogRetentionMs: config.queryLogRetentionMs });
  return {
    config,
    logger,
    ...adapters,
    notifications,
    webhooks,
    dashboard,
    exports: exportService({
      db,
      blobs: adapters.blobs,
      queue: adapters.exportQueue,
      renderer: adapters.renderer,
      shards: adapters.shards,
      notify,
      query,
      dashboard,
      logger,
      settings: config.exports,
    }),
    auth: authService({ db, config, defer }),
    tenants: tenantService({ db, config }),
    apiKeys: apiKeyService({ db, config, notifications }),
    secrets: secretService({ db, config }),
    collections,
    oauth: oauthGrantService({
      helpers: (origin) => (env.OAUTH_KV ? oauthApi(env, origin) : undefined),
      publicUrl: config.publicUrl,
      collections,
    }),
    documents,
    ingest: ingestService({ ...adapters, logger, notify }),
    search,
    query,
    conversations,
    help: helpService({ db, documents, query, search, defer }),
    health: healthService({ ...adapters, config }),
    rateLimits: rateLimitService({ limiter: adapters.limiter, config, notify }),
  };
}

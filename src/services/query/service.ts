import type { QueryInput, QueryResult } from "../../schemas/query";
import type { SearchInput } from "../../schemas/search";
import { currentTelemetry, withSpan } from "../../telemetry/trace";
import type { KeyPrincipal } from "../principal";
import { search } from "../search";
import { logQuery, logRefusedQuery } from "./log";
import {
  type AnswerDeps,
  type AnswerEvents,
  type AnswerOptions,
  answer,
  type PreparedQuery,
  prepareQuery,
} from "./pipeline";
import { warmAnswerCache } from "./warming";

/** Settings of search and answers, derived once per parsed configuration. */
export type QuerySettings = Omit<AnswerOptions, "startedAt" | "signal"> & {
  maxTopK: number;
  /** The collection versions' staleness bound (COLLECTION_VERSION_MAX_AGE_MS). */
  versionMaxAgeMs: number;
};

/** What one run of the pipeline brings from its caller: when it started, and when to give up. */
export interface Run {
  startedAt: number;
  signal?: AbortSignal | undefined;
}

/**
 * The capabilities routes call as `services.query.<verb>(principal, input)` and
 * `services.search.run(principal, input)`, with adapters and settings bound once.
 */
export function queryService(deps: AnswerDeps, settings: QuerySettings) {
  return {
    /** The checks that can refuse a query, before anything is streamed. */
    prepare: (principal: KeyPrincipal, input: QueryInput) =>
      prepareQuery(deps.db, principal, input, { maxAgeMs: settings.versionMaxAgeMs, defer: deps.defer }),
    answer: (
      principal: KeyPrincipal,
      input: QueryInput,
      prepared: PreparedQuery,
      run: Run,
      events?: AnswerEvents,
    ): Promise<QueryResult> =>
      withSpan(
        "query.answer",
        { "edgerag.mode": input.mode, "edgerag.collections": prepared.versions.size, "edgerag.top_k": input.top_k },
        async (span) => {
          currentTelemetry()?.annotate({ mode: input.mode, collections: prepared.versions.size });
          const result = await answer(deps, principal, input, prepared, { ...settings, ...run }, events);
          currentTelemetry()?.annotate({ cache: result.cache });
          span?.setAll({ "edgerag.cache": result.cache, "edgerag.degraded": result.degraded?.join(",") || undefined });
          return result;
        },
      ),
    /** Records the call in `query_log`, in the background (never delays the response). */
    log: (principal: KeyPrincipal, input: QueryInput, outcome: { status: number; result?: QueryResult }) =>
      deps.defer(
        logQuery(deps.db, principal, input, outcome).catch((error: unknown) =>
          deps.logger.error("query log write failed", { error }),
        ),
      ),
    /** Records a query refused before its route ran, from its raw body (in the background). */
    logRefused: (principal: KeyPrincipal, body: string, status: number) =>
      deps.defer(
        logRefusedQuery(deps.db, principal, body, status).catch((error: unknown) =>
          deps.logger.error("query log write failed", { error }),
        ),
      ),
    /** The cron job: re-answers frequent recent queries whose cached answer went stale. */
    warm: (topN: number) => warmAnswerCache(deps, { ...settings, topN }),
  };
}
export type QueryService = ReturnType<typeof queryService>;

export function searchService(deps: AnswerDeps, settings: QuerySettings) {
  return {
    run: (principal: KeyPrincipal, input: SearchInput) =>
      withSpan(
        "search.run",
        { "edgerag.strategy": input.strategy, "edgerag.collections": input.collection_ids?.length ?? 0 },
        () => search(deps, principal, input, settings),
      ),
  };
}
export type SearchService = ReturnType<typeof searchService>;

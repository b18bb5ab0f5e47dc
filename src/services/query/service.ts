import { asAppError } from "../../errors";
import { raceTimeout } from "../../lib/async";
import { leansOnPrevious, rewriteFollowUp, type Turn } from "../../lib/rewrite";
import type { QueryInput, QueryResult } from "../../schemas/query";
import type { SearchInput } from "../../schemas/search";
import { currentTelemetry, withSpan } from "../../telemetry/trace";
import type { ConversationService } from "../conversations";
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

/** How long a model may take to rewrite a follow-up before the rule-based rewrite is used. */
export const REWRITE_TIMEOUT_MS = 1_500;

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
  /** A follow-up as asked, when the input's query is its rewrite (see AnswerOptions). */
  focus?: string | undefined;
}

/**
 * The capabilities routes call as `services.query.<verb>(principal, input)` and
 * `services.search.run(principal, input)`, with adapters and settings bound once.
 */
export function queryService(
  deps: AnswerDeps,
  settings: QuerySettings,
  conversations?: Pick<ConversationService, "history" | "append">,
) {
  const service = {
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
  /**
   * A follow-up made standalone: by the generator's model when it has one (a short prompt, within
   * REWRITE_TIMEOUT_MS), else — or when the model fails or replies with nothing usable — by
   * lib/rewrite.ts (`fellBack`). A question that stands alone is left as it is, without a model call.
   */
  async function rewrite(
    principal: KeyPrincipal,
    asked: QueryInput,
    history: Turn[],
  ): Promise<{ query: string; fellBack: boolean }> {
    const rewriter = deps.generator.rewrite?.bind(deps.generator);
    if (!rewriter || !history.some((t) => t.role === "user") || !leansOnPrevious(asked.query)) {
      return { query: rewriteFollowUp(asked.query, history), fellBack: false };
    }
    try {
      const signal = AbortSignal.timeout(REWRITE_TIMEOUT_MS);
      const made = await raceTimeout(
        rewriter(asked.query, history, { signal, tenantId: principal.tenantId }),
        REWRITE_TIMEOUT_MS,
        () => new Error("the follow-up rewrite timed out"),
      );
      if (made) {
        return { query: made, fellBack: false };
      }
    } catch (error) {
      deps.logger.warn("follow-up rewrite failed; rewritten without the model", { error });
    }
    return { query: rewriteFollowUp(asked.query, history), fellBack: true };
  }

  return {
    ...service,
    /**
     * A client's question (the route's one verb), logged whatever happens: its checks run now (a
     * refusal is logged and thrown, before anything is streamed), then `answer` runs the pipeline
     * and logs the outcome — 499 when the client went away while it streamed.
     */
    async ask(principal: KeyPrincipal, asked: QueryInput): Promise<Question> {
      let input = asked;
      let rewritten: string | undefined;
      let rewriteFell = false;
      const log = (status: number, result?: QueryResult) => service.log(principal, input, { status, result });
      let prepared: PreparedQuery;
      try {
        // A follow-up is made standalone with the turns before it (a conversation's, or given inline).
        const history =
          asked.conversation_id !== undefined && conversations
            ? await conversations.history(principal, asked.conversation_id)
            : asked.history;
        if (history !== undefined) {
          const made = await rewrite(principal, asked, history);
          rewritten = made.query;
          rewriteFell = made.fellBack;
          input = { ...asked, query: rewritten };
        }
        prepared = await service.prepare(principal, input);
      } catch (error) {
        log(asAppError(error).status);
        throw error;
      }
      return {
        async answer(run, events, clientGone) {
          try {
            const focus = rewritten !== undefined && rewritten !== asked.query ? asked.query : undefined;
            const answered = await service.answer(principal, input, prepared, { ...run, focus }, events);
            const result =
              rewritten === undefined
                ? answered
                : {
                    ...answered,
                    rewritten_query: rewritten,
                    ...(rewriteFell ? { degraded: [...answered.degraded, "rewrite_fallback"] } : {}),
                  };
            if (asked.conversation_id !== undefined && conversations) {
              await conversations.append(
                principal,
                asked.conversation_id,
                { content: asked.query, rewrittenQuery: rewritten ?? null },
                result.answer,
              );
            }
            log(200, result);
            return result;
          } catch (error) {
            log(clientGone?.aborted ? 499 : asAppError(error).status);
            throw error;
          }
        },
      };
    },
  };
}
export type QueryService = ReturnType<typeof queryService>;

/** A question whose checks passed: answering it is what remains (see `ask`). */
export interface Question {
  answer(run: Run, events?: AnswerEvents, clientGone?: AbortSignal): Promise<QueryResult>;
}

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

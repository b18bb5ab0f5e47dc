/**
 * Cache warming, run by the cron trigger: per tenant, the most frequent successful queries of the
 * last day (from the query log) are answered again whenever their cached answer is missing or
 * stale (a collection changed, so the version-keyed entry no longer matches). Each runs with the
 * restriction of the key that asked, so the warmed entry is exactly the one that key will hit.
 */
import { and, eq, gt, sql } from "drizzle-orm";
import { apiKeys, queryLog } from "../../adapters/db/schema";
import { AppError } from "../../errors";
import { QueryBody } from "../../schemas/query";
import { type KeyPrincipal, keyPrincipal } from "../principal";
import { type AnswerDeps, type AnswerOptions, answer, prepareQuery } from "./pipeline";

/** How far back the query log is read. */
export const WARM_WINDOW_MS = 24 * 60 * 60_000;
/** Tenants warmed per run at most (the busiest first). */
const MAX_TENANTS = 50;

export interface WarmResult {
  /** Answers computed and cached afresh. */
  warmed: number;
  /** Answers already cached for the current versions. */
  fresh: number;
  /** Queries that can no longer run (key revoked, collection deleted …) or failed. */
  skipped: number;
}

export async function warmAnswerCache(
  deps: Omit<AnswerDeps, "defer">,
  options: Omit<AnswerOptions, "startedAt" | "signal"> & { topN: number; now?: number },
): Promise<WarmResult> {
  const result: WarmResult = { warmed: 0, fresh: 0, skipped: 0 };
  if (options.topN <= 0 || options.cacheTtlSeconds <= 0) {
    return result;
  }
  const since = (options.now ?? Date.now()) - WARM_WINDOW_MS;
  const frequent = await deps.db
    .select({
      tenantId: queryLog.tenantId,
      keyId: queryLog.keyId,
      mode: queryLog.mode,
      // One text per hash; an aggregate, so the statement is standard SQL (not SQLite's bare column).
      text: sql<string>`MAX(${queryLog.queryText})`,
      params: queryLog.params,
      asked: sql<number>`COUNT(*)`.as("asked"),
    })
    .from(queryLog)
    .where(and(gt(queryLog.createdAt, since), eq(queryLog.status, 200)))
    .groupBy(queryLog.tenantId, queryLog.keyId, queryLog.mode, queryLog.queryHash, queryLog.params)
    .orderBy(queryLog.tenantId, sql`asked DESC`);
  const perTenant = new Map<string, typeof frequent>();
  for (const row of frequent) {
    const list = perTenant.get(row.tenantId) ?? [];
    if (list.length < options.topN) {
      list.push(row);
      perTenant.set(row.tenantId, list);
    }
  }
  for (const rows of [...perTenant.values()].slice(0, MAX_TENANTS)) {
    for (const row of rows) {
      const principal = row.keyId ? await principalOf(deps, row.tenantId, row.keyId) : undefined;
      const input = QueryBody.safeParse({
        ...row.params,
        filter: row.params.filter ?? undefined,
        query: row.text,
        mode: row.mode,
      });
      if (!principal || !input.success) {
        result.skipped++;
        continue;
      }
      const writes: Promise<unknown>[] = [];
      try {
        const prepared = await prepareQuery(deps.db, principal, input.data);
        const answered = await answer(
          { ...deps, defer: (work) => writes.push(work) },
          principal,
          input.data,
          prepared,
          {
            ...options,
            startedAt: performance.now(),
          },
        );
        await Promise.all(writes);
        if (answered.cache === "hit") {
          result.fresh++;
        } else {
          result.warmed++;
        }
      } catch (error) {
        // The query cannot run as it was asked any more (a collection deleted, a key narrowed, a
        // provider down): nothing to warm now; it ages out of the log if it never runs again.
        if (!(error instanceof AppError)) {
          throw error;
        }
        result.skipped++;
      }
    }
  }
  return result;
}

async function principalOf(
  deps: Pick<AnswerDeps, "db">,
  tenantId: string,
  keyId: string,
): Promise<KeyPrincipal | undefined> {
  const key = await deps.db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, tenantId)))
    .get();
  if (!key || (key.expiresAt !== null && key.expiresAt <= Date.now())) {
    return undefined;
  }
  return keyPrincipal(key);
}

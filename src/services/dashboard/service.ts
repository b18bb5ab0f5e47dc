/**
 * The tenant's dashboard, computed from what the service did: the query rollups of the period
 * (one read) plus the raw query log since the last rollup (one grouped read of at most one cron
 * period), the documents table (two grouped reads), the daily top queries with the same tail (one
 * read), the exports of the period (one count) and the hub's event count. A fixed number of
 * queries whatever the period or the log's size; every one takes the tenant id in its SQL. The
 * response says when it was computed (`as_of`) and up to when the rollups reach (`rolled_up_to`).
 * The PDF export renders the same `get`.
 */
import { and, eq, gte, lt, sql } from "drizzle-orm";
import type { Db } from "../../adapters/db/client";
import { queryRollups } from "../../adapters/db/schema";
import type { NotificationHubs } from "../../adapters/notify/interface";
import { AppError } from "../../errors";
import { type Histogram, merge, percentile } from "../../lib/histogram";
import { iso } from "../../schemas/common";
import { type DashboardInput, type DashboardView, MAX_DASHBOARD_DAYS } from "../../schemas/dashboard";
import { getCollection } from "../collections";
import { assertCovers, type KeyPrincipal, TENANT_WIDE } from "../principal";
import { DAY_MS, foldInto, groupLog, HOUR_MS, rollUp, WATERMARK } from "./rollup";

const MODES = ["fast", "balanced", "deep"] as const;
type Mode = (typeof MODES)[number];
const modes = () => ({ fast: 0, balanced: 0, deep: 0 });
const isMode = (m: string): m is Mode => (MODES as readonly string[]).includes(m);

/** The period asked for, checked: ISO instants, `from < to`, at most 90 days. */
export function periodOf(input: DashboardInput, now = Date.now()): { from: number; to: number } {
  const to = input.to ? Date.parse(input.to) : now;
  const from = input.from ? Date.parse(input.from) : to - 7 * DAY_MS;
  const invalid = (path: string, message: string) =>
    new AppError("validation_failed", `The period is not valid: ${message}.`, { errors: [{ path, message }] });
  if (!(from < to)) {
    throw invalid("from", "must be before `to`");
  }
  if (to - from > MAX_DASHBOARD_DAYS * DAY_MS) {
    throw invalid("from", `a period is at most ${MAX_DASHBOARD_DAYS} days`);
  }
  return { from, to };
}

export function dashboardService(deps: { db: Db; hubs: NotificationHubs; queryLogRetentionMs: number }) {
  const { db } = deps;
  return {
    /** Restricted keys get 403: the dashboard is tenant-wide (one collection is a filter, not a reach). */
    async get(principal: KeyPrincipal, input: DashboardInput): Promise<DashboardView> {
      assertCovers(principal, TENANT_WIDE, "the dashboard");
      const now = Date.now();
      const { from, to } = periodOf(input, now);
      const unit = input.bucket === "day" ? DAY_MS : HOUR_MS;
      const start = Math.floor(from / unit) * unit;
      const tenantId = principal.tenantId;
      if (input.collection_id !== undefined) {
        // Another tenant's collection, or none: 404, never a page of zeros.
        await getCollection(db, principal, input.collection_id);
      }
      const collection = input.collection_id ?? "*";
      const inCollection = input.collection_id ? sql`AND collection_id = ${input.collection_id}` : sql``;

      // Rows logged since the last rollup (the tail, at most one cron period) are folded here, so
      // the figures are fresh to the request, not to the cron. The watermark is read first: the
      // tail's bound is then a plain value the planner can use (see groupLog).
      const mark = await db.get<{ value: number }>(sql`SELECT value FROM job_state WHERE name = ${WATERMARK}`);
      const since = Math.max(from, mark?.value ?? 0);
      const [rollups, tail, documents, ingested, tops, notifications, exported] = await Promise.all([
        db
          .select()
          .from(queryRollups)
          .where(
            and(
              eq(queryRollups.tenantId, tenantId),
              eq(queryRollups.granularity, input.bucket),
              eq(queryRollups.collectionId, collection),
              gte(queryRollups.bucketStart, start),
              lt(queryRollups.bucketStart, to),
            ),
          ),
        groupLog(db, { from, to, tenantId, since }),
        db.all<{ status: string; n: number; chunks: number; bytes: number }>(sql`
          SELECT status, COUNT(*) AS n, SUM(chunk_count) AS chunks, SUM(size_bytes) AS bytes
          FROM documents WHERE tenant_id = ${tenantId} ${inCollection} GROUP BY status`),
        db.all<{ t: number; status: string; n: number }>(sql`
          SELECT (updated_at / ${unit}) * ${unit} AS t, status, COUNT(*) AS n FROM documents
          WHERE tenant_id = ${tenantId} ${inCollection} AND status IN ('ready', 'failed')
            AND updated_at >= ${from} AND updated_at < ${to}
          GROUP BY 1, 2`),
        db.all<{ query: string; count: number; last_at: number }>(sql`
          SELECT MAX(query_text) AS query, SUM(count) AS count, MAX(last_at) AS last_at FROM (
            SELECT query_hash, query_text, count, last_at FROM top_query_rollups
            WHERE tenant_id = ${tenantId} AND day_start >= ${Math.floor(from / DAY_MS) * DAY_MS} AND day_start < ${to}
            UNION ALL
            SELECT query_hash, MAX(query_text), COUNT(*), MAX(created_at) FROM query_log
            WHERE tenant_id = ${tenantId} AND created_at >= ${since} AND created_at < ${to}
              AND status <> 429
            GROUP BY query_hash) AS recent
          GROUP BY query_hash ORDER BY count DESC, last_at DESC LIMIT 10`),
        deps.hubs.count(tenantId, from, to),
        db.get<{ n: number }>(sql`
          SELECT COUNT(*) AS n FROM exports WHERE tenant_id = ${tenantId} AND created_at >= ${from} AND created_at < ${to}`),
      ]);

      const totals = {
        queries: 0,
        by_mode: modes(),
        cacheHits: 0,
        degraded: 0,
        errors_by_code: {} as Record<string, number>,
        rate_limited: 0,
      };
      const histograms: Record<Mode, Histogram> = { fast: {}, balanced: {}, deep: {} };
      const buckets = new Map<
        number,
        {
          queries: number;
          by_mode: ReturnType<typeof modes>;
          cache_hits: number;
          errors: number;
          rate_limited: number;
          histogram: Histogram;
        }
      >();
      for (let t = start; t < to; t += unit) {
        buckets.set(t, { queries: 0, by_mode: modes(), cache_hits: 0, errors: 0, rate_limited: 0, histogram: {} });
      }
      const fresh = foldInto(
        tail.filter((row) => row.collection_id === collection),
        input.bucket,
      );
      for (const row of [...rollups, ...fresh]) {
        const mode = isMode(row.mode) ? row.mode : undefined;
        totals.queries += row.queries;
        totals.cacheHits += row.cacheHits;
        totals.degraded += row.degraded;
        totals.rate_limited += row.rateLimited;
        for (const [code, n] of Object.entries(row.errorsByCode)) {
          totals.errors_by_code[code] = (totals.errors_by_code[code] ?? 0) + n;
        }
        const bucket = buckets.get(row.bucketStart);
        if (mode) {
          totals.by_mode[mode] += row.queries;
          merge(histograms[mode], row.histogram);
        }
        if (bucket) {
          bucket.queries += row.queries;
          bucket.cache_hits += row.cacheHits;
          bucket.errors += row.errors;
          bucket.rate_limited += row.rateLimited;
          if (mode) {
            bucket.by_mode[mode] += row.queries;
          }
          merge(bucket.histogram, row.histogram);
        }
      }
      const ingestedAt = new Map<number, number>();
      let ingestedDocuments = 0;
      let ingestFailures = 0;
      for (const row of ingested) {
        if (row.status === "ready") {
          ingestedDocuments += row.n;
          ingestedAt.set(row.t, (ingestedAt.get(row.t) ?? 0) + row.n);
        } else {
          ingestFailures += row.n;
        }
      }
      const percentiles = (h: Histogram) => ({
        p50: percentile(h, 50),
        p95: percentile(h, 95),
        p99: percentile(h, 99),
      });
      return {
        from: iso(from),
        to: iso(to),
        bucket: input.bucket,
        as_of: iso(now),
        rolled_up_to: mark ? iso(mark.value) : null,
        totals: {
          queries: totals.queries,
          by_mode: totals.by_mode,
          cache_hit_rate: totals.queries > 0 ? Math.round((totals.cacheHits / totals.queries) * 1000) / 1000 : null,
          degraded: totals.degraded,
          errors_by_code: totals.errors_by_code,
          rate_limited: totals.rate_limited,
          documents_by_status: Object.fromEntries(documents.map((d) => [d.status, d.n])),
          chunks: documents.reduce((sum, d) => sum + (d.chunks ?? 0), 0),
          storage_bytes: documents.reduce((sum, d) => sum + (d.bytes ?? 0), 0),
          ingested_documents: ingestedDocuments,
          ingest_failures: ingestFailures,
          exports: exported?.n ?? 0,
          notifications,
        },
        latency_ms: {
          fast: percentiles(histograms.fast),
          balanced: percentiles(histograms.balanced),
          deep: percentiles(histograms.deep),
        },
        series: [...buckets.entries()].map(([t, b]) => ({
          t: iso(t),
          queries: b.queries,
          by_mode: b.by_mode,
          cache_hits: b.cache_hits,
          errors: b.errors,
          rate_limited: b.rate_limited,
          p50_ms: percentile(b.histogram, 50),
          p95_ms: percentile(b.histogram, 95),
          ingested_documents: ingestedAt.get(t) ?? 0,
        })),
        top_queries: tops.map((q) => ({ query: q.query, count: q.count, last_at: iso(q.last_at) })),
      };
    },

    /** The cron job: fold the query log into rollups, and delete raw rows past retention. */
    rollUp: (now?: number) => rollUp(db, { retentionMs: deps.queryLogRetentionMs, ...(now ? { now } : {}) }),
  };
}
export type DashboardService = ReturnType<typeof dashboardService>;

/**
 * The rollup job (cron): folds `query_log` into hourly and daily `query_rollups` rows (per tenant,
 * collection — `*` for all — and mode, with a mergeable latency histogram) and daily
 * `top_query_rollups`, then deletes raw rows past their retention.
 *
 * Idempotent by construction: every run recomputes whole days from the raw rows, from the day
 * before its watermark up to now, and replaces those days' rows in one D1 batch (one
 * transaction). Running it twice, or two runs at once, leaves the same rows.
 */
import { sql } from "drizzle-orm";
import { type Db, insertRows } from "../../adapters/db/client";
import { queryRollups } from "../../adapters/db/schema";
import { bucketSql, type Histogram, merge } from "../../lib/histogram";

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** The `job_state` row holding when the last rollup ran: rows logged before it are rolled up. */
export const WATERMARK = "query_rollup";
/** Raw rows deleted per statement, so one delete never holds the database for long. */
const DELETE_PAGE = 5_000;

export interface Grouped {
  tenant_id: string;
  hour: number;
  collection_id: string;
  mode: string;
  status: number;
  cache_hit: number;
  degraded: number;
  bucket: number | null;
  n: number;
}

export interface Rollup {
  tenantId: string;
  granularity: "hour" | "day";
  bucketStart: number;
  collectionId: string;
  mode: string;
  queries: number;
  cacheHits: number;
  degraded: number;
  errors: number;
  rateLimited: number;
  errorsByCode: Record<string, number>;
  histogram: Histogram;
}

const floorTo = (t: number, unit: number) => Math.floor(t / unit) * unit;

/** Adds one group of raw rows to a rollup row. */
function add(into: Rollup, row: Grouped): void {
  // Turned away by the rate limiter: never ran, so not a query (counted apart).
  if (row.status === 429) {
    into.rateLimited += row.n;
    return;
  }
  into.queries += row.n;
  into.cacheHits += row.cache_hit ? row.n : 0;
  into.degraded += row.degraded ? row.n : 0;
  if (row.status >= 400) {
    into.errors += row.n;
    into.errorsByCode[String(row.status)] = (into.errorsByCode[String(row.status)] ?? 0) + row.n;
  }
  if (row.bucket !== null) {
    merge(into.histogram, { [row.bucket]: row.n });
  }
}

/**
 * Raw rows of `[from, to)` grouped by tenant, hour, collection (each of the query's and `*`), mode,
 * status, cache hit, degradation and latency bucket. `since` is a lower bound on `created_at` on
 * top of `from` (the dashboard's "after the last rollup"); `tenantId` narrows it to one tenant (by
 * index). The bound is one value, not an expression: two `created_at >=` terms let SQLite start
 * the index range at `from` and filter by `since` (every row of the period read), and a bound
 * computed by a subquery left PostgreSQL's planner no estimate (a plan that read far more than the
 * tail: 165–180 ms at 10^6 rows, against a few ms with the value).
 */
export function groupLog(
  db: Db,
  range: { from: number; to: number; tenantId?: string; since?: number },
): Promise<Grouped[]> {
  const latency = bucketSql("MAX(CAST(q.timings ->> '$.total_ms' AS DOUBLE PRECISION), 0)");
  return db.all<Grouped>(sql`
    SELECT q.tenant_id, (q.created_at / ${HOUR_MS}) * ${HOUR_MS} AS hour, c.value AS collection_id, q.mode, q.status,
           q.cache_hit, json_array_length(q.degraded) > 0 AS degraded,
           CASE WHEN q.status = 200 THEN ${sql.raw(latency)} END AS bucket, COUNT(*) AS n
    FROM query_log q, json_each(json_insert(q.params -> '$.collection_ids', '$[#]', '*')) c
    WHERE q.created_at >= ${Math.max(range.from, range.since ?? 0)} AND q.created_at < ${range.to}
      ${range.tenantId === undefined ? sql`` : sql`AND q.tenant_id = ${range.tenantId}`}
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8`);
}

/** Grouped rows folded into rollups of one granularity: each row's hour floored to it. */
export function foldInto(grouped: Grouped[], granularity: "hour" | "day"): Rollup[] {
  const unit = granularity === "hour" ? HOUR_MS : DAY_MS;
  const rows = new Map<string, Rollup>();
  for (const row of grouped) {
    const bucketStart = floorTo(row.hour, unit);
    const key = `${row.tenant_id}|${bucketStart}|${row.collection_id}|${row.mode}`;
    let found = rows.get(key);
    if (!found) {
      found = {
        tenantId: row.tenant_id,
        granularity,
        bucketStart,
        collectionId: row.collection_id,
        mode: row.mode,
        queries: 0,
        cacheHits: 0,
        degraded: 0,
        errors: 0,
        rateLimited: 0,
        errorsByCode: {},
        histogram: {},
      };
      rows.set(key, found);
    }
    add(found, row);
  }
  return [...rows.values()];
}

/** One day of raw rows as hourly and daily rollups (grouped in SQL, folded here). */
async function foldDay(db: Db, day: number): Promise<Rollup[]> {
  const grouped = await groupLog(db, { from: day, to: day + DAY_MS });
  return [...foldInto(grouped, "hour"), ...foldInto(grouped, "day")];
}

/** Recomputes `[fromDay, to)` day by day; returns what it wrote and deleted. */
export async function rollUp(
  db: Db,
  options: { retentionMs: number; now?: number },
): Promise<{ days: number; rows: number; deleted: number }> {
  const now = options.now ?? Date.now();
  const mark = await db.get<{ value: number }>(sql`SELECT value FROM job_state WHERE name = ${WATERMARK}`);
  const oldest = mark ? null : await db.get<{ t: number | null }>(sql`SELECT MIN(created_at) AS t FROM query_log`);
  // From the day before the watermark: late log writes (the log is flushed in batches) land too.
  const start = floorTo((mark?.value ?? oldest?.t ?? now) - HOUR_MS, DAY_MS);
  let written = 0;
  let days = 0;
  for (let day = start; day <= now; day += DAY_MS) {
    const rollups = await foldDay(db, day);
    const tops = `
      INSERT INTO top_query_rollups (tenant_id, day_start, query_hash, query_text, count, last_at)
      SELECT tenant_id, ${day}, query_hash, MAX(query_text), COUNT(*), MAX(created_at) FROM query_log
      WHERE created_at >= ${day} AND created_at < ${day + DAY_MS} AND status <> 429
      GROUP BY tenant_id, query_hash
      ON CONFLICT DO NOTHING`;
    // The day's rows are replaced as a whole, in one transaction. Two runs at once both delete and
    // then insert the same rows: D1 runs one transaction at a time, but on PostgreSQL the second
    // insert meets the first's rows, which it keeps (they are the same figures) instead of failing.
    await db.$client.batch([
      db.$client
        .prepare("DELETE FROM query_rollups WHERE bucket_start >= ?1 AND bucket_start < ?2")
        .bind(day, day + DAY_MS),
      ...(rollups.length > 0 ? [insertRows(db, queryRollups, rollups, { ignoreConflicts: true })] : []),
      db.$client.prepare("DELETE FROM top_query_rollups WHERE day_start = ?1").bind(day),
      db.$client.prepare(tops),
    ]);
    written += rollups.length;
    days++;
  }
  await db.run(
    sql`INSERT INTO job_state (name, value) VALUES (${WATERMARK}, ${now})
        ON CONFLICT (name) DO UPDATE SET value = MAX(job_state.value, excluded.value)`,
  );
  // Raw rows past retention, and only from days already rolled up.
  const cutoff = Math.min(now - options.retentionMs, start);
  let deleted = 0;
  for (;;) {
    const result = await db.run(
      sql`DELETE FROM query_log WHERE id IN (SELECT id FROM query_log WHERE created_at < ${cutoff} LIMIT ${DELETE_PAGE})`,
    );
    const changes = result.meta.changes ?? 0;
    deleted += changes;
    if (changes < DELETE_PAGE) {
      break;
    }
  }
  return { days, rows: written, deleted };
}

import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { createDb, insertRows } from "../../src/adapters/db/client";
import { queryLog } from "../../src/adapters/db/schema";
import { bucketOf } from "../../src/lib/histogram";
import { testDb } from "../support/db";
import { call, expectProblem, json, newCollection, newKey, newTenant, type TestTenant } from "../support/http";
import { servicesFor } from "../support/services";

/**
 * The dashboard from rollups: seeded query-log rows with known latencies, modes, statuses and
 * collections; the rollup job (idempotent, also when two run at once); percentiles merged from
 * histograms against a raw recompute; tenancy in every read; ranges; retention of raw rows.
 */
const HOUR = 3_600_000;

interface Seed {
  mode: "fast" | "balanced" | "deep";
  status: number;
  ms: number;
  at: number;
  cache?: boolean;
  collections?: string[];
  query?: string;
  degraded?: boolean;
}

async function seed(tenant: TestTenant, rows: Seed[]): Promise<void> {
  const values = rows.map((r, i) => ({
    id: `qry_seed_${crypto.randomUUID()}_${i}`,
    tenantId: tenant.id,
    keyId: null,
    mode: r.mode,
    queryHash: `hash-${r.query ?? "q"}`,
    queryText: r.query ?? "q",
    params: { collection_ids: r.collections ?? ["col_a"], top_k: 5, filter: null },
    status: r.status,
    cacheHit: r.cache ?? false,
    degraded: r.degraded ? ["rerank_failed"] : [],
    timings: { total_ms: r.ms },
    resultCount: 0,
    createdAt: r.at,
  }));
  // The store adapter's own bulk insert, so the seed is written as the Worker writes the log.
  const db = createDb(testDb());
  for (let i = 0; i < values.length; i += 500) {
    await insertRows(db, queryLog, values.slice(i, i + 500)).run();
  }
}

const dashboardOf = async (tenant: TestTenant, query: string) => {
  const res = await call("GET", `/v1/dashboard${query}`, { token: tenant.adminKey });
  expect(res.status).toBe(200);
  return json<{
    totals: Record<string, unknown> & { queries: number; by_mode: Record<string, number> };
    latency_ms: Record<string, { p50: number | null; p95: number | null; p99: number | null }>;
    series: Array<{
      t: string;
      queries: number;
      by_mode: Record<string, number>;
      errors: number;
      rate_limited: number;
    }>;
    top_queries: Array<{ query: string; count: number }>;
    as_of: string;
    rolled_up_to: string | null;
  }>(res);
};
const rollUp = (now?: number) => servicesFor().dashboard.rollUp(now);
const snapshot = async () =>
  (
    await testDb()
      .prepare("SELECT * FROM query_rollups ORDER BY tenant_id, granularity, collection_id, bucket_start, mode")
      .all()
  ).results;

/** The p-th percentile of raw values, nearest rank (as the histogram's rank rule). */
const rawPercentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
};

beforeEach(async () => {
  await testDb().prepare("DELETE FROM job_state").run();
});

describe("GET /v1/dashboard", () => {
  it("sums queries, modes, cache hits, errors and rate limits per period and per bucket", async () => {
    const tenant = await newTenant();
    const colB = await newCollection(tenant);
    const base = Math.floor(Date.now() / HOUR) * HOUR - 5 * HOUR;
    await seed(tenant, [
      { mode: "fast", status: 200, ms: 12, at: base + 1_000, cache: true, query: "leave" },
      { mode: "fast", status: 200, ms: 40, at: base + 2_000, query: "leave" },
      { mode: "balanced", status: 200, ms: 300, at: base + HOUR + 5, degraded: true, query: "salary" },
      { mode: "deep", status: 504, ms: 8_000, at: base + HOUR + 10, query: "salary" },
      { mode: "deep", status: 422, ms: 1, at: base + 2 * HOUR, query: "x" },
      { mode: "fast", status: 429, ms: 0, at: base + 2 * HOUR + 1, query: "leave" },
      { mode: "fast", status: 200, ms: 20, at: base + 3 * HOUR, collections: [colB], query: "leave" },
    ]);
    await rollUp();
    const from = new Date(base).toISOString();
    const to = new Date(base + 4 * HOUR).toISOString();
    const body = await dashboardOf(tenant, `?from=${from}&to=${to}&bucket=hour`);
    expect(body.totals).toMatchObject({
      queries: 6,
      by_mode: { fast: 3, balanced: 1, deep: 2 },
      cache_hit_rate: 0.167,
      degraded: 1,
      errors_by_code: { "504": 1, "422": 1 },
      rate_limited: 1,
    });
    expect(body.series.map((s) => [s.queries, s.errors, s.rate_limited])).toEqual([
      [2, 0, 0],
      [2, 1, 0],
      [1, 1, 1],
      [1, 0, 0],
    ]);
    expect(body.top_queries.map((q) => [q.query, q.count])).toEqual([
      ["leave", 3],
      ["salary", 2],
      ["x", 1],
    ]);

    // One collection: only the queries that searched it.
    const onlyB = await dashboardOf(tenant, `?from=${from}&to=${to}&collection_id=${colB}`);
    expect(onlyB.totals.queries).toBe(1);
    // Another tenant's collection, or one that does not exist: 404, not a page of zeros.
    const other = await newTenant("Other");
    const theirs = await newCollection(other);
    for (const id of [theirs, "col_nonexistent"]) {
      await expectProblem(
        await call("GET", `/v1/dashboard?collection_id=${id}`, { token: tenant.adminKey }),
        404,
        "not_found",
      );
    }
    // Daily buckets agree with the hourly ones.
    const daily = await dashboardOf(tenant, `?from=${from}&to=${to}&bucket=day`);
    expect(daily.totals.queries).toBe(6);
  });

  it("is fresh to the request: queries since the last rollup count at once, none twice", async () => {
    const tenant = await newTenant();
    const now = Date.now();
    await seed(tenant, [
      { mode: "fast", status: 200, ms: 10, at: now - 120_000, query: "leave" },
      { mode: "deep", status: 200, ms: 900, at: now - 60_000, query: "salary" },
    ]);
    // No rollup has ever run: everything comes from the log.
    const before = await dashboardOf(tenant, "");
    expect(before.totals.queries).toBe(2);
    expect(before.totals.by_mode).toEqual({ fast: 1, balanced: 0, deep: 1 });
    expect(before.rolled_up_to).toBeNull();
    expect(Date.parse(before.as_of)).toBeGreaterThanOrEqual(now);
    expect(before.top_queries.map((q) => q.query).sort()).toEqual(["leave", "salary"]);

    // Rolled up at `now - 30 s`; two more queries after it: four, each counted once.
    await rollUp(now - 30_000);
    await seed(tenant, [
      { mode: "fast", status: 200, ms: 12, at: now - 20_000, query: "leave" },
      { mode: "balanced", status: 200, ms: 200, at: now - 10_000, query: "leave" },
    ]);
    const after = await dashboardOf(tenant, "");
    expect(after.rolled_up_to).toBe(new Date(now - 30_000).toISOString());
    expect(after.totals.queries).toBe(4);
    expect(after.totals.by_mode).toEqual({ fast: 2, balanced: 1, deep: 1 });
    expect(after.series.reduce((sum, b) => sum + b.queries, 0)).toBe(4);
    expect(after.top_queries.map((q) => [q.query, q.count])).toEqual([
      ["leave", 3],
      ["salary", 1],
    ]);
    expect(after.latency_ms.fast?.p50).not.toBeNull();
  });

  it("merges percentiles from histograms to within one bucket of a raw recompute", async () => {
    const tenant = await newTenant();
    const base = Math.floor(Date.now() / HOUR) * HOUR - 10 * HOUR;
    const latencies: number[] = [];
    const rows: Seed[] = [];
    for (let i = 0; i < 2_000; i++) {
      // Log-normal-ish latencies spread over ten hours.
      const ms = Math.round(Math.exp(3 + 1.2 * Math.sin(i * 12.9898) * Math.cos(i * 78.233)) * 10) / 10 + 1;
      latencies.push(ms);
      rows.push({ mode: "balanced", status: 200, ms, at: base + (i % 10) * HOUR + i });
    }
    await seed(tenant, rows);
    await rollUp();
    const body = await dashboardOf(
      tenant,
      `?from=${new Date(base).toISOString()}&to=${new Date(base + 10 * HOUR).toISOString()}`,
    );
    for (const p of [50, 95, 99] as const) {
      const merged = body.latency_ms.balanced?.[`p${p}`];
      const raw = rawPercentile(latencies, p);
      expect(merged).not.toBeNull();
      expect({ p, diff: Math.abs(bucketOf(merged as number) - 1 - bucketOf(raw)) <= 1 }).toEqual({ p, diff: true });
    }
    expect(body.latency_ms.fast).toEqual({ p50: null, p95: null, p99: null });
  });

  it("rolls up idempotently: twice, or two runs at once, leave the same rows", async () => {
    const tenant = await newTenant();
    const base = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;
    await seed(
      tenant,
      Array.from({ length: 300 }, (_, i) => ({
        mode: "fast" as const,
        status: 200,
        ms: 5 + (i % 50),
        at: base + i * 30_000,
      })),
    );
    await rollUp();
    const once = await snapshot();
    await rollUp();
    expect(await snapshot()).toEqual(once);
    await testDb().prepare("DELETE FROM job_state").run();
    await Promise.all([rollUp(), rollUp()]);
    expect(await snapshot()).toEqual(once);
  });

  it("deletes raw rows past retention once rolled up, and keeps their figures", async () => {
    const tenant = await newTenant();
    const old = Date.now() - 40 * 24 * HOUR;
    await seed(tenant, [{ mode: "deep", status: 200, ms: 100, at: old }]);
    const first = await rollUp(); // from the oldest row: rolls up that day too
    expect(first.days).toBeGreaterThan(30);
    const second = await rollUp();
    expect(second.deleted).toBeGreaterThanOrEqual(1);
    const left = await testDb()
      .prepare("SELECT COUNT(*) AS n FROM query_log WHERE tenant_id = ?")
      .bind(tenant.id)
      .first();
    expect(left?.n).toBe(0);
    const body = await dashboardOf(
      tenant,
      `?from=${new Date(old - HOUR).toISOString()}&to=${new Date(old + 24 * HOUR).toISOString()}&bucket=day`,
    );
    expect(body.totals.by_mode.deep).toBe(1);
  });

  it("counts documents, chunks and storage of the tenant only; other tenants see none of it", async () => {
    const tenant = await newTenant();
    const col = await newCollection(tenant);
    await call("POST", `/v1/collections/${col}/documents`, {
      token: tenant.adminKey,
      body: { title: "Leave", text: "Employees receive twenty five days of paid vacation.", priority: "high" },
    });
    await expect
      .poll(async () => (await dashboardOf(tenant, "")).totals.documents_by_status, { timeout: 10_000 })
      .toEqual({ ready: 1 });
    const body = await dashboardOf(tenant, "");
    expect(body.totals).toMatchObject({ chunks: 1, ingested_documents: 1, ingest_failures: 0 });
    expect(body.totals.storage_bytes).toBeGreaterThan(40);
    expect(body.totals.notifications).toBeGreaterThanOrEqual(2); // document.processing, document.ready

    const other = await newTenant("Other");
    const theirs = await dashboardOf(other, "");
    expect(theirs.totals).toMatchObject({ queries: 0, documents_by_status: {}, chunks: 0, storage_bytes: 0 });
  });

  it("is for unrestricted admin keys (403 otherwise) and refuses bad periods with 422", async () => {
    const tenant = await newTenant();
    const reader = await newKey(tenant, { name: "reader", scopes: ["query"] });
    await expectProblem(await call("GET", "/v1/dashboard", { token: reader.key }), 403, "forbidden");
    const col = await newCollection(tenant);
    const narrow = await newKey(tenant, { name: "narrow", scopes: ["admin"], collection_ids: [col] });
    await expectProblem(await call("GET", "/v1/dashboard", { token: narrow.key }), 403, "forbidden");
    await expectProblem(await call("GET", "/v1/dashboard"), 401, "unauthorized");
    const bad = [
      "?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
      "?from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z",
      "?from=yesterday",
      "?bucket=minute",
      "?collection_id=../etc",
    ];
    for (const query of bad) {
      await expectProblem(
        await call("GET", `/v1/dashboard${query}`, { token: tenant.adminKey }),
        422,
        "validation_failed",
      );
    }
  });
});

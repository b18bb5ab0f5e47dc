/**
 * The dashboard and alert rules as code (ops/), and the metrics queries of docs/operations.md: they are
 * current with their definitions, every query names only fields the Analytics Engine schema has
 * for the kind it filters on, and every query runs — rewritten from Analytics Engine SQL into
 * SQLite by a handful of documented rules — over data points made by the Worker's own builder
 * (`point()` in src/telemetry/analytics-schema.ts), with the answers a human would compute.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { alerts, panels } from "../../ops/definitions.mjs";
import { point, SCHEMA } from "../../src/telemetry/analytics-schema.ts";

const root = new URL("../../", import.meta.url);
const read = (path) => readFileSync(new URL(path, root), "utf8");
const NOW = 1_800_000_000;

/** The operations guide's queries: fenced `sql` blocks that read the dataset. */
function readmeQueries() {
  return [...read("docs/operations.md").matchAll(/```sql\n([\s\S]*?)```/g)]
    .map((m) => m[1].trim())
    .filter((sql) => sql.includes("edgerag_metrics"));
}

const SECONDS = { SECOND: 1, MINUTE: 60, HOUR: 3_600, DAY: 86_400 };

/**
 * Analytics Engine SQL → SQLite: Grafana's macros expanded, `INTERVAL 'n' UNIT` as seconds,
 * ClickHouse's parametric `quantileExactWeighted(q)(x, w)` as a three-argument aggregate, and
 * `FORMAT` dropped. The functions themselves are registered below with ClickHouse's meaning.
 */
function toSqlite(sql) {
  return sql
    .replaceAll("$timeSeries", "toStartOfInterval(timestamp, INTERVAL '60' SECOND)")
    .replaceAll("$timeFilter", "timestamp > NOW() - INTERVAL '1' DAY")
    .replace(/INTERVAL '(\d+)' (SECOND|MINUTE|HOUR|DAY)/g, (_, n, unit) => String(Number(n) * SECONDS[unit]))
    .replace(/quantileExactWeighted\(([\d.]+)\)\(/g, "quantileExactWeighted($1, ")
    .replace(/\s+FORMAT\s+\w+\s*$/i, "");
}

function database(rows) {
  const db = new DatabaseSync(":memory:");
  const columns = ["timestamp REAL", "_sample_interval INTEGER", "index1 TEXT"];
  for (let i = 1; i <= 20; i++) {
    columns.push(`blob${i} TEXT`, `double${i} REAL`);
  }
  db.exec(`CREATE TABLE edgerag_metrics (${columns.join(", ")})`);
  db.function("NOW", () => NOW);
  db.function("toStartOfInterval", (ts, seconds) => Math.floor(ts / seconds) * seconds);
  db.function("least", (a, b) => (a === null || b === null ? null : Math.min(a, b)));
  db.aggregate("sumIf", { start: 0, step: (sum, value, condition) => sum + (condition ? value : 0) });
  db.aggregate("countIf", { start: 0, step: (n, condition) => n + (condition ? 1 : 0) });
  db.aggregate("quantileExactWeighted", {
    start: () => [],
    step: (acc, q, value, weight) => {
      acc.push([q, value, weight]);
      return acc;
    },
    result: (acc) => {
      if (acc.length === 0) {
        return null;
      }
      const q = acc[0][0];
      const sorted = acc.map(([, v, w]) => [v, w]).sort((a, b) => a[0] - b[0]);
      const total = sorted.reduce((s, [, w]) => s + w, 0);
      let seen = 0;
      for (const [value, weight] of sorted) {
        seen += weight;
        if (seen >= q * total) {
          return value;
        }
      }
      return sorted.at(-1)[0];
    },
  });
  const insert = db.prepare(`INSERT INTO edgerag_metrics VALUES (${Array.from({ length: 43 }, () => "?").join(", ")})`);
  for (const { at, data } of rows) {
    const values = [at, 1, data.indexes[0]];
    for (let i = 0; i < 20; i++) {
      values.push(data.blobs[i] ?? "", data.doubles[i] ?? 0);
    }
    insert.run(...values);
  }
  return db;
}

/**
 * The scenario, within the last five minutes: 100 fast queries (90 at 100 ms, 30 of them cache
 * hits; 5 at 2 s, over the fast target; 5 server errors), 50 balanced at 500 ms, D1 on every
 * query, an embedder failing 2 calls in 20, a dead-lettered batch, one fail-open, a backlog of 7.
 */
function scenario() {
  const rows = [];
  const at = (i) => NOW - 1 - (i % 240);
  const version = "v1";
  for (let i = 0; i < 100; i++) {
    const error = i >= 95;
    const slow = i >= 90 && !error;
    rows.push({
      at: at(i),
      data: point("request", {
        index: "ten_a",
        route: "/v1/query",
        version,
        outcome: error ? "internal" : "ok",
        method: "POST",
        mode: "fast",
        cache: !error && i < 30 ? "hit" : "miss",
        tenant_id: "ten_a",
        duration_ms: error ? 50 : slow ? 2_000 : 100,
        count: 1,
        server_error: error ? 1 : 0,
        status: error ? 500 : 200,
        collections: 1,
        db_calls: 3,
        limiter_fail_open: i === 0 ? 1 : 0,
      }),
    });
    rows.push({
      at: at(i),
      data: point("dependency", {
        index: "ten_a",
        dependency: "d1",
        version,
        outcome: "ok",
        entry: "/v1/query",
        total_ms: 6,
        calls: 3,
        rows_read: 10,
        rows_written: 1,
        max_ms: 3,
        peak_in_flight: 2,
      }),
    });
  }
  for (let i = 0; i < 50; i++) {
    rows.push({
      at: at(i),
      data: point("request", {
        index: "ten_b",
        route: "/v1/query",
        version,
        outcome: "ok",
        method: "POST",
        mode: "balanced",
        cache: "miss",
        duration_ms: 500,
        count: 1,
        status: 200,
      }),
    });
  }
  for (let i = 0; i < 20; i++) {
    rows.push({
      at: at(i),
      data: point("dependency", {
        index: "ten_a",
        dependency: "embedder",
        version,
        outcome: i < 2 ? "error" : "ok",
        entry: "/v1/query",
        total_ms: 40,
        calls: 1,
        errors: i < 2 ? 1 : 0,
        timeouts: i < 1 ? 1 : 0,
        max_ms: 40,
        peak_in_flight: 1,
      }),
    });
  }
  rows.push({
    at: at(1),
    data: point("queue", {
      index: "edgerag-ingest-dlq",
      queue: "edgerag-ingest-dlq",
      version,
      outcome: "ok",
      duration_ms: 30,
      messages: 2,
      oldest_age_ms: 60_000,
      dead_lettered: 2,
    }),
  });
  rows.push({
    at: at(2),
    data: point("queue", {
      index: "edgerag-ingest-high",
      queue: "edgerag-ingest-high",
      version,
      outcome: "ok",
      duration_ms: 300,
      messages: 5,
      oldest_age_ms: 1_500,
    }),
  });
  rows.push({
    at: at(3),
    data: point("gauge", { index: "ingest_backlog", gauge: "ingest_backlog", version, value: 7, count: 1 }),
  });
  rows.push({
    at: at(4),
    data: point("cron", { index: "sweep", job: "sweep", version, outcome: "ok", duration_ms: 12, count: 1 }),
  });
  // A day old: outside every short window, inside none of the panels' last day either.
  rows.push({
    at: NOW - 2 * 86_400,
    data: point("request", {
      route: "/v1/query",
      mode: "fast",
      duration_ms: 9_999,
      count: 1,
      server_error: 1,
      status: 500,
      outcome: "internal",
    }),
  });
  return rows;
}

/** Each `(blob|double)N` a query names must exist in the schema of every kind it filters on. */
function checkFields(sql) {
  const kinds = [...sql.matchAll(/blob1 = '(\w+)'/g)].map((m) => m[1]);
  assert.ok(kinds.length > 0, `names a kind (blob1 = '…'): ${sql}`);
  for (const kind of kinds) {
    const schema = SCHEMA[kind];
    assert.ok(schema, `unknown kind ${kind}`);
    for (const [, type, n] of sql.matchAll(/\b(blob|double)(\d+)\b/g)) {
      const fields = type === "blob" ? schema.blobs : schema.doubles;
      assert.ok(Number(n) <= fields.length, `${type}${n} is not in the ${kind} schema: ${sql}`);
    }
  }
}

const db = database(scenario());
const run = (sql) => db.prepare(toSqlite(sql)).all();
const alert = (uid) => alerts.find((a) => a.uid === uid);

describe("ops as code", () => {
  it("the Grafana files are what ops/definitions.mjs makes", () => {
    execFileSync(process.execPath, [new URL("scripts/ops-build.mjs", root).pathname, "--check"], { stdio: "pipe" });
    const dashboard = JSON.parse(read("ops/grafana/dashboard.json"));
    const rules = JSON.parse(read("ops/grafana/alert-rules.json"));
    assert.equal(dashboard.panels.length, panels.length);
    assert.equal(rules.groups[0].rules.length, alerts.length);
    for (const panel of dashboard.panels) {
      assert.ok(panel.targets[0].query.includes("$timeFilter"), `${panel.title} is bounded by the time range`);
    }
  });

  it("every panel, alert and documented query names only fields of its kind's schema, and runs", () => {
    const queries = [...panels.map((p) => p.sql), ...alerts.map((a) => a.sql), ...readmeQueries()];
    assert.ok(readmeQueries().length >= 3, "docs/operations.md has its metrics queries");
    for (const sql of queries) {
      checkFields(sql);
      const rows = run(sql);
      assert.ok(rows.length > 0, `returns rows: ${sql}`);
    }
  });

  it("the latency panel gives each mode's percentiles", () => {
    const rows = run(panels[0].sql);
    const fast = rows.filter((r) => r.mode === "fast");
    const p = (key) => Math.max(...fast.map((r) => r[key]));
    assert.equal(p("p99"), 2_000);
    assert.ok(rows.filter((r) => r.mode === "balanced").every((r) => r.p95 === 500));
  });

  it("burn rates: 10 % of fast queries bad is a 10x burn (pages at 6x, not at 14.4x); balanced burns nothing", () => {
    const value = (uid, mode) => run(alert(uid).sql).find((r) => r.mode === mode)?.burn_rate;
    assert.ok(Math.abs(value("edgerag-slo-page-fast-burn", "fast") - 10) < 1e-9);
    assert.ok(Math.abs(value("edgerag-slo-page-slow-burn", "fast") - 10) < 1e-9);
    assert.equal(value("edgerag-slo-page-fast-burn", "balanced"), 0);
    const fires = (uid) => run(alert(uid).sql).some((r) => r[alert(uid).valueColumn] > alert(uid).threshold);
    assert.equal(fires("edgerag-slo-page-fast-burn"), false);
    assert.equal(fires("edgerag-slo-page-slow-burn"), true);
    assert.equal(fires("edgerag-slo-ticket-burn"), true);
    assert.equal(fires("edgerag-dlq-not-empty"), true);
    assert.equal(fires("edgerag-limiter-fail-open"), true);
    // 2 failures in 20 embedder calls: 10 %, over 5 %; D1 never failed.
    const deps = run(alert("edgerag-dependency-errors").sql);
    assert.deepEqual(deps.map((r) => [r.dependency, r.error_rate]).sort(), [
      ["d1", 0],
      ["embedder", 0.1],
    ]);
  });

  it("the alert thresholds and windows are the SRE workbook's", () => {
    assert.deepEqual(
      alerts.filter((a) => a.uid.startsWith("edgerag-slo")).map((a) => [a.severity, a.threshold]),
      [
        ["page", 14.4],
        ["page", 6],
        ["ticket", 1],
      ],
    );
    assert.match(alert("edgerag-slo-page-fast-burn").sql, /INTERVAL '1' HOUR[\s\S]*INTERVAL '5' MINUTE/);
    assert.match(alert("edgerag-slo-page-slow-burn").sql, /INTERVAL '6' HOUR[\s\S]*INTERVAL '30' MINUTE/);
    assert.match(alert("edgerag-slo-ticket-burn").sql, /INTERVAL '3' DAY[\s\S]*INTERVAL '6' HOUR/);
  });

  it("cache hit rate, backlog and dead letters read what was written", () => {
    const hit = run(panels.find((p) => p.title.startsWith("Answer cache")).sql);
    const hits = hit.reduce((s, r) => s + r.hit_rate, 0) / hit.length;
    assert.ok(hits > 0 && hits < 1);
    assert.equal(run(panels.find((p) => p.title.startsWith("Ingestion backlog")).sql)[0].backlog, 7);
    const dead = run(panels.find((p) => p.title.startsWith("Dead-lettered")).sql);
    assert.equal(
      dead.reduce((s, r) => s + r.dead_lettered, 0),
      2,
    );
  });
});

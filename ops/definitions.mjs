/**
 * The operations dashboard and alert rules, as code: every panel and alert is an Analytics Engine
 * SQL query over the `edgerag_metrics` dataset (schema: src/telemetry/analytics-schema.ts).
 * `npm run ops:build` writes the Grafana files in ops/grafana/ from this file; the ops test checks
 * that they are current, that every query names only fields the schema has for its kind, and runs
 * every query against data points made by the Worker's own point builder.
 *
 * Grafana macros (Altinity ClickHouse data source on the SQL API): `$timeSeries` is the bucket of
 * the panel's interval, `$timeFilter` the panel's time range.
 */

export const DATASET = "edgerag_metrics";

/** The SLO per answer mode: 99 % of queries answer without a 5xx and within the mode's target. */
export const SLO = {
  objective: 0.99,
  targetsMs: { fast: 1_000, balanced: 3_000, deep: 10_000 },
};

const { fast, balanced, deep } = SLO.targetsMs;
/** The target of the row's mode, in SQL. */
const TARGET = `if(blob6 = 'fast', ${fast}, if(blob6 = 'balanced', ${balanced}, ${deep}))`;
/** A query that spent error budget: a server error, or slower than its mode's target. */
const BAD = `(double3 > 0 OR double1 > ${TARGET})`;
const QUERIES = `blob1 = 'request' AND blob2 = '/v1/query'`;

/** (bad / all) / (1 − objective) over the last `amount unit`. */
const burn = (amount, unit) => {
  const window = `timestamp > NOW() - INTERVAL '${amount}' ${unit}`;
  return (
    `(sumIf(_sample_interval, ${window} AND ${BAD}) / sumIf(_sample_interval, ${window})) / ` +
    `${Math.round((1 - SLO.objective) * 1e6) / 1e6}`
  );
};

/** Multi-window burn-rate alert (Google SRE workbook, ch. 5): both windows over the factor. */
const burnRateQuery = (long, short) =>
  `SELECT blob6 AS mode, least(${burn(...long)}, ${burn(...short)}) AS burn_rate ` +
  `FROM ${DATASET} WHERE ${QUERIES} AND timestamp > NOW() - INTERVAL '${long[0]}' ${long[1]} GROUP BY mode`;

export const panels = [
  {
    title: "Query latency by mode (ms)",
    unit: "ms",
    sql:
      "SELECT $timeSeries AS t, blob6 AS mode, " +
      "quantileExactWeighted(0.5)(double1, _sample_interval) AS p50, " +
      "quantileExactWeighted(0.95)(double1, _sample_interval) AS p95, " +
      "quantileExactWeighted(0.99)(double1, _sample_interval) AS p99 " +
      `FROM ${DATASET} WHERE $timeFilter AND ${QUERIES} GROUP BY t, mode ORDER BY t`,
  },
  {
    title: "Requests per route",
    unit: "reqps",
    sql:
      "SELECT $timeSeries AS t, blob2 AS route, SUM(_sample_interval * double2) AS requests " +
      `FROM ${DATASET} WHERE $timeFilter AND blob1 = 'request' GROUP BY t, route ORDER BY t`,
  },
  {
    title: "Error responses by code",
    unit: "short",
    sql:
      "SELECT $timeSeries AS t, blob4 AS code, SUM(_sample_interval * double2) AS responses " +
      `FROM ${DATASET} WHERE $timeFilter AND blob1 = 'request' AND blob4 != 'ok' GROUP BY t, code ORDER BY t`,
  },
  {
    title: "Server error rate",
    unit: "percentunit",
    sql:
      "SELECT $timeSeries AS t, SUM(_sample_interval * double3) / SUM(_sample_interval * double2) AS error_rate " +
      `FROM ${DATASET} WHERE $timeFilter AND blob1 = 'request' GROUP BY t ORDER BY t`,
  },
  {
    title: "Answer cache hit rate",
    unit: "percentunit",
    sql:
      "SELECT $timeSeries AS t, sumIf(_sample_interval, blob7 = 'hit') / SUM(_sample_interval) AS hit_rate " +
      `FROM ${DATASET} WHERE $timeFilter AND ${QUERIES} AND blob4 = 'ok' GROUP BY t ORDER BY t`,
  },
  {
    title: "Dependency latency per call (mean and slowest, ms)",
    unit: "ms",
    sql:
      "SELECT $timeSeries AS t, blob2 AS dependency, " +
      "SUM(_sample_interval * double1) / SUM(_sample_interval * double2) AS mean_ms, MAX(double8) AS max_ms " +
      `FROM ${DATASET} WHERE $timeFilter AND blob1 = 'dependency' GROUP BY t, dependency ORDER BY t`,
  },
  {
    title: "Dependency errors, timeouts and retries",
    unit: "short",
    sql:
      "SELECT $timeSeries AS t, blob2 AS dependency, SUM(_sample_interval * double3) AS errors, " +
      "SUM(_sample_interval * double4) AS timeouts, SUM(_sample_interval * double5) AS retries " +
      `FROM ${DATASET} WHERE $timeFilter AND blob1 = 'dependency' GROUP BY t, dependency ORDER BY t`,
  },
  {
    title: "Dependency calls in flight (peak per invocation)",
    unit: "short",
    sql:
      "SELECT $timeSeries AS t, blob2 AS dependency, MAX(double9) AS peak_in_flight " +
      `FROM ${DATASET} WHERE $timeFilter AND blob1 = 'dependency' GROUP BY t, dependency ORDER BY t`,
  },
  {
    title: "Relational store rows read and written (D1 or PostgreSQL)",
    unit: "short",
    sql:
      "SELECT $timeSeries AS t, SUM(_sample_interval * double6) AS rows_read, SUM(_sample_interval * double7) AS rows_written " +
      `FROM ${DATASET} WHERE $timeFilter AND blob1 = 'dependency' AND blob2 IN ('d1', 'postgres') GROUP BY t ORDER BY t`,
  },
  {
    title: "Ingestion backlog (documents queued or processing)",
    unit: "short",
    sql:
      "SELECT $timeSeries AS t, MAX(double1) AS backlog " +
      `FROM ${DATASET} WHERE $timeFilter AND blob1 = 'gauge' AND blob2 = 'ingest_backlog' GROUP BY t ORDER BY t`,
  },
  {
    title: "Queue lag: oldest message per batch (ms)",
    unit: "ms",
    sql:
      "SELECT $timeSeries AS t, blob2 AS queue, MAX(double5) AS oldest_age_ms " +
      `FROM ${DATASET} WHERE $timeFilter AND blob1 = 'queue' GROUP BY t, queue ORDER BY t`,
  },
  {
    title: "Dead-lettered documents",
    unit: "short",
    sql:
      "SELECT $timeSeries AS t, SUM(_sample_interval * double6) AS dead_lettered " +
      `FROM ${DATASET} WHERE $timeFilter AND blob1 = 'queue' GROUP BY t ORDER BY t`,
  },
  {
    title: "Rate limiter fail-open",
    unit: "short",
    sql:
      "SELECT $timeSeries AS t, SUM(_sample_interval * double6) AS fail_open " +
      `FROM ${DATASET} WHERE $timeFilter AND blob1 = 'request' GROUP BY t ORDER BY t`,
  },
  {
    title: "Cron job failures",
    unit: "short",
    sql:
      "SELECT $timeSeries AS t, blob2 AS job, SUM(_sample_interval * double3) AS failures " +
      `FROM ${DATASET} WHERE $timeFilter AND blob1 = 'cron' GROUP BY t, job ORDER BY t`,
  },
];

/**
 * Alert rules. Each query returns one value column per row (per mode, per dependency …); the rule
 * fires when any row's value is over `threshold`.
 */
export const alerts = [
  {
    uid: "edgerag-slo-page-fast-burn",
    title: "Query SLO: budget burning 14.4x (1 h and 5 min)",
    severity: "page",
    valueColumn: "burn_rate",
    threshold: 14.4,
    for: "2m",
    lookbackS: 3_600,
    sql: burnRateQuery([1, "HOUR"], [5, "MINUTE"]),
    summary: "2 % of the month's error budget in one hour: queries fail or miss their mode's latency target.",
  },
  {
    uid: "edgerag-slo-page-slow-burn",
    title: "Query SLO: budget burning 6x (6 h and 30 min)",
    severity: "page",
    valueColumn: "burn_rate",
    threshold: 6,
    for: "15m",
    lookbackS: 21_600,
    sql: burnRateQuery([6, "HOUR"], [30, "MINUTE"]),
    summary: "5 % of the month's error budget in six hours.",
  },
  {
    uid: "edgerag-slo-ticket-burn",
    title: "Query SLO: budget burning 1x (3 days and 6 h)",
    severity: "ticket",
    valueColumn: "burn_rate",
    threshold: 1,
    for: "1h",
    lookbackS: 259_200,
    sql: burnRateQuery([3, "DAY"], [6, "HOUR"]),
    summary: "At this rate the month's error budget runs out before the month does.",
  },
  {
    uid: "edgerag-dlq-not-empty",
    title: "Documents dead-lettered",
    severity: "ticket",
    valueColumn: "dead_lettered",
    threshold: 0,
    for: "0s",
    lookbackS: 900,
    sql:
      "SELECT blob2 AS queue, SUM(_sample_interval * double6) AS dead_lettered " +
      `FROM ${DATASET} WHERE blob1 = 'queue' AND timestamp > NOW() - INTERVAL '15' MINUTE GROUP BY queue`,
    summary: "Ingestion gave up on documents (they are failed with a reason); look at GET /v1/documents?status=failed.",
  },
  {
    uid: "edgerag-limiter-fail-open",
    title: "Rate limiter failing open",
    severity: "page",
    valueColumn: "fail_open",
    threshold: 0,
    for: "5m",
    lookbackS: 900,
    sql:
      "SELECT SUM(_sample_interval * double6) AS fail_open " +
      `FROM ${DATASET} WHERE blob1 = 'request' AND timestamp > NOW() - INTERVAL '15' MINUTE`,
    summary: "The limiter's store is down: reads pass unlimited, writes are refused (503).",
  },
  {
    uid: "edgerag-dependency-errors",
    title: "Dependency error rate over 5 %",
    severity: "page",
    valueColumn: "error_rate",
    threshold: 0.05,
    for: "5m",
    lookbackS: 600,
    sql:
      "SELECT blob2 AS dependency, SUM(_sample_interval * double3) / SUM(_sample_interval * double2) AS error_rate " +
      `FROM ${DATASET} WHERE blob1 = 'dependency' AND timestamp > NOW() - INTERVAL '10' MINUTE ` +
      "GROUP BY dependency HAVING SUM(_sample_interval * double2) >= 20",
    summary: "A binding or provider fails more than 1 call in 20 (at least 20 calls in 10 min).",
  },
];

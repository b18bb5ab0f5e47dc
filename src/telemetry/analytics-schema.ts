/**
 * The Analytics Engine dataset's schema, written once: which blob, double and index holds what for
 * each kind of data point. The writers below place fields by name from this table, docs/operations.md's
 * schema table says the same, and the ops test checks every dashboard and alert query against it.
 *
 * One invocation writes at most `MAX_POINTS` points: one for itself (request, queue batch or cron
 * job) and one per dependency it called (aggregated over its calls), the rest merged into `other`.
 */

export const ANALYTICS_DATASET = "edgerag_metrics";

/** Analytics Engine allows more per invocation; the budget, and plenty for ~15 dependencies. */
export const MAX_POINTS = 25;

interface KindSchema {
  /** The sampling key (index1). */
  index: string;
  blobs: ReadonlyArray<readonly [name: string, description: string]>;
  doubles: ReadonlyArray<readonly [name: string, description: string]>;
}

const KIND = ["kind", "the point's kind (this table's heading)"] as const;
const VERSION = ["version", "the Worker version id (CF_VERSION_METADATA), `dev` locally"] as const;

export const SCHEMA = {
  request: {
    index: "tenant id, or `-` when anonymous",
    blobs: [
      KIND,
      ["route", "route template, e.g. `/v1/query`"],
      VERSION,
      ["outcome", "`ok`, or the problem code"],
      ["method", "HTTP method"],
      ["mode", "`fast` | `balanced` | `deep` on /v1/query, else empty"],
      ["cache", "answer cache `hit` | `miss`, else empty"],
      ["tenant_id", "tenant id, empty when anonymous"],
    ],
    doubles: [
      ["duration_ms", "time to the response, ms"],
      ["count", "1 (sum `_sample_interval × double2` for rates)"],
      ["server_error", "1 when the status is 5xx"],
      ["status", "HTTP status"],
      ["collections", "collections the query searched"],
      ["limiter_fail_open", "1 when the rate limiter's store failed and the read was let through"],
      ["db_calls", "relational store statements the request ran (D1, or PostgreSQL)"],
      ["spans_dropped", "spans over the per-invocation cap"],
    ],
  },
  dependency: {
    index: "tenant id, or `-`",
    blobs: [
      KIND,
      [
        "dependency",
        "`d1`, `r2`, `queue:<name>`, `vectors`, `embedder`, `reranker`, `generator`, `cache`, `limiter`, `hubs`, `renderer`, `dns`, `fetch`",
      ],
      VERSION,
      ["outcome", "`ok`, or `error` when any call failed"],
      ["entry", "the route, queue or job that made the calls"],
      ["tenant_id", "tenant id, empty when none"],
    ],
    doubles: [
      ["total_ms", "summed latency of the calls, ms"],
      ["calls", "calls made"],
      ["errors", "calls that failed"],
      ["timeouts", "calls that timed out"],
      ["retries", "retries after 429/5xx/network errors"],
      ["rows_read", "D1 rows read (`meta.rows_read`; for typed selects, which get no meta, the rows returned)"],
      ["rows_written", "D1 rows written"],
      ["max_ms", "slowest call, ms"],
      ["peak_in_flight", "most calls in flight at once"],
    ],
  },
  queue: {
    index: "queue name",
    blobs: [KIND, ["queue", "queue name"], VERSION, ["outcome", "`ok`, or `error` when the handler threw"]],
    doubles: [
      ["duration_ms", "time to handle the batch, ms"],
      ["messages", "messages in the batch"],
      ["failed", "1 when the handler threw (the batch is retried)"],
      ["redelivered", "messages on their second or later attempt"],
      ["oldest_age_ms", "age of the batch's oldest message, ms (the backlog's lag)"],
      ["dead_lettered", "messages in the batch when the queue is a dead-letter queue"],
    ],
  },
  cron: {
    index: "job name",
    blobs: [KIND, ["job", "job name"], VERSION, ["outcome", "`ok`, or `error`"]],
    doubles: [
      ["duration_ms", "run time, ms"],
      ["count", "1"],
      ["failed", "1 when the job threw"],
    ],
  },
  gauge: {
    index: "gauge name",
    blobs: [KIND, ["gauge", "`ingest_backlog`: documents queued or processing"], VERSION],
    doubles: [
      ["value", "the gauge's value"],
      ["count", "1"],
    ],
  },
} as const satisfies Record<string, KindSchema>;

export type PointKind = keyof typeof SCHEMA;
type FieldOf<K extends PointKind> =
  | (typeof SCHEMA)[K]["blobs"][number][0]
  | (typeof SCHEMA)[K]["doubles"][number][0]
  | "index";

/** Analytics Engine's data point (the binding's `writeDataPoint` argument). */
export interface DataPoint {
  indexes: string[];
  blobs: string[];
  doubles: number[];
}

/** Blobs are capped at 16 KB in total; ours are short, and each is bounded anyway. */
const MAX_BLOB_CHARS = 256;

/** A data point of `kind` from named fields; missing blobs are empty, missing doubles 0. */
export function point<K extends PointKind>(
  kind: K,
  values: Partial<Record<Exclude<FieldOf<K>, "kind">, string | number | undefined>>,
): DataPoint {
  const schema: KindSchema = SCHEMA[kind];
  const named = values as Record<string, string | number | undefined>;
  return {
    indexes: [String(named.index ?? "-").slice(0, 96)],
    blobs: schema.blobs.map(([name]) => (name === "kind" ? kind : String(named[name] ?? "").slice(0, MAX_BLOB_CHARS))),
    doubles: schema.doubles.map(([name]) => {
      const value = Number(named[name] ?? 0);
      return Number.isFinite(value) ? value : 0;
    }),
  };
}

/** `blob4` for `outcome`, for queries: the column a field of a kind is stored in. */
export function columnOf(kind: PointKind, field: string): string | undefined {
  const schema: KindSchema = SCHEMA[kind];
  const blob = schema.blobs.findIndex(([name]) => name === field);
  if (blob >= 0) {
    return `blob${blob + 1}`;
  }
  const double = schema.doubles.findIndex(([name]) => name === field);
  return double >= 0 ? `double${double + 1}` : undefined;
}

/**
 * This isolate's live metrics since it started: per dependency (the Workers equivalent of
 * connection-pool metrics: calls in flight, latency histogram, errors by kind, timeouts, retries,
 * D1 rows) and per route (rate, errors by code, latency histogram), plus what the trace exporter
 * and Analytics Engine took or dropped. `/health/detailed` shows the snapshot; the durable,
 * fleet-wide series are the Analytics Engine data points (analytics-schema.ts).
 */
import { bucketOf, type Histogram, percentile } from "../lib/histogram";

export interface DependencyTally {
  calls: number;
  errors: number;
  timeouts: number;
  retries: number;
  totalMs: number;
  maxMs: number;
  rowsRead: number;
  rowsWritten: number;
  inFlight: number;
  peakInFlight: number;
}

/** A tally with nothing counted yet. */
export function emptyTally(): DependencyTally {
  return {
    calls: 0,
    errors: 0,
    timeouts: 0,
    retries: 0,
    totalMs: 0,
    maxMs: 0,
    rowsRead: 0,
    rowsWritten: 0,
    inFlight: 0,
    peakInFlight: 0,
  };
}

interface LiveDependency extends DependencyTally {
  errorsByKind: Record<string, number>;
  histogram: Histogram;
}

interface LiveRoute {
  requests: number;
  errorsByCode: Record<string, number>;
  histogram: Histogram;
}

/** Distinct routes and dependencies kept; past it they share `other` (bounded memory). */
const MAX_KEYS = 200;

function bump(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

function latency(histogram: Histogram) {
  return { p50_ms: percentile(histogram, 50), p95_ms: percentile(histogram, 95), p99_ms: percentile(histogram, 99) };
}

export class IsolateMetrics {
  /** Set by the first request (at module load workerd's clock still reads 1970). */
  private startedAt: string | undefined;
  private readonly dependencies = new Map<string, LiveDependency>();
  private readonly routes = new Map<string, LiveRoute>();
  readonly tracing = { spansExported: 0, spansDropped: 0, exportFailures: 0, lastFailure: null as string | null };
  readonly analytics = { pointsWritten: 0, pointsDropped: 0 };
  limiterFailOpen = 0;

  dependency(name: string): LiveDependency {
    const key = this.dependencies.has(name) || this.dependencies.size < MAX_KEYS ? name : "other";
    let live = this.dependencies.get(key);
    if (!live) {
      live = { ...emptyTally(), errorsByKind: {}, histogram: {} };
      this.dependencies.set(key, live);
    }
    return live;
  }

  /** The per-call parts the invocation tally does not keep: the histogram and errors by kind. */
  recordCall(dependency: string, ms: number, errorKind: string | undefined): void {
    this.startedAt ??= new Date().toISOString();
    const live = this.dependency(dependency);
    bump(live.histogram, String(bucketOf(ms)));
    if (errorKind !== undefined) {
      bump(live.errorsByKind, errorKind);
    }
  }

  recordRequest(route: string, ms: number, code: string | undefined): void {
    this.startedAt ??= new Date().toISOString();
    const key = this.routes.has(route) || this.routes.size < MAX_KEYS ? route : "other";
    let live = this.routes.get(key);
    if (!live) {
      live = { requests: 0, errorsByCode: {}, histogram: {} };
      this.routes.set(key, live);
    }
    live.requests++;
    bump(live.histogram, String(bucketOf(ms)));
    if (code !== undefined) {
      bump(live.errorsByCode, code);
    }
  }

  snapshot() {
    return {
      since: this.startedAt ?? new Date().toISOString(),
      dependencies: Object.fromEntries(
        [...this.dependencies].map(([name, d]) => [
          name,
          {
            in_flight: d.inFlight,
            peak_in_flight: d.peakInFlight,
            calls: d.calls,
            errors: d.errorsByKind,
            timeouts: d.timeouts,
            retries: d.retries,
            rows_read: d.rowsRead,
            rows_written: d.rowsWritten,
            mean_ms: d.calls === 0 ? null : round(d.totalMs / d.calls),
            max_ms: round(d.maxMs),
            ...latency(d.histogram),
          },
        ]),
      ),
      routes: Object.fromEntries(
        [...this.routes].map(([route, r]) => [
          route,
          { requests: r.requests, errors: r.errorsByCode, ...latency(r.histogram) },
        ]),
      ),
      limiter_fail_open: this.limiterFailOpen,
      tracing: {
        spans_exported: this.tracing.spansExported,
        spans_dropped: this.tracing.spansDropped,
        export_failures: this.tracing.exportFailures,
        last_failure: this.tracing.lastFailure,
      },
      analytics: { points_written: this.analytics.pointsWritten, points_dropped: this.analytics.pointsDropped },
    };
  }
}

export type MetricsSnapshot = ReturnType<IsolateMetrics["snapshot"]>;

/** The one per isolate (module state lives as long as the isolate). */
export const isolateMetrics = new IsolateMetrics();

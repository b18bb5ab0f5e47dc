/**
 * The composition of telemetry, beside the composition root: an invocation (request, queue batch,
 * cron tick) begins a `Telemetry` from the configuration and the caller's trace context, and when
 * it ends writes its Analytics Engine points (at most 25, synchronously, as the binding does) and
 * hands its spans to the OTLP exporter in `waitUntil`, after the response.
 */

import { writePoints } from "../adapters/telemetry/analytics-engine";
import type { AnalyticsDataset, SpanExporter } from "../adapters/telemetry/interface";
import { getConfig } from "../config";
import { type DataPoint, MAX_POINTS, point } from "./analytics-schema";
import { type DependencyTally, emptyTally, isolateMetrics } from "./metrics";
import type { Attributes, SpanKind } from "./span";
import { currentTelemetry, Telemetry } from "./trace";
import type { SpanContext } from "./trace-context";

/** Bindings that exist only when wrangler.toml has them (they are optional to run). */
interface TelemetryBindings {
  ANALYTICS?: AnalyticsDataset;
  CF_VERSION_METADATA?: { id: string; tag?: string };
}

/** The Worker version id (Analytics Engine's `version` blob; what the deploy gates filter on). */
export function versionOf(env: Env): string {
  return (env as Env & TelemetryBindings).CF_VERSION_METADATA?.id ?? "dev";
}

export interface InvocationStart {
  name: string;
  kind: SpanKind;
  parent?: SpanContext | undefined;
  links?: SpanContext[];
  attributes?: Attributes;
}

export function beginInvocation(env: Env, start: InvocationStart): Telemetry {
  const config = getConfig(env);
  return new Telemetry({ ...start, exporting: config.tracing !== undefined, sampleRatio: config.traceSampleRatio });
}

/** A value sampled by a job (`ingest_backlog`), written as a `gauge` point when the invocation ends. */
export function recordGauge(name: string, value: number): void {
  currentTelemetry()?.gauges.set(name, value);
}

/** One point per dependency the invocation called, the busiest first, the rest merged into `other`. */
function dependencyPoints(telemetry: Telemetry, room: number, entry: string, version: string): DataPoint[] {
  const tallies = [...telemetry.dependencies].filter(([, t]) => t.calls > 0).sort(([, a], [, b]) => b.calls - a.calls);
  const kept = tallies.length > room ? tallies.slice(0, room - 1) : tallies;
  const rest = tallies.slice(kept.length);
  if (rest.length > 0) {
    const other: DependencyTally = emptyTally();
    for (const [, t] of rest) {
      other.calls += t.calls;
      other.errors += t.errors;
      other.timeouts += t.timeouts;
      other.retries += t.retries;
      other.totalMs += t.totalMs;
      other.maxMs = Math.max(other.maxMs, t.maxMs);
      other.rowsRead += t.rowsRead;
      other.rowsWritten += t.rowsWritten;
      other.peakInFlight = Math.max(other.peakInFlight, t.peakInFlight);
    }
    kept.push(["other", other]);
  }
  const tenantId = telemetry.facts.tenantId;
  return kept.map(([dependency, t]) =>
    point("dependency", {
      index: tenantId ?? "-",
      dependency,
      version,
      outcome: t.errors > 0 ? "error" : "ok",
      entry,
      tenant_id: tenantId,
      total_ms: Math.round(t.totalMs * 100) / 100,
      calls: t.calls,
      errors: t.errors,
      timeouts: t.timeouts,
      retries: t.retries,
      rows_read: t.rowsRead,
      rows_written: t.rowsWritten,
      max_ms: Math.round(t.maxMs * 100) / 100,
      peak_in_flight: t.peakInFlight,
    }),
  );
}

export interface InvocationEnd {
  /** Where its spans go, if tracing is on (chosen by the composition root: `spanExporterFor`). */
  exporter: SpanExporter | undefined;
  /** The invocation's own point (request, queue or cron), built by its entry. */
  own: DataPoint;
  /** What the dependency points name as their `entry`: the route, queue or job. */
  entry: string;
}

/** Ends the invocation: metrics now (never failing it), spans in `waitUntil`. */
export function finishInvocation(
  env: Env,
  invocation: Pick<ExecutionContext, "waitUntil">,
  telemetry: Telemetry,
  end: InvocationEnd,
): void {
  telemetry.end();
  const version = versionOf(env);
  const gaugePoints = [...telemetry.gauges].map(([gauge, value]) =>
    point("gauge", { index: gauge, gauge, version, value, count: 1 }),
  );
  const fixed = [end.own, ...gaugePoints];
  writePoints((env as Env & TelemetryBindings).ANALYTICS, [
    ...fixed,
    ...dependencyPoints(telemetry, MAX_POINTS - fixed.length, end.entry, version),
  ]);
  isolateMetrics.tracing.spansDropped += telemetry.droppedSpans;
  if (end.exporter && telemetry.spans.length > 0) {
    invocation.waitUntil(end.exporter.export(telemetry.spans));
  }
}

/**
 * OTLP/HTTP with the JSON encoding (https://opentelemetry.io/docs/specs/otlp/#otlphttp): one POST
 * per invocation, sent from `waitUntil` after the response. A collector that is down or slow costs
 * the request nothing: the batch is dropped and counted, and for `BACKOFF_MS` after a failure
 * batches are dropped without trying, so a dead collector does not hold every invocation open.
 */
import { isolateMetrics } from "../../telemetry/metrics";
import type { Attributes, SpanKind, SpanRecord } from "../../telemetry/span";
import { untracedFetch } from "../instrument";
import type { SpanExporter } from "./interface";

export interface OtlpSettings {
  /** The traces endpoint, e.g. https://collector.example.com/v1/traces. */
  url: string;
  /** Sent with every export (an API key); never logged. */
  headers: Record<string, string>;
  timeoutMs: number;
  /** Resource attributes: service.name, service.version … */
  resource: Attributes;
}

const KIND: Record<SpanKind, number> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
const STATUS = { unset: 0, ok: 1, error: 2 } as const;
const BACKOFF_MS = 10_000;

function attributes(values: Attributes) {
  return Object.entries(values).map(([key, value]) => ({
    key,
    value:
      typeof value === "string"
        ? { stringValue: value }
        : typeof value === "boolean"
          ? { boolValue: value }
          : Number.isInteger(value)
            ? { intValue: String(value) }
            : { doubleValue: value },
  }));
}

const nanos = (ms: number) => `${Math.round(ms)}000000`;

/** The OTLP JSON request body for `spans` (exported for the receiver stand-in's tests). */
export function otlpBody(spans: SpanRecord[], resource: Attributes) {
  return {
    resourceSpans: [
      {
        resource: { attributes: attributes(resource) },
        scopeSpans: [
          {
            scope: { name: "edgerag", version: "1" },
            spans: spans.map((span) => ({
              traceId: span.traceId,
              spanId: span.spanId,
              ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
              name: span.name,
              kind: KIND[span.kind],
              startTimeUnixNano: nanos(span.startMs),
              endTimeUnixNano: nanos(Math.max(span.endMs, span.startMs)),
              attributes: attributes(span.attributes),
              status: { code: STATUS[span.status], ...(span.statusMessage ? { message: span.statusMessage } : {}) },
              links: span.links.map((link) => ({ traceId: link.traceId, spanId: link.spanId })),
            })),
          },
        ],
      },
    ],
  };
}

export class OtlpHttpExporter implements SpanExporter {
  private failedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly settings: OtlpSettings) {}

  async export(spans: SpanRecord[]): Promise<void> {
    if (spans.length === 0) {
      return;
    }
    const stats = isolateMetrics.tracing;
    if (Date.now() - this.failedAt < BACKOFF_MS) {
      stats.spansDropped += spans.length;
      return;
    }
    try {
      const response = await untracedFetch(this.settings.url, {
        method: "POST",
        headers: { ...this.settings.headers, "content-type": "application/json" },
        body: JSON.stringify(otlpBody(spans, this.settings.resource)),
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
      await response.body?.cancel();
      if (!response.ok) {
        throw new Error(`collector answered ${response.status}`);
      }
      stats.spansExported += spans.length;
      this.failedAt = Number.NEGATIVE_INFINITY;
    } catch (error) {
      this.failedAt = Date.now();
      stats.exportFailures++;
      stats.spansDropped += spans.length;
      stats.lastFailure = `${new Date().toISOString()} ${(error as Error).name}: ${(error as Error).message}`.slice(
        0,
        200,
      );
    }
  }
}

/** Spans: what one step of an invocation records, kept by its `Telemetry` (trace.ts). */
import type { Telemetry } from "./trace";
import type { SpanContext } from "./trace-context";

export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;
export type SpanKind = "internal" | "server" | "client" | "producer" | "consumer";

export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: SpanKind;
  startMs: number;
  endMs: number;
  attributes: Attributes;
  status: "unset" | "ok" | "error";
  statusMessage?: string;
  links: SpanContext[];
}

/** Spans kept per invocation; past it they are counted in `droppedSpans`, never buffered. */
export const MAX_SPANS = 512;
export const MAX_LINKS = 32;
const MAX_ATTRIBUTE_CHARS = 256;

/** Outcome of a failed call for metrics and spans: a problem code, `timeout`, or the error's name. */
export function errorKind(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const name = (error as { name?: unknown } | null)?.name;
  if (code === "upstream_timeout" || name === "TimeoutError") {
    return "timeout";
  }
  if (typeof code === "string" && /^[a-z_]{1,40}$/.test(code)) {
    return code;
  }
  return typeof name === "string" && name.length <= 40 ? name : "error";
}

export class Span {
  childCount = 0;
  private ended = false;
  constructor(
    private readonly telemetry: Telemetry,
    readonly record: SpanRecord,
  ) {}

  get context(): SpanContext {
    return { traceId: this.record.traceId, spanId: this.record.spanId, sampled: true };
  }

  set(key: string, value: AttributeValue | null | undefined): this {
    if (value !== undefined && value !== null) {
      this.record.attributes[key] = typeof value === "string" ? value.slice(0, MAX_ATTRIBUTE_CHARS) : value;
    }
    return this;
  }

  setAll(attributes: Record<string, AttributeValue | null | undefined>): this {
    for (const [key, value] of Object.entries(attributes)) {
      this.set(key, value);
    }
    return this;
  }

  fail(error: unknown): this {
    this.record.status = "error";
    this.set("error.type", errorKind(error));
    return this;
  }

  /** Ends the span (once); `keep: false` discards it (an empty stage). */
  end(keep = true): void {
    if (this.ended) {
      return;
    }
    this.ended = true;
    this.record.endMs = Date.now();
    if (keep) {
      this.telemetry.keep(this.record);
    }
  }
}

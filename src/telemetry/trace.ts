/**
 * Tracing and per-invocation metrics, with no library (span.ts, observe.ts beside this): every request, queue batch and cron tick
 * is one `Telemetry` (a trace, plus a tally per dependency), found by the code under it through
 * AsyncLocalStorage, so adapters and the pipeline add spans without a tracer being passed around.
 *
 * Spans are only recorded when the invocation is sampled and an exporter is configured; the
 * dependency tallies (for Analytics Engine and /health/detailed) are kept either way, and cost a
 * clock read and a few additions per call.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { type DependencyTally, emptyTally } from "./metrics";
import { type Attributes, MAX_LINKS, MAX_SPANS, Span, type SpanKind, type SpanRecord } from "./span";
import { formatTraceparent, newSpanId, newTraceId, type SpanContext } from "./trace-context";

/** Where the code runs: its invocation, the span new spans hang from, and the open pipeline stage. */
export interface Scope {
  telemetry: Telemetry;
  span: Span | undefined;
  stage?: Span | undefined;
  /** Set inside a dependency call: where its retries are counted. */
  dependency?: string;
}

/** The scope of the code running now (observe.ts reads it too). */
export const storage = new AsyncLocalStorage<Scope>();

export interface InvocationFacts {
  route?: string;
  method?: string;
  status?: number;
  code?: string;
  mode?: string;
  cache?: string;
  tenantId?: string;
  collections?: number;
  limiterFailOpen?: number;
}

export interface TelemetryOptions {
  name: string;
  kind: SpanKind;
  /** The caller's context (`traceparent`): the trace continues, and its sampled flag decides. */
  parent?: SpanContext | undefined;
  links?: SpanContext[];
  attributes?: Attributes;
  /** Whether spans are recorded at all (an exporter is configured). */
  exporting: boolean;
  /** For a new trace: the share recorded (parent-based sampling otherwise). */
  sampleRatio: number;
}

/** One request, queue batch or cron tick. */
export class Telemetry {
  readonly traceId: string;
  readonly recording: boolean;
  readonly root: Span | undefined;
  /** The span id we propagate when nothing is recorded, so downstream still sees one parent. */
  private readonly rootSpanId: string;
  readonly traceState: string | undefined;
  readonly spans: SpanRecord[] = [];
  droppedSpans = 0;
  readonly dependencies = new Map<string, DependencyTally>();
  readonly facts: InvocationFacts = {};
  /** Values a job sampled (`ingest_backlog`), written as `gauge` points when it ends. */
  readonly gauges = new Map<string, number>();
  readonly startedMs = Date.now();

  constructor(options: TelemetryOptions) {
    const { parent } = options;
    this.traceId = parent?.traceId ?? newTraceId();
    this.traceState = parent?.traceState;
    // Parent-based: a caller's decision stands; a queue batch is recorded when a producer's was.
    const sampled = parent
      ? parent.sampled
      : (options.links ?? []).some((link) => link.sampled) || Math.random() < options.sampleRatio;
    this.recording = options.exporting && sampled;
    this.rootSpanId = newSpanId();
    if (this.recording) {
      this.root = new Span(this, {
        traceId: this.traceId,
        spanId: this.rootSpanId,
        parentSpanId: parent?.spanId,
        name: options.name,
        kind: options.kind,
        startMs: this.startedMs,
        endMs: this.startedMs,
        attributes: { ...options.attributes },
        status: "unset",
        links: (options.links ?? []).slice(0, MAX_LINKS),
      });
    }
  }

  /** Runs `fn` with this invocation as the current one. */
  run<T>(fn: () => T): T {
    return storage.run({ telemetry: this, span: this.root }, fn);
  }

  startSpan(name: string, kind: SpanKind, attributes: Attributes, parent: Span | undefined): Span {
    const parentSpan = parent ?? this.root;
    if (parentSpan) {
      parentSpan.childCount++;
    }
    const now = Date.now();
    return new Span(this, {
      traceId: this.traceId,
      spanId: newSpanId(),
      parentSpanId: parentSpan?.record.spanId ?? this.rootSpanId,
      name,
      kind,
      startMs: now,
      endMs: now,
      attributes: { ...attributes },
      status: "unset",
      links: [],
    });
  }

  keep(record: SpanRecord): void {
    if (this.spans.length < MAX_SPANS) {
      this.spans.push(record);
    } else {
      this.droppedSpans++;
    }
  }

  dependency(name: string): DependencyTally {
    let tally = this.dependencies.get(name);
    if (!tally) {
      tally = emptyTally();
      this.dependencies.set(name, tally);
    }
    return tally;
  }

  /** Facts an operator filters on (mode, cache result, tenant …), also set on the root span. */
  annotate(facts: InvocationFacts): void {
    Object.assign(this.facts, facts);
    this.root?.setAll({
      "edgerag.mode": facts.mode,
      "edgerag.cache": facts.cache,
      "edgerag.tenant_id": facts.tenantId,
      "edgerag.collections": facts.collections,
      "edgerag.error_code": facts.code,
    });
  }

  /** `traceparent` for the code running in `span` (or the root). */
  traceparent(span?: Span): string {
    return formatTraceparent({
      traceId: this.traceId,
      spanId: span?.record.spanId ?? this.root?.record.spanId ?? this.rootSpanId,
      sampled: this.recording,
    });
  }

  /** Ends the root span; what is left to do is flushing (`spans`, `dependencies`, `facts`). */
  end(): void {
    if (this.facts.code && this.root) {
      this.root.record.status = "error";
    }
    this.root?.end();
  }
}

/** The current invocation, if any (none in Durable Objects and outside a request). */
export function currentTelemetry(): Telemetry | undefined {
  return storage.getStore()?.telemetry;
}

export function currentTraceId(): string | undefined {
  return storage.getStore()?.telemetry.traceId;
}

/** Headers that carry the current context to the next hop (empty outside an invocation). */
export function traceHeaders(): Record<string, string> {
  const scope = storage.getStore();
  if (!scope) {
    return {};
  }
  const headers: Record<string, string> = {
    traceparent: scope.telemetry.traceparent(scope.stage ?? scope.span),
  };
  if (scope.telemetry.traceState) {
    headers.tracestate = scope.telemetry.traceState;
  }
  return headers;
}

export const NO_SPAN: Span | undefined = undefined;

function closeStage(scope: Scope): void {
  const stage = scope.stage;
  scope.stage = undefined;
  if (!stage) {
    return;
  }
  // The unnamed stage after the last lap: noise when empty, `stage.finish` when calls hang from it.
  const unnamed = stage.record.name === "stage";
  if (unnamed && stage.childCount > 0) {
    stage.record.name = "stage.finish";
  }
  stage.end(!unnamed || stage.childCount > 0);
}

/**
 * Runs `fn` in a child span of the current one (an internal step). Outside an invocation, or
 * when nothing is recorded, `fn` runs as it is and gets no span.
 */
export function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span | undefined) => Promise<T>,
  kind: SpanKind = "internal",
): Promise<T> {
  const scope = storage.getStore();
  if (!scope?.telemetry.recording) {
    return fn(NO_SPAN);
  }
  const span = scope.telemetry.startSpan(name, kind, attributes, scope.stage ?? scope.span);
  const inner: Scope = { telemetry: scope.telemetry, span };
  return storage.run(inner, async () => {
    try {
      return await fn(span);
    } catch (error) {
      span.fail(error);
      throw error;
    } finally {
      closeStage(inner);
      span.end();
    }
  });
}

/**
 * Stages of a pipeline (the `Server-Timing` stages) as sibling spans under the current span:
 * `lap(name)` ends the running stage under that name and starts the next, so the calls made during
 * a stage hang from it. Call inside `withSpan`, which closes the last one.
 */
export function stageClock(): { lap(name: string): void } {
  const scope = storage.getStore();
  if (!scope?.telemetry.recording) {
    return { lap: () => {} };
  }
  const open = () => {
    scope.stage = scope.telemetry.startSpan("stage", "internal", {}, scope.span);
  };
  open();
  return {
    lap(name) {
      if (scope.stage) {
        scope.stage.record.name = `stage.${name}`;
        scope.stage.set("edgerag.stage", name);
      }
      closeStage(scope);
      open();
    },
  };
}

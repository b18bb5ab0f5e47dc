/**
 * Tracing and per-invocation metrics, with no library: every request, queue batch and cron tick
 * is one `Telemetry` (a trace, plus a tally per dependency), found by the code under it through
 * AsyncLocalStorage, so adapters and the pipeline add spans without a tracer being passed around.
 *
 * Spans are only recorded when the invocation is sampled and an exporter is configured; the
 * dependency tallies (for Analytics Engine and /health/detailed) are kept either way, and cost a
 * clock read and a few additions per call.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { type DependencyTally, emptyTally, isolateMetrics } from "./metrics";
import { formatTraceparent, newSpanId, newTraceId, type SpanContext } from "./trace-context";

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
const MAX_LINKS = 32;
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

/** Where the code runs: its invocation, the span new spans hang from, and the open pipeline stage. */
interface Scope {
  telemetry: Telemetry;
  span: Span | undefined;
  stage?: Span | undefined;
  /** Set inside a dependency call: where its retries are counted. */
  dependency?: string;
}

const storage = new AsyncLocalStorage<Scope>();

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

const NO_SPAN: Span | undefined = undefined;

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

/** Adds to the current dependency call's retry count (a provider answered 429/5xx and we tried again). */
export function recordRetry(): void {
  const scope = storage.getStore();
  if (!scope?.dependency) {
    return;
  }
  scope.telemetry.dependency(scope.dependency).retries++;
  isolateMetrics.dependency(scope.dependency).retries++;
  const span = scope.span;
  if (span) {
    span.set("edgerag.retries", ((span.record.attributes["edgerag.retries"] as number | undefined) ?? 0) + 1);
  }
}

export interface CallInfo {
  rowsRead?: number;
  rowsWritten?: number;
  attributes?: Record<string, AttributeValue | null | undefined>;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/**
 * One call to a dependency (a binding, a provider, a fetch): tallied per invocation and per
 * isolate, and a client span when recording. `inspect` reads what the result says about itself
 * (D1's rows read and written). A call that returns synchronously is passed through untouched
 * (getters and helpers on an adapter are not dependency calls).
 */
export function observe<T>(
  dependency: string,
  operation: string,
  call: () => T,
  inspect?: (result: Awaited<T>) => CallInfo,
  attributes: Attributes = {},
): T {
  const scope = storage.getStore();
  if (!scope) {
    return call();
  }
  const { telemetry } = scope;
  const started = performance.now();
  const span = telemetry.recording
    ? telemetry.startSpan(
        `${dependency} ${operation}`,
        "client",
        { "edgerag.dependency": dependency, "edgerag.operation": operation, ...attributes },
        scope.stage ?? scope.span,
      )
    : undefined;
  const inner: Scope = { telemetry, span: span ?? scope.span, dependency };
  let result: T;
  try {
    result = storage.run(inner, call);
  } catch (error) {
    settle(telemetry, dependency, started, span, error, undefined);
    throw error;
  }
  if (!isThenable(result)) {
    return result;
  }
  const tally = telemetry.dependency(dependency);
  const live = isolateMetrics.dependency(dependency);
  tally.inFlight++;
  tally.peakInFlight = Math.max(tally.peakInFlight, tally.inFlight);
  live.inFlight++;
  live.peakInFlight = Math.max(live.peakInFlight, live.inFlight);
  const done = () => {
    tally.inFlight--;
    live.inFlight--;
  };
  return Promise.resolve(result).then(
    (value) => {
      done();
      let info: CallInfo | undefined;
      try {
        info = inspect?.(value as Awaited<T>);
      } catch {
        // What the result says about itself is a nicety; never a failure.
      }
      settle(telemetry, dependency, started, span, undefined, info);
      return value;
    },
    (error: unknown) => {
      done();
      settle(telemetry, dependency, started, span, error, undefined);
      throw error;
    },
  ) as T;
}

function settle(
  telemetry: Telemetry,
  dependency: string,
  started: number,
  span: Span | undefined,
  error: unknown,
  info: CallInfo | undefined,
): void {
  const ms = performance.now() - started;
  const kind = error === undefined ? undefined : errorKind(error);
  for (const target of [telemetry.dependency(dependency), isolateMetrics.dependency(dependency)]) {
    target.calls++;
    target.totalMs += ms;
    target.maxMs = Math.max(target.maxMs, ms);
    target.rowsRead += info?.rowsRead ?? 0;
    target.rowsWritten += info?.rowsWritten ?? 0;
    if (kind !== undefined) {
      target.errors++;
      if (kind === "timeout") {
        target.timeouts++;
      }
    }
  }
  isolateMetrics.recordCall(dependency, ms, kind);
  if (span) {
    if (error !== undefined) {
      span.fail(error);
    }
    span.setAll({ "db.rows_read": info?.rowsRead, "db.rows_written": info?.rowsWritten, ...info?.attributes });
    span.end();
  }
}

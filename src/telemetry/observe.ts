/** Dependency calls: tallied per invocation and per isolate, and a client span when recording. */
import { isolateMetrics } from "./metrics";
import { type Attributes, type AttributeValue, errorKind, type Span } from "./span";
import { type Scope, storage, type Telemetry } from "./trace";

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

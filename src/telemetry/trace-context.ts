/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): `traceparent` and `tracestate`,
 * parsed strictly (anything malformed starts a new trace, as the spec asks) and formatted for
 * outbound requests and queue messages.
 */

export interface SpanContext {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** 16 lowercase hex digits, not all zero. */
  spanId: string;
  /** The caller's sampled flag (bit 0 of trace-flags). */
  sampled: boolean;
  /** Passed through unchanged (vendor data), at most 512 characters as the spec allows dropping. */
  traceState?: string | undefined;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
/** tracestate: up to 32 `key=value` members; longer headers are dropped, not truncated. */
const MAX_TRACESTATE = 512;

export function parseTraceparent(
  header: string | null | undefined,
  state?: string | null | undefined,
): SpanContext | undefined {
  const match = header ? TRACEPARENT.exec(header.trim()) : null;
  if (!match) {
    return undefined;
  }
  const [, version, traceId, spanId, flags, rest] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  // Version ff is invalid; version 00 has nothing after the flags; later versions may.
  if (version === "ff" || (version === "00" && rest !== undefined) || traceId === ZERO_TRACE || spanId === ZERO_SPAN) {
    return undefined;
  }
  const traceState = state && state.length <= MAX_TRACESTATE ? state.trim() || undefined : undefined;
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1, traceState };
}

export function formatTraceparent(context: Pick<SpanContext, "traceId" | "spanId" | "sampled">): string {
  return `00-${context.traceId}-${context.spanId}-${context.sampled ? "01" : "00"}`;
}

function hex(bytes: number): string {
  const random = crypto.getRandomValues(new Uint8Array(bytes));
  let out = "";
  for (const byte of random) {
    out += byte.toString(16).padStart(2, "0");
  }
  return out;
}

/** A random trace id (all-zero is invalid; the odds are 2^-128, but the check is free). */
export function newTraceId(): string {
  const id = hex(16);
  return id === ZERO_TRACE ? newTraceId() : id;
}

export function newSpanId(): string {
  const id = hex(8);
  return id === ZERO_SPAN ? newSpanId() : id;
}

/** A `Server-Timing` header value (W3C Server Timing) from `{stage_ms: ms}` timings. */
export function serverTiming(timings: Record<string, number>): string {
  return Object.entries(timings)
    .map(([name, ms]) => `${name.replace(/_ms$/, "")};dur=${ms}`)
    .join(", ");
}

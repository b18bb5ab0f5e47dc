import type { RateLimiter, RateLimitRequest, RateLimitResult } from "./interface";

/**
 * An exact sliding-window log in this isolate's memory, for unit tests: the same verdicts as the
 * Durable Object limiter for one isolate, none of its sharing across isolates.
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly name = "memory";
  /** Per bucket: admitted units as [time, cost], oldest first. */
  readonly #logs = new Map<string, Array<[number, number]>>();

  async limit({ bucket, limit, windowMs, cost }: RateLimitRequest): Promise<RateLimitResult> {
    const now = Date.now();
    const log = (this.#logs.get(bucket) ?? []).filter(([at]) => at > now - windowMs);
    const used = log.reduce((sum, [, units]) => sum + units, 0);
    const allowed = used + cost <= limit;
    if (allowed) {
      log.push([now, cost]);
    }
    this.#logs.set(bucket, log);
    return { allowed, limit, remaining: Math.max(0, limit - used - (allowed ? cost : 0)), resetMs: resetOf(log) };

    /** Allowed: until the newest unit leaves the window. Denied: until enough old units have left. */
    function resetOf(entries: Array<[number, number]>): number {
      if (allowed) {
        return (entries.at(-1)?.[0] ?? now) + windowMs - now;
      }
      let free = limit - used;
      for (const [at, units] of entries) {
        free += units;
        if (free >= cost) {
          return at + windowMs - now;
        }
      }
      return windowMs;
    }
  }

  async ping(): Promise<void> {}
}

import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis/cloudflare";
import { AppError } from "../../errors";
import type { RateLimiter, RateLimitRequest, RateLimitResult } from "./interface";

export interface UpstashOptions {
  url: string;
  token: string;
  /** Bound on one limiter round trip; past it the request is treated as a Redis failure. */
  timeoutMs: number;
}

/** Blocked identifiers, shared by every Ratelimit instance of the isolate (Upstash's ephemeral cache). */
const ephemeralCache = new Map<string, number>();

/**
 * Upstash Redis limiter: @upstash/ratelimit's sliding window (two weighted fixed windows, an
 * approximation, unlike the exact Durable Object log) over the Upstash REST protocol.
 * Analytics are off; a timeout or a Redis error throws `upstream_unavailable`.
 */
export class UpstashRateLimiter implements RateLimiter {
  readonly name = "upstash";
  private readonly redis: Redis;
  private readonly limiters = new Map<string, Ratelimit>();

  constructor(private readonly options: UpstashOptions) {
    this.redis = new Redis({
      url: options.url,
      token: options.token,
      enableTelemetry: false,
      // One quick retry for a dropped connection; every fetch is aborted at the timeout, so a
      // hung Redis leaves no request (and no late rejection) behind.
      retry: { retries: 1, backoff: () => 25 },
      signal: () => AbortSignal.timeout(options.timeoutMs),
    });
  }

  async limit(request: RateLimitRequest): Promise<RateLimitResult> {
    const limiter = this.limiterFor(request.limit, request.windowMs);
    let response: Awaited<ReturnType<Ratelimit["limit"]>>;
    try {
      response = await limiter.limit(request.bucket, { rate: request.cost });
    } catch (error) {
      throw new AppError("upstream_unavailable", "The rate limiter is unavailable.", { cause: error });
    }
    // @upstash/ratelimit admits on its own timeout; we report it so the caller can choose per route.
    if (response.reason === "timeout") {
      throw new AppError("upstream_unavailable", "The rate limiter timed out.");
    }
    return {
      allowed: response.success,
      limit: response.limit,
      remaining: Math.max(0, response.remaining),
      resetMs: Math.max(0, response.reset - Date.now()),
    };
  }

  async ping(): Promise<void> {
    const answer = await this.redis.ping();
    if (answer !== "PONG") {
      throw new Error(`unexpected PING answer: ${String(answer)}`);
    }
  }

  private limiterFor(limit: number, windowMs: number): Ratelimit {
    const id = `${limit}/${windowMs}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      limiter = new Ratelimit({
        redis: this.redis,
        limiter: Ratelimit.slidingWindow(limit, `${windowMs} ms`),
        prefix: "edgerag:rl",
        analytics: false,
        ephemeralCache,
        timeout: this.options.timeoutMs,
      });
      this.limiters.set(id, limiter);
    }
    return limiter;
  }
}

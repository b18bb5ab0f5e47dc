import { Redis } from "@upstash/redis/cloudflare";
import type { EdgeCache } from "./interface";

export interface UpstashCacheOptions {
  url: string;
  token: string;
  /** Bound on one round trip; a slower Redis counts as a miss. */
  timeoutMs: number;
}

/** Keys live under one prefix, so the cache can share a Redis with the rate limiter. */
const PREFIX = "edgerag:cache:";

/**
 * Upstash Redis over its REST protocol: one global store shared by every data centre, so an
 * answer computed in one colo is a hit in all of them. `SET … EX` gives the TTL.
 */
export class UpstashCache implements EdgeCache {
  readonly name = "upstash";
  private readonly redis: Redis;

  constructor(options: UpstashCacheOptions) {
    this.redis = new Redis({
      url: options.url,
      token: options.token,
      enableTelemetry: false,
      // A cache is worth one attempt: a retry would cost more than recomputing.
      retry: { retries: 0 },
      signal: () => AbortSignal.timeout(options.timeoutMs),
    });
  }

  async get<T>(key: string): Promise<T | undefined> {
    return (await this.redis.get<T>(PREFIX + key)) ?? undefined;
  }

  async put(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.redis.set(PREFIX + key, value, { ex: ttlSeconds });
  }

  async ping(): Promise<void> {
    const answer = await this.redis.ping();
    if (answer !== "PONG") {
      throw new Error(`unexpected PING answer: ${String(answer)}`);
    }
  }
}

/**
 * Two levels: the data centre's Cache API first (no network hop), then Redis (global). A Redis
 * hit is copied into the local level; writes go to both. A failing level is a miss, never an
 * error, so a Redis outage only costs recomputation.
 */
export class TieredCache implements EdgeCache {
  readonly name: string;

  constructor(
    private readonly near: EdgeCache,
    private readonly far: EdgeCache,
  ) {
    this.name = `${near.name}+${far.name}`;
  }

  async get<T>(key: string): Promise<T | undefined> {
    const local = await this.near.get<T>(key).catch(() => undefined);
    if (local !== undefined) {
      return local;
    }
    const global = await this.far.get<T>(key);
    if (global !== undefined) {
      // Local TTL is short: the far level holds the authoritative expiry.
      await this.near.put(key, global, BACKFILL_TTL_S).catch(() => undefined);
    }
    return global;
  }

  async put(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await Promise.all([this.near.put(key, value, ttlSeconds), this.far.put(key, value, ttlSeconds)]);
  }

  async ping(): Promise<void> {
    await this.far.ping?.();
  }
}

/** How long a value copied from Redis stays in the local level. */
const BACKFILL_TTL_S = 60;

import { DurableObject } from "cloudflare:workers";
import type { RateLimitResult } from "../adapters/rate-limit/interface";

interface Hit {
  expires: number;
  cost: number;
}

/**
 * Exact sliding-window-log limiter, one object per bucket: every decision for a bucket is made by
 * one single-threaded instance, so it is strongly consistent. `limit()` is synchronous — nothing
 * can interleave between reading the log and appending to it — so concurrent calls can never both
 * take the last unit. Hits go to SQLite storage in the same turn; the output gate holds the reply
 * until they are durable, so an eviction never forgets what was admitted.
 */
export class RateLimiter extends DurableObject<Env> {
  /** Live hits are `hits[head..]`; the prefix is dropped in bulk so pruning stays O(1) amortised. */
  private hits: Hit[] = [];
  private head = 0;
  private used = 0;
  private alarmAt: number | undefined;
  private lastPurge = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS hits (expires INTEGER NOT NULL, cost INTEGER NOT NULL)");
    const now = Date.now();
    for (const row of sql.exec<{ expires: number; cost: number }>(
      "SELECT expires, cost FROM hits WHERE expires > ? ORDER BY rowid",
      now,
    )) {
      this.hits.push({ expires: row.expires, cost: row.cost });
      this.used += row.cost;
    }
  }

  /** Admits `cost` units if the hits of the last `windowMs` leave room for them. */
  limit(cost: number, limit: number, windowMs: number): RateLimitResult {
    const now = Date.now();
    this.prune(now);
    if (this.used + cost <= limit) {
      const expires = now + windowMs;
      this.hits.push({ expires, cost });
      this.used += cost;
      this.ctx.storage.sql.exec("INSERT INTO hits (expires, cost) VALUES (?, ?)", expires, cost);
      this.scheduleCleanup(expires);
      return { allowed: true, limit, remaining: limit - this.used, resetMs: windowMs };
    }
    return {
      allowed: false,
      limit,
      remaining: Math.max(0, limit - this.used),
      resetMs: this.waitFor(cost, limit, windowMs, now),
    };
  }

  ping(): string {
    return "pong";
  }

  /** Empties the log of a bucket that went quiet. */
  override alarm(): void {
    this.alarmAt = undefined;
    this.prune(Date.now());
    const last = this.head < this.hits.length ? this.hits.at(-1) : undefined;
    if (last) {
      this.scheduleCleanup(last.expires);
    } else {
      this.hits = [];
      this.head = 0;
      this.ctx.storage.sql.exec("DELETE FROM hits");
    }
  }

  /**
   * Drops expired hits from the front of the log. Hits are in arrival order; if a bucket's window
   * changes (a new tier), a short-lived hit behind a long-lived one leaves with it: stricter, never looser.
   */
  private prune(now: number): void {
    const start = this.head;
    while (this.head < this.hits.length) {
      const hit = this.hits[this.head];
      if (!hit || hit.expires > now) {
        break;
      }
      this.used -= hit.cost;
      this.head++;
    }
    if (this.head === start) {
      return;
    }
    if (this.head > 1_024 && this.head * 2 > this.hits.length) {
      this.hits = this.hits.slice(this.head);
      this.head = 0;
    }
    // Expired rows are harmless (loading skips them), so storage is purged at most once a second
    // instead of on every call under load.
    if (now - this.lastPurge >= 1_000) {
      this.lastPurge = now;
      this.ctx.storage.sql.exec("DELETE FROM hits WHERE expires <= ?", now);
    }
  }

  /** Milliseconds until enough hits expire for `cost` more units to fit. */
  private waitFor(cost: number, limit: number, windowMs: number, now: number): number {
    if (cost > limit) {
      return windowMs;
    }
    let freed = 0;
    for (let i = this.head; i < this.hits.length; i++) {
      const hit = this.hits[i];
      if (!hit) {
        break;
      }
      freed += hit.cost;
      if (this.used - freed + cost <= limit) {
        return Math.max(1, hit.expires - now);
      }
    }
    return windowMs;
  }

  private scheduleCleanup(expires: number): void {
    if (this.alarmAt === undefined) {
      this.alarmAt = expires + 1_000;
      // Storage writes in a Durable Object are ordered and covered by the output gate.
      void this.ctx.storage.setAlarm(this.alarmAt);
    }
  }
}

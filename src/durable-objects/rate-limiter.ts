import { DurableObject } from "cloudflare:workers";
import type { RateLimitResult } from "../adapters/rate-limit/interface";

interface Hit {
  /** Row id in storage (AUTOINCREMENT: never reused, so a late give-back cannot hit a newer row). */
  id: number;
  expires: number;
  cost: number;
  /** Units of `cost` leased to an isolate and not yet settled (memory only: after a restart none are). */
  leased: number;
}

/** What an isolate asks for besides its own request: a lease, and the end of its previous one. */
export interface LeaseTerms {
  /** Units the isolate would like to hold (its recent rate over `leaseMs`); 0 for none. */
  want: number;
  leaseMs: number;
  /** Settles an earlier lease: `units` of it went unused and come back (0 if all were used). */
  giveBack?: { id: number; units: number } | undefined;
}

export interface LimitVerdict extends RateLimitResult {
  /** Units granted to the isolate on top of `cost`, recorded in the log under hit `id`. */
  lease?: { id: number; units: number };
}

/** A lease never takes more than this share of what is left, nor leaves less than `MIN_HEADROOM`. */
const LEASE_SHARE = 4;
const MIN_HEADROOM = 64;
const MAX_LEASE = 100;
/**
 * Unsettled leases together hold at most this share of the limit. Units of a lease that an isolate
 * never settles (it went away) are lost for one window, and a request can be refused while another
 * isolate still holds units: this bounds both, so the limiter admits at least 98 % of the limit.
 */
const LEASED_SHARE_OF_LIMIT = 0.02;

/**
 * Exact sliding-window-log limiter, one object per bucket: every decision for a bucket is made by
 * one single-threaded instance, so it is strongly consistent. `limit()` is synchronous — nothing
 * can interleave between reading the log and appending to it — so concurrent calls can never both
 * take the last unit. Hits go to SQLite storage in the same turn; the output gate holds the reply
 * until they are durable, so an eviction never forgets what was admitted.
 *
 * Storage is an append-only log with AUTOINCREMENT ids; expired rows are deleted lazily (at most
 * once a second, and by the alarm), so they may linger after a restart without ever colliding with
 * a new row.
 */
export class RateLimiter extends DurableObject<Env> {
  /** Live hits are `hits[head..]`; the prefix is dropped in bulk so pruning stays O(1) amortised. */
  private hits: Hit[] = [];
  private head = 0;
  private used = 0;
  /** Sum of `leased` over live hits. */
  private leasedOut = 0;
  private alarmAt: number | undefined;
  private lastPurge = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(
      "CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY AUTOINCREMENT, expires INTEGER NOT NULL, cost INTEGER NOT NULL)",
    );
    const now = Date.now();
    // Objects written before the log existed kept their hits in `hits` (plain rowids, reused after deletes).
    if (sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'hits'").toArray().length > 0) {
      sql.exec("INSERT INTO log (expires, cost) SELECT expires, cost FROM hits WHERE expires > ? ORDER BY rowid", now);
      sql.exec("DROP TABLE hits");
    }
    for (const row of sql.exec<{ id: number; expires: number; cost: number }>(
      "SELECT id, expires, cost FROM log WHERE expires > ? ORDER BY id",
      now,
    )) {
      this.hits.push({ id: row.id, expires: row.expires, cost: row.cost, leased: 0 });
      this.used += row.cost;
    }
  }

  /**
   * Admits `cost` units if the hits of the last `windowMs` leave room for them. With `terms`, a busy
   * isolate may also take a lease: extra units it hands out itself for `leaseMs`, so that most of
   * its requests need no round trip. Leased units are logged like admitted ones (so the limit still
   * holds exactly) and stay in the log for `leaseMs` longer (so a unit used late still counts for a
   * whole window); units the isolate did not use come back through `giveBack`.
   */
  limit(cost: number, limit: number, windowMs: number, terms?: LeaseTerms): LimitVerdict {
    const now = Date.now();
    this.prune(now);
    if (terms?.giveBack) {
      this.settle(terms.giveBack.id, terms.giveBack.units);
    }
    if (this.used + cost <= limit) {
      const units = terms ? this.leaseSize(terms.want, limit - this.used - cost, limit) : 0;
      const expires = now + windowMs + (units > 0 && terms ? terms.leaseMs : 0);
      const { id } = this.ctx.storage.sql
        .exec<{ id: number }>("INSERT INTO log (expires, cost) VALUES (?, ?) RETURNING id", expires, cost + units)
        .one();
      this.hits.push({ id, expires, cost: cost + units, leased: units });
      this.used += cost + units;
      this.leasedOut += units;
      this.scheduleCleanup(expires);
      const verdict: LimitVerdict = { allowed: true, limit, remaining: limit - this.used, resetMs: windowMs };
      if (units > 0) {
        verdict.lease = { id, units };
      }
      return verdict;
    }
    let resetMs = this.waitFor(cost, limit, windowMs, now);
    // Units still out on leases may come back within a lease period: a refusal then is not a
    // reason for the caller to stay away for a whole window.
    if (this.leasedOut > 0 && terms) {
      resetMs = Math.min(resetMs, terms.leaseMs * 2);
    }
    return { allowed: false, limit, remaining: Math.max(0, limit - this.used), resetMs };
  }

  /** Units to lease: what the isolate wants, within every share that keeps the limit honest. */
  private leaseSize(want: number, left: number, limit: number): number {
    if (want <= 0 || left < MIN_HEADROOM) {
      return 0;
    }
    // Half of what the leased share still allows, so that several busy isolates each get some.
    const share = Math.ceil((Math.floor(limit * LEASED_SHARE_OF_LIMIT) - this.leasedOut) / 2);
    return Math.max(0, Math.min(want, MAX_LEASE, Math.floor(left / LEASE_SHARE), share));
  }

  /** Settles a lease that an isolate could not use (another lease of its own arrived first). */
  release(id: number, units: number): void {
    this.prune(Date.now());
    this.settle(id, units);
  }

  /** Ends a lease: its unused `units` go back to the window (if its hit is still in it). */
  private settle(id: number, units: number): void {
    for (let i = this.hits.length - 1; i >= this.head; i--) {
      const hit = this.hits[i];
      if (!hit || hit.id < id) {
        return;
      }
      if (hit.id === id) {
        const back = Math.max(0, Math.min(units, hit.leased));
        this.leasedOut -= hit.leased;
        hit.leased = 0;
        if (back > 0) {
          hit.cost -= back;
          this.used -= back;
          this.ctx.storage.sql.exec("UPDATE log SET cost = ? WHERE id = ?", hit.cost, id);
        }
        return;
      }
    }
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
      this.leasedOut = 0;
      this.ctx.storage.sql.exec("DELETE FROM log");
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
      this.leasedOut -= hit.leased;
      this.head++;
    }
    if (this.head === start) {
      return;
    }
    if (this.head > 1_024 && this.head * 2 > this.hits.length) {
      this.hits = this.hits.slice(this.head);
      this.head = 0;
    }
    // Expired rows are harmless (loading skips them, and ids are never reused), so storage is
    // purged at most once a second instead of on every call under load.
    if (now - this.lastPurge >= 1_000) {
      this.lastPurge = now;
      this.ctx.storage.sql.exec("DELETE FROM log WHERE expires <= ?", now);
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

import type { RateLimiter as RateLimiterObject } from "../../durable-objects/rate-limiter";
import { AppError } from "../../errors";
import { Lru } from "../../lib/lru";
import type { RateLimiter, RateLimitRequest, RateLimitResult } from "./interface";

/** How long a lease lasts; it holds about this long's worth of the bucket's recent traffic. */
export const LEASE_MS = 250;

/** Below this many requests per lease period (16/s) a bucket is decided one request at a time. */
const MIN_LEASE = 4;

/** Units an isolate holds for a bucket, granted by its Durable Object. Plain data only. */
interface Lease {
  id: number;
  units: number;
  expires: number;
  limit: number;
  windowMs: number;
  /** The object's `remaining` when it granted the lease (the lease itself already subtracted). */
  remaining: number;
  resetAt: number;
}

/** This isolate's traffic per bucket since its last round trip, to size the next lease. */
interface Traffic {
  /** Requests after the round trip at `since`. */
  count: number;
  since: number;
  want: number;
  /** A round trip asking for a lease is under way (requests must not wait on each other). */
  asking: number;
}

/**
 * The default limiter: one `RateLimiter` Durable Object per bucket (exact, strongly consistent).
 *
 * A bucket that one isolate sees many times a second gets a lease: the object logs extra units as
 * used and the isolate hands them out itself, so a busy key costs about four round trips a second
 * per isolate instead of one per request. The limit still holds exactly — every admitted unit is in
 * the object's log — and a quiet or nearly exhausted bucket gets no lease at all, so its requests
 * are decided one by one as before. Units not used before the lease ends are given back with the
 * next round trip; what an isolate that goes away still held stays used for one window at most, and
 * all unsettled leases of a bucket together hold at most 2 % of its limit (the object enforces it).
 */
export class DurableObjectRateLimiter implements RateLimiter {
  readonly name = "durable-object";
  /**
   * Deriving an id hashes the bucket name, so ids are kept per isolate. (Stubs are not: a stub
   * belongs to the request that made it and cannot serve another.)
   */
  private readonly ids = new Lru<DurableObjectId>(10_000);
  private readonly leases = new Lru<Lease>(10_000);
  private readonly traffic = new Lru<Traffic>(10_000);

  constructor(private readonly namespace: DurableObjectNamespace<RateLimiterObject>) {}

  async limit(request: RateLimitRequest): Promise<RateLimitResult> {
    const now = Date.now();
    const { bucket, cost, limit, windowMs } = request;
    let traffic = this.traffic.get(bucket);
    if (traffic) {
      traffic.count++;
    } else {
      traffic = { count: 0, since: now, want: 0, asking: 0 };
      this.traffic.set(bucket, traffic, 60_000);
    }

    const lease = this.leases.get(bucket);
    if (lease && lease.expires > now && lease.limit === limit && lease.windowMs === windowMs && lease.units >= cost) {
      lease.units -= cost;
      return { allowed: true, limit, remaining: lease.remaining + lease.units, resetMs: lease.resetAt - now };
    }
    // The old lease (ended, used up or for another tier) is settled: its unused units go back, and
    // the object stops counting it against the share of the limit that leases may hold.
    const giveBack = lease ? { id: lease.id, units: lease.units } : undefined;
    this.leases.delete(bucket);

    // Size a lease from the traffic since the last round trip; one request at a time asks for one.
    const elapsed = now - traffic.since;
    if (elapsed >= 50) {
      traffic.want = Math.floor((traffic.count * LEASE_MS) / elapsed);
      traffic.count = 0;
      traffic.since = now;
    }
    const ask = traffic.want >= MIN_LEASE && now - traffic.asking > 1_000;
    if (ask) {
      traffic.asking = now;
    }
    try {
      const verdict = await this.stub(bucket).limit(cost, limit, windowMs, {
        want: ask ? traffic.want : 0,
        leaseMs: LEASE_MS,
        giveBack,
      });
      if (verdict.lease) {
        const current = this.leases.get(bucket);
        if (current) {
          // Another request's lease arrived first (a round trip slower than a second): keep that
          // one. This request was admitted either way; units that cannot go back stay used.
          await this.stub(bucket)
            .release(verdict.lease.id, verdict.lease.units)
            .catch(() => undefined);
        } else {
          this.leases.set(
            bucket,
            {
              id: verdict.lease.id,
              units: verdict.lease.units,
              expires: Date.now() + LEASE_MS,
              limit,
              windowMs,
              remaining: verdict.remaining,
              resetAt: Date.now() + verdict.resetMs,
            },
            // Kept past its end until the next round trip settles it: a lease that simply vanished
            // would keep its unused units counted as used for a whole window.
            windowMs + LEASE_MS,
          );
        }
      }
      const { lease: _granted, ...result } = verdict;
      return { ...result, remaining: result.remaining + (verdict.lease?.units ?? 0) };
    } catch (error) {
      throw new AppError("upstream_unavailable", "The rate limiter is unavailable.", { cause: error });
    } finally {
      if (ask) {
        traffic.asking = 0;
      }
    }
  }

  async ping(): Promise<void> {
    await this.stub("health").ping();
  }

  private stub(bucket: string): DurableObjectStub<RateLimiterObject> {
    let id = this.ids.get(bucket);
    if (!id) {
      id = this.namespace.idFromName(bucket);
      this.ids.set(bucket, id, 3_600_000);
    }
    return this.namespace.get(id);
  }
}

import type { RateLimiter as RateLimiterObject } from "../../durable-objects/rate-limiter";
import { AppError } from "../../errors";
import { Lru } from "../../lib/lru";
import type { RateLimiter, RateLimitRequest, RateLimitResult } from "./interface";

/** The default limiter: one `RateLimiter` Durable Object per bucket (exact, strongly consistent). */
export class DurableObjectRateLimiter implements RateLimiter {
  readonly name = "durable-object";
  /**
   * Deriving an id hashes the bucket name, so ids are kept per isolate. (Stubs are not: a stub
   * belongs to the request that made it and cannot serve another.)
   */
  private readonly ids = new Lru<DurableObjectId>(10_000);

  constructor(private readonly namespace: DurableObjectNamespace<RateLimiterObject>) {}

  async limit(request: RateLimitRequest): Promise<RateLimitResult> {
    try {
      return await this.stub(request.bucket).limit(request.cost, request.limit, request.windowMs);
    } catch (error) {
      throw new AppError("upstream_unavailable", "The rate limiter is unavailable.", { cause: error });
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

import { AppError } from "../../errors";
import type { RateLimiter, RateLimitRequest, RateLimitResult } from "./interface";

/** The default limiter: one `RateLimiter` Durable Object per bucket (exact, strongly consistent). */
export class DurableObjectRateLimiter implements RateLimiter {
  readonly name = "durable-object";

  constructor(
    private readonly namespace: DurableObjectNamespace<import("../../durable-objects/rate-limiter").RateLimiter>,
  ) {}

  async limit(request: RateLimitRequest): Promise<RateLimitResult> {
    const stub = this.namespace.get(this.namespace.idFromName(request.bucket));
    try {
      return await stub.limit(request.cost, request.limit, request.windowMs);
    } catch (error) {
      throw new AppError("upstream_unavailable", "The rate limiter is unavailable.", { cause: error });
    }
  }

  async ping(): Promise<void> {
    const stub = this.namespace.get(this.namespace.idFromName("health"));
    await stub.ping();
  }
}

/**
 * The global rate limiter. Implementations return a verdict for expected outcomes (allowed or
 * not) and throw `AppError('upstream_unavailable')` only when the backing store fails or times out;
 * the middleware then decides between failing open and failing closed.
 */
export interface RateLimitRequest {
  /** Who is limited: `key:<api key id>`, `ip:<address>` or `operator`. */
  bucket: string;
  /** Units admitted per window. */
  limit: number;
  windowMs: number;
  /** Units this request consumes (route cost), >= 1. */
  cost: number;
}

export interface RateLimitResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Milliseconds until the quota is whole again (allowed) or until this request would fit (denied). */
  resetMs: number;
}

export interface RateLimiter {
  /** Provider name shown by /health/detailed. */
  readonly name: string;
  limit(request: RateLimitRequest): Promise<RateLimitResult>;
  /** A round trip to the backing store, for readiness checks. */
  ping(): Promise<void>;
}

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { AppError } from "../errors";

/**
 * A half-configured deployment answers `503 misconfigured` naming each bad setting, on every
 * `/v1` route and before any work, instead of failing somewhere deeper (or not at all).
 */
export function configured(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const problems = c.var.config.problems;
    if (problems.length > 0) {
      const names = problems.map((p) => `${p.setting} (${p.message})`).join("; ");
      throw new AppError("misconfigured", `The service is misconfigured: ${names}.`);
    }
    await next();
  };
}

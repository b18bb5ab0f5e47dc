import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { AppError } from "../errors";

/** Whole-request deadline (REQUEST_TIMEOUT_MS): past it the client gets 504 `upstream_timeout`. */
export function deadline(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const ms = c.var.config.requestTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AppError("upstream_timeout", `The request did not complete within ${ms} ms.`)),
        ms,
      );
    });
    const work = next();
    // After a timeout nobody awaits `work` any more; its late failure must not surface as unhandled.
    work.catch(() => undefined);
    try {
      await Promise.race([work, expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}

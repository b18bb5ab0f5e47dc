import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { raceTimeout } from "../lib/async";

/** A request's deadline: aborted when it passes; `readingBody` says whose fault that was. */
export interface RequestDeadline {
  signal: AbortSignal;
  /** True while the body is still being received from the client. */
  readingBody: boolean;
  /** An answer decided before the body ended (a body over its limit, drained): the deadline's. */
  verdict?: AppError;
}

/**
 * Whole-request deadline (REQUEST_TIMEOUT_MS). Past it the client gets `408 request_timeout` if its
 * body had not fully arrived (RFC 9110 §15.5.9: the client was too slow), else `504 upstream_timeout`.
 */
export function deadline(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const ms = c.var.config.requestTimeoutMs;
    const controller = new AbortController();
    const state: RequestDeadline = { signal: controller.signal, readingBody: false };
    c.set("deadline", state);
    const work = next();
    // After a timeout nobody awaits `work` any more; its late failure must not surface as unhandled.
    work.catch(() => undefined);
    await raceTimeout(work, ms, () => {
      const error =
        state.verdict ??
        (state.readingBody
          ? new AppError("request_timeout", `The request body did not arrive within ${ms} ms.`)
          : new AppError("upstream_timeout", `The request did not complete within ${ms} ms.`));
      // What is still running (body reads, upstream calls) stops too.
      controller.abort(error);
      return error;
    });
  };
}

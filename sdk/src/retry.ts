/** How a client retries refused requests. */
export interface RetryOptions {
  /** Further attempts after the first (default 2; 0: never retry). */
  retries?: number;
  /** The longest wait it accepts from `Retry-After`, in ms (default 30,000); a longer one is returned. */
  maxDelayMs?: number;
}

const RETRIED_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

/** `Retry-After` in ms: seconds, or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(response: Response, now = Date.now()): number | undefined {
  const value = response.headers.get("retry-after");
  if (value === null || value.trim() === "") {
    return undefined;
  }
  if (/^\d+$/.test(value.trim())) {
    return Number(value) * 1000;
  }
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * `fetch` that waits out `Retry-After` and tries again: always on 429 (the request was refused
 * before any work, so repeating it is safe), on 503 only for methods that may be repeated. Without
 * `Retry-After` it backs off 0.5 s, 1 s, 2 s … A wait longer than `maxDelayMs`, a signal that
 * aborts, or the last attempt returns the response as it is.
 */
export function retryingFetch(
  inner: typeof fetch,
  { retries = 2, maxDelayMs = 30_000 }: RetryOptions = {},
  sleep: (ms: number, signal?: AbortSignal) => Promise<void> = delay,
): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    for (let attempt = 0; ; attempt++) {
      const response = await inner(attempt < retries ? request.clone() : request);
      const retriable =
        response.status === 429 || (response.status === 503 && RETRIED_METHODS.has(request.method.toUpperCase()));
      if (!retriable || attempt >= retries) {
        return response;
      }
      const wait = retryAfterMs(response) ?? 500 * 2 ** attempt;
      if (wait > maxDelayMs || request.signal.aborted) {
        return response;
      }
      await response.body?.cancel().catch(() => undefined);
      await sleep(wait, request.signal);
    }
  };
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

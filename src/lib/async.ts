/** Small promise helpers shared by adapters and services. */

/** Runs `work` on slices of at most `size` items, in order, and concatenates the results. */
export async function inBatches<T, R>(items: T[], size: number, work: (slice: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(...(await work(items.slice(i, i + size))));
  }
  return out;
}

/**
 * `promise`, or the error `onTimeout()` makes once `ms` have passed, whichever comes first; the
 * timer never outlives the race. (The promise itself keeps running: pass it an AbortSignal to stop it.)
 */
export async function raceTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Milliseconds rounded to a tenth, as timings are reported. */
export const roundMs = (value: number) => Math.round(value * 10) / 10;

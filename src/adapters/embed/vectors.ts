import { AppError } from "../../errors";

/**
 * Checks a provider's vector and returns it L2-normalised as a Float32Array, so that a dot
 * product is the cosine similarity whatever the provider returns.
 */
export function toUnitVector(values: unknown, dimensions: number, provider: string): Float32Array {
  if (!Array.isArray(values) || values.length !== dimensions) {
    const got = Array.isArray(values) ? `${values.length} dimensions` : typeof values;
    throw new AppError("upstream_unavailable", `${provider} returned ${got}, expected ${dimensions} dimensions.`);
  }
  const out = new Float32Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    const value = values[i];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new AppError("upstream_unavailable", `${provider} returned a vector with a non-numeric value.`);
    }
    out[i] = value;
    norm += value * value;
  }
  if (norm > 0) {
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < dimensions; i++) {
      out[i] = (out[i] ?? 0) * scale;
    }
  }
  return out;
}

/** Runs `work` on slices of at most `size` items, in order, and concatenates the results. */
export async function inBatches<T, R>(items: T[], size: number, work: (slice: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(...(await work(items.slice(i, i + size))));
  }
  return out;
}

/** Rejects with `upstream_timeout` when `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, provider: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new AppError("upstream_timeout", `${provider} did not answer within ${ms} ms.`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

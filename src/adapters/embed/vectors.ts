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

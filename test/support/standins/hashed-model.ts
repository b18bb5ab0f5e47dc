/**
 * The "model" behind the embedding stand-ins: a deterministic bag of lower-cased words hashed
 * into `dimensions` buckets, so texts sharing words get similar vectors. Plain TypeScript: the
 * stand-ins run both in Node (HTTP servers) and in workerd (binding stand-ins).
 * Deliberately not normalised: real providers do not promise unit vectors either.
 */
export function hashedEmbedding(text: string, dimensions: number): number[] {
  const out = new Array<number>(dimensions).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let hash = 0x811c9dc5;
    for (let i = 0; i < word.length; i++) {
      hash ^= word.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    hash >>>= 0;
    const index = hash % dimensions;
    out[index] = (out[index] ?? 0) + (hash & 0x100 ? -3 : 3);
  }
  return out;
}

/** Cosine similarity of two plain vectors (0 when either is all zeros). */
export function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] ?? 0) * (b[i] ?? 0);
    na += (a[i] ?? 0) ** 2;
    nb += (b[i] ?? 0) ** 2;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

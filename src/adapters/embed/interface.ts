/**
 * Turns text into vectors. `kind` matters for models that embed queries and passages
 * differently (bge's query instruction, say). Vectors are L2-normalised, so a dot product is the
 * cosine similarity. A collection records the model id and dimensions of its vectors and never
 * mixes models.
 */
export type EmbedKind = "query" | "document";

export interface Embedder {
  /** Provider and model, e.g. `local/hash-v1` or `workers-ai/@cf/baai/bge-small-en-v1.5`. */
  readonly model: string;
  readonly dimensions: number;
  /**
   * Weight of this embedder's ranking in hybrid fusion (keyword = 1), unless SEARCH_VECTOR_WEIGHT
   * overrides it: a semantic model earns 1; a lexical one mostly repeats what BM25 already found.
   */
  readonly fusionWeight: number;
  /** Whether a call leaves the isolate (worth caching query vectors in the shared cache). */
  readonly remote: boolean;
  /**
   * One vector per text, in order. `tenantId` lets a provider use the tenant's own credentials.
   * Failures are AppErrors: `upstream_timeout`, `upstream_unavailable` or `misconfigured`.
   */
  embed(texts: string[], kind: EmbedKind, options?: EmbedOptions): Promise<Float32Array[]>;
}

export interface EmbedOptions {
  tenantId?: string;
}

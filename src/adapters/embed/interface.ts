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
  embed(texts: string[], kind: EmbedKind): Promise<Float32Array[]>;
}

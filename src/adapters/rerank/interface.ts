/**
 * Re-scores retrieved chunks against the query (a second, more careful look at a short list).
 * Returns one score per candidate, in order; higher is better. Scores are only comparable
 * within one call.
 */
export interface RerankCandidate {
  title: string;
  heading: string | null;
  text: string;
}

export interface Reranker {
  /** Shown in responses and /health/detailed, e.g. `local/cross-features-v1`. */
  readonly name: string;
  rerank(query: string, candidates: RerankCandidate[], options?: { signal?: AbortSignal }): Promise<number[]>;
}

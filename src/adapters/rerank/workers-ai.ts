import { AppError } from "../../errors";
import { type AiBinding, runModel } from "../embed/workers-ai";
import type { RerankCandidate, Reranker } from "./interface";

/**
 * Workers AI cross-encoder reranking (`@cf/baai/bge-reranker-base`): `{query, contexts:[{text}]}`
 * → `{response:[{id, score}]}`, `id` being the index of the context. Candidates it leaves out
 * score below every scored one, in their original order.
 */
export class WorkersAiReranker implements Reranker {
  readonly name: string;

  constructor(
    private readonly ai: AiBinding,
    private readonly model: string,
    private readonly timeoutMs: number,
  ) {
    this.name = `workers-ai/${model}`;
  }

  async rerank(query: string, candidates: RerankCandidate[]): Promise<number[]> {
    const output = await runModel(
      this.ai,
      this.model,
      { query, contexts: candidates.map((c) => ({ text: [c.title, c.heading, c.text].filter(Boolean).join("\n") })) },
      this.timeoutMs,
    );
    const scored = (output as { response?: Array<{ id?: unknown; score?: unknown }> } | null)?.response;
    if (!Array.isArray(scored)) {
      throw new AppError("upstream_unavailable", "Workers AI returned no rerank scores.");
    }
    const scores = candidates.map((_, i) => -1_000 - i);
    for (const item of scored) {
      if (
        typeof item.id === "number" &&
        typeof item.score === "number" &&
        item.id >= 0 &&
        item.id < candidates.length
      ) {
        scores[item.id] = item.score;
      }
    }
    return scores;
  }
}

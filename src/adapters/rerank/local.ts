import { DEFAULT_RERANK_WEIGHTS, type RerankWeights } from "../../config";
import { queryStems, wordStems } from "../../lib/terms";
import type { RerankCandidate, Reranker } from "./interface";

/**
 * The default reranker: a cross-feature scorer that reads query and chunk together, which the
 * first-stage retrievers cannot. Per candidate, with query terms weighted by their rarity in the
 * candidate list (so "protein" outweighs "increase" when every candidate says "increase"):
 * coverage (share of the query's weight the chunk contains), title coverage, proximity (query
 * terms close together), and the first-stage rank as a prior. Deterministic, no model weights.
 */
export class LocalReranker implements Reranker {
  readonly name = "local/cross-features-v1";

  constructor(private readonly weights: RerankWeights = DEFAULT_RERANK_WEIGHTS) {}

  async rerank(query: string, candidates: RerankCandidate[]): Promise<number[]> {
    const stems = queryStems(query);
    if (stems.length === 0 || candidates.length === 0) {
      return candidates.map((_, i) => -i);
    }
    const docs = candidates.map((c) => {
      const body = tokens(`${c.heading ?? ""} ${c.text}`);
      return { body, bodySet: new Set(body), title: new Set(tokens(c.title)) };
    });
    // Rarity within the candidates: idf = ln(1 + N / df).
    const weight = new Map<string, number>();
    for (const stem of stems) {
      const df = docs.filter((d) => d.title.has(stem) || d.bodySet.has(stem)).length;
      weight.set(stem, Math.log(1 + docs.length / Math.max(1, df)));
    }
    const total = [...weight.values()].reduce((a, b) => a + b, 0);
    const w = this.weights;
    return docs.map((doc, i) => {
      const present = new Set(stems.filter((t) => doc.bodySet.has(t)));
      const coverage = sumOf(present, weight) / total;
      const titleCoverage = sumOf(new Set(stems.filter((s) => doc.title.has(s))), weight) / total;
      const prior = 1 / (1 + i / 10);
      return (
        w.coverage * coverage + w.title * titleCoverage + w.proximity * proximity(doc.body, weight) + w.prior * prior
      );
    });
  }
}

function tokens(text: string): readonly string[] {
  return wordStems(text);
}

function sumOf(stems: Set<string>, weight: Map<string, number>): number {
  let sum = 0;
  for (const s of stems) {
    sum += weight.get(s) ?? 0;
  }
  return sum;
}

/**
 * Weighted share of neighbouring query-term occurrences (distinct terms) at most 3 tokens apart:
 * phrases and tight mentions score high, terms scattered over a chunk low. In [0, 1].
 */
function proximity(body: readonly string[], weight: Map<string, number>): number {
  let last: { stem: string; at: number } | undefined;
  let close = 0;
  let pairs = 0;
  for (let at = 0; at < body.length; at++) {
    const stem = body[at] ?? "";
    if (!weight.has(stem)) {
      continue;
    }
    if (last && last.stem !== stem) {
      pairs += 1;
      if (at - last.at <= 3) {
        close += Math.min(weight.get(stem) ?? 0, weight.get(last.stem) ?? 0);
      }
    }
    last = { stem, at };
  }
  const maxWeight = Math.max(...weight.values());
  return pairs === 0 ? 0 : Math.min(1, close / (pairs * maxWeight));
}

import { sentences } from "../../lib/sentences";
import { porter, queryStems, STOP_WORDS } from "../../lib/terms";
import type { GenerateOptions, GenerateRequest, Generator } from "./interface";

/** Characters per token, for turning the token budget into a length budget. */
const CHARS_PER_TOKEN = 4;

/**
 * The default generator: no model, no invention. It selects the sentences of the sources that
 * answer the query best (weighted query-term coverage, with the source's rank as a prior and
 * near-duplicates skipped), keeps them in source order, and follows each with its citation
 * marker `[n]`, within the length budget. Deterministic; reported as `generator: "extractive"`.
 */
export class ExtractiveGenerator implements Generator {
  readonly name = "extractive";

  async *generate(request: GenerateRequest, options: GenerateOptions = {}): AsyncIterable<string> {
    const budget = request.maxTokens * CHARS_PER_TOKEN;
    const stems = queryStems(request.query);
    const candidates = request.sources.flatMap((source, rank) =>
      sentences(source.text).map((text, position) => ({
        text,
        position,
        rank,
        n: source.n,
        stems: contentStems(text),
      })),
    );
    // Query-term weight by rarity among the candidate sentences.
    const weight = new Map<string, number>();
    for (const stem of stems) {
      const df = candidates.filter((c) => c.stems.has(stem)).length;
      if (df > 0) {
        weight.set(stem, Math.log(1 + candidates.length / df));
      }
    }
    const total = [...weight.values()].reduce((a, b) => a + b, 0) || 1;
    const scored = candidates
      .map((c) => {
        let covered = 0;
        for (const [stem, w] of weight) {
          if (c.stems.has(stem)) {
            covered += w;
          }
        }
        const lengthFit = c.text.length < 30 ? 0.5 : c.text.length > 400 ? 0.7 : 1;
        return { ...c, score: (covered / total) * lengthFit + 0.15 / (1 + c.rank) };
      })
      .filter((c) => c.score > 0.15 / (1 + c.rank)) // says something about the query
      .sort((a, b) => b.score - a.score);

    const chosen: typeof scored = [];
    let length = 0;
    for (const c of scored) {
      if (length + c.text.length > budget && chosen.length > 0) {
        continue;
      }
      if (chosen.some((other) => jaccard(other.stems, c.stems) > 0.7)) {
        continue;
      }
      chosen.push(c);
      length += c.text.length + 5;
      if (length >= budget) {
        break;
      }
    }
    chosen.sort((a, b) => a.rank - b.rank || a.position - b.position);
    for (const [i, c] of chosen.entries()) {
      if (options.signal?.aborted) {
        return;
      }
      yield `${i > 0 ? " " : ""}${c.text} [${c.n}]`;
    }
  }
}

function contentStems(text: string): Set<string> {
  const out = new Set<string>();
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    if (!STOP_WORDS.has(word)) {
      out.add(porter(word));
    }
  }
  return out;
}

function jaccard(a: Set<string>, b: Set<string>): number {
  let shared = 0;
  for (const x of a) {
    if (b.has(x)) {
      shared++;
    }
  }
  return shared / Math.max(1, a.size + b.size - shared);
}

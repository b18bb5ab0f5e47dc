import {
  type AnswerKind,
  answerKind,
  coverage,
  hasKind,
  type QueryWeights,
  queryWeights,
  stemSet,
} from "../../lib/evidence";
import { sentences } from "../../lib/sentences";
import { porter, STOP_WORDS, wordStems } from "../../lib/terms";
import type { GenerateOptions, GenerateRequest, Generator } from "./interface";

/** Words beyond which a sentence starts to cost: an answer is read, not skimmed. */
const LONG_SENTENCE_WORDS = 40;

/**
 * The default generator: no model, no invention. It says the fewest sentences of the sources that
 * answer the question: each sentence is scored by the share of the question's weight it holds
 * (idf from the collection's statistics), alone and with the sentence before it (whose subject
 * "It was commissioned by …" continues), the share of the question's word pairs it keeps close
 * together, the share its passage holds, whether it holds the kind of value the question asks for
 * (a date, a number, a name), the source's rank and its length. The best sentence comes first;
 * another follows, up to the mode's `maxSentences`, only while it scores at least `followRatio` of
 * the best and is not a near-duplicate.
 * Each sentence is followed by its source's marker `[n]`. Deterministic; `generator: "extractive"`.
 */
export class ExtractiveGenerator implements Generator {
  readonly name = "extractive";

  async *generate(request: GenerateRequest, options: GenerateOptions = {}): AsyncIterable<string> {
    for (const [i, c] of selectSentences(request).entries()) {
      if (options.signal?.aborted) {
        return;
      }
      yield `${i > 0 ? " " : ""}${c.text} [${c.n}]`;
    }
  }
}

export interface ScoredSentence {
  text: string;
  n: number;
  rank: number;
  position: number;
  stems: Set<string>;
  coverage: number;
  score: number;
}

/** A following sentence must score at least this share of the best one (unless the request says). */
export const FOLLOW_RATIO = 0.75;

/** The sentences an extractive answer says, best first. */
export function selectSentences(request: GenerateRequest): ScoredSentence[] {
  const query = request.focus
    ? withCarried(queryWeights(request.focus, request.stats), queryWeights(request.query, request.stats))
    : queryWeights(request.query, request.stats);
  const kind = answerKind(request.query);
  const split = request.sources.map((source) => sentences(source.text));
  const scored = request.sources
    .flatMap((source, rank) => {
      const passage = coverage(stemSet(`${source.title} ${source.text}`), query);
      const stemmed = (split[rank] ?? []).map((text) => ({ text, sequence: contentStems(text) }));
      return stemmed.map((sentence, position) =>
        scoreSentence(
          { ...sentence, n: source.n, rank, position },
          stemmed[position - 1]?.sequence,
          passage,
          query,
          kind,
          request.query,
        ),
      );
    })
    .filter((c) => c.coverage > 0)
    .sort((a, b) => b.score - a.score || a.rank - b.rank || a.position - b.position);
  const best = scored[0];
  if (!best) {
    return [];
  }
  const chosen = [best];
  const limit = Math.max(1, request.maxSentences ?? 3);
  const follow = request.followRatio ?? FOLLOW_RATIO;
  const budget = request.maxTokens * 4;
  let length = best.text.length;
  for (const c of scored.slice(1)) {
    if (chosen.length >= limit || c.score < follow * best.score) {
      break;
    }
    if (length + c.text.length > budget || chosen.some((other) => jaccard(other.stems, c.stems) > 0.6)) {
      continue;
    }
    chosen.push(c);
    length += c.text.length;
  }
  return chosen;
}

function scoreSentence(
  c: { text: string; sequence: string[]; n: number; rank: number; position: number },
  previous: string[] | undefined,
  passage: number,
  query: QueryWeights,
  kind: AnswerKind,
  question: string,
): ScoredSentence {
  const stems = new Set(c.sequence);
  const own = coverage(stems, query);
  const words = c.text.split(/\s+/).length;
  const long = words > LONG_SENTENCE_WORDS ? (words - LONG_SENTENCE_WORDS) / LONG_SENTENCE_WORDS : 0;
  const fragment = words < 4 ? 0.15 : 0;
  // The sentence with the one before it: "It was commissioned by Odo" follows the tapestry's name.
  const window = previous ? coverage(new Set([...c.sequence, ...previous]), query) : own;
  const score =
    0.3 * own +
    0.3 * window +
    0.3 * phraseShare(c.sequence, query.pairs) +
    0.1 * passage +
    0.1 / (1 + c.rank) +
    (hasKind(c.text, kind, question) ? 0.15 : 0) -
    0.1 * Math.min(1, long) -
    fragment;
  return { text: c.text, n: c.n, rank: c.rank, position: c.position, stems, coverage: own, score };
}

/** Weight a follow-up's carried words (in the rewrite, not in the follow-up) count for. */
const CARRIED_WEIGHT = 0.5;

/** The follow-up's own weights, and the words only its rewrite has at CARRIED_WEIGHT. */
function withCarried(own: QueryWeights, rewritten: QueryWeights): QueryWeights {
  const weights = new Map(own.weights);
  let total = own.total;
  for (const [stem, w] of rewritten.weights) {
    if (!weights.has(stem)) {
      weights.set(stem, w * CARRIED_WEIGHT);
      total += w * CARRIED_WEIGHT;
    }
  }
  return { weights, total, pairs: own.pairs };
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

/** A sentence's content tokens (stop words out), stemmed, in order. */
function contentStems(text: string): string[] {
  return wordStems(text).filter((t) => !STOP_STEMS.has(t));
}

const STOP_STEMS = new Set([...STOP_WORDS].map(porter));

/** Share of the question's neighbouring word pairs that stand within three words of each other in the sentence. */
function phraseShare(sequence: string[], pairs: Array<[string, string]>): number {
  if (pairs.length === 0) {
    return 0;
  }
  const at = new Map<string, number[]>();
  sequence.forEach((stem, i) => {
    const seen = at.get(stem);
    if (seen) {
      seen.push(i);
    } else {
      at.set(stem, [i]);
    }
  });
  let found = 0;
  for (const [a, b] of pairs) {
    const as = at.get(a);
    const bs = at.get(b);
    if (as && bs && as.some((i) => bs.some((j) => Math.abs(i - j) <= 3))) {
      found++;
    }
  }
  return found / pairs.length;
}

/**
 * How well a text answers a question, from its words alone: the weights of the question's terms
 * (BM25's idf from the collection's own statistics, so a word the collection never uses weighs
 * most), the share of that weight a sentence or passage holds, and the kind of answer the question
 * asks for (a date, a number). Shared by the extractive generator (which sentences to say) and the
 * answer pipeline (whether the evidence answers at all). Pure and deterministic.
 */
import { sentences } from "./sentences";
import { porter, queryWords, wordStems } from "./terms";

/** A collection's statistics for a query's terms: its chunk count and each term's chunk frequency. */
export interface TermStats {
  chunks: number;
  /** Chunks containing each term (by the term as asked), 0 when none does. */
  df: Record<string, number>;
}

/** Query stems with their weights. */
export interface QueryWeights {
  weights: Map<string, number>;
  total: number;
  /** Neighbouring content words of the question (leading stems), in order: its phrases. */
  pairs: Array<[string, string]>;
}

/**
 * The query's words with their weights, each keyed by its leading stem (an English word's stem; a
 * Korean word's first bigram, where its stem starts — the particles after it say little):
 * idf = ln(1 + (N − df + 0.5) / (df + 0.5)) over the collection, so a word it never uses weighs
 * most. Without statistics every word weighs 1.
 */
export function queryWeights(query: string, stats?: TermStats): QueryWeights {
  const weights = new Map<string, number>();
  const pairs: Array<[string, string]> = [];
  let previous: string | undefined;
  for (const word of queryWords(query)) {
    const lead = word[0] as string;
    const w = stats ? idf(stats.chunks, stats.df[lead] ?? 0) : 1;
    const stem = porter(lead);
    weights.set(stem, Math.max(weights.get(stem) ?? 0, w));
    if (previous !== undefined && previous !== stem) {
      pairs.push([previous, stem]);
    }
    previous = stem;
  }
  let total = 0;
  for (const w of weights.values()) {
    total += w;
  }
  return { weights, total, pairs };
}

function idf(n: number, df: number): number {
  return Math.log(1 + (Math.max(n, df) - df + 0.5) / (df + 0.5));
}

/** The distinct stems of a text (words and CJK bigrams). */
export function stemSet(text: string): Set<string> {
  return new Set(wordStems(text));
}

/** Share of the query's weight whose stems `present` holds, in [0, 1]. */
export function coverage(present: Set<string>, query: QueryWeights): number {
  if (query.total === 0) {
    return 0;
  }
  let held = 0;
  for (const [stem, w] of query.weights) {
    if (present.has(stem)) {
      held += w;
    }
  }
  return held / query.total;
}

/** What a question asks for, when its form says so. */
export type AnswerKind = "date" | "number" | "entity" | "other";

const DATE_QUESTION =
  /\b(when|what (?:year|date|decade|century|day|month|time)|which (?:year|date|decade|century|day|month)|how long ago)\b|언제|몇\s?(?:년|월|일|세기)|연도|년도|날짜|시기|날은|해는/iu;
const NUMBER_QUESTION =
  /\b(how (?:many|much|long|far|old|large|big|tall|high|often)|what (?:percentage|percent|number|amount|proportion|fraction)|how (?:few))\b|몇|며칠|얼마/iu;

/** A person or place, named: "who", "whom", "whose", "where", "what/which city, country, …". */
const ENTITY_QUESTION =
  /\b(who|whom|whose|where|(?:what|which) (?:city|country|countries|person|people|king|queen|place|region|name|company|organization|team|group|family))\b/iu;

export function answerKind(query: string): AnswerKind {
  if (DATE_QUESTION.test(query)) {
    return "date";
  }
  if (NUMBER_QUESTION.test(query)) {
    return "number";
  }
  return ENTITY_QUESTION.test(query) ? "entity" : "other";
}

const MONTHS =
  /\b(?:january|february|march|april|may|june|july|august|september|october|november|december|century|centuries|decade)\b/iu;
const DATE_TEXT =
  /\b1\d{3}s?\b|\b20\d{2}s?\b|\b(?:in|by|since|until|from|before|after|of) \d{3,4}\b|\d+\s?(?:년|월|일|세기)|\d+(?:st|nd|rd|th)\b/iu;
const NUMBER_TEXT =
  /\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|half|several)\b|[일이삼사오육칠팔구십백천만억]+\s?(?:명|개|년|회|번|권|곳|종|차례)/iu;

/** Whether a sentence holds the kind of value the question asks for, beyond what the question says. */
export function hasKind(sentence: string, kind: AnswerKind, query: string): boolean {
  if (kind === "other") {
    return false;
  }
  if (kind === "entity") {
    return namesBeyond(sentence, query);
  }
  // Values already in the question do not answer it ("in 1066, who …" asks for a name).
  const stripped = [...query.matchAll(/\d+/g)].reduce((text, m) => text.split(m[0]).join(" "), sentence);
  return kind === "date" ? DATE_TEXT.test(stripped) || MONTHS.test(stripped) : NUMBER_TEXT.test(stripped);
}

/** A capitalised word past the sentence's first that the question does not use: a name it may be asking for. */
function namesBeyond(sentence: string, query: string): boolean {
  const asked = new Set((query.toLowerCase().match(/\p{L}+/gu) ?? []).map(porter));
  const words = sentence.match(/\p{L}[\p{L}'’-]*/gu) ?? [];
  return words.slice(1).some((w) => /^\p{Lu}/u.test(w) && !asked.has(porter(w.toLowerCase())));
}

/** What the best passages say about the question. */
export interface Evidence {
  /** The largest share of the question's weight one passage holds. */
  coverage: number;
  /** The most of the question's words one sentence holds. */
  sentenceWords: number;
  /** Whether that is enough to answer (see `judgeEvidence`). */
  answers: boolean;
}

/** Passages judged: the first few, whichever mode ranked them. */
export const EVIDENCE_PASSAGES = 3;
/** Below this share of the question's weight in any passage, nothing answers it. */
export const MIN_COVERAGE = 0.15;
/** A passage holding less than this share must have a sentence that joins two of the question's words. */
export const WEAK_COVERAGE = 0.6;

/**
 * One abstention rule for every mode and generator, from the evidence alone: the question is
 * answered when one of the first passages holds at least MIN_COVERAGE of its weight, and either a
 * sentence holds two or more of its words together or the passage holds WEAK_COVERAGE. A passage
 * that shares one word with the question ("the capital of Kenya" against a passage naming a
 * capital) is not an answer. Calibrated on the SQuAD 2.0 and KorQuAD development sets
 * (`npm run eval:answers`; docs/benchmarks.md "Answers").
 */
export function judgeEvidence(
  query: string,
  stats: TermStats | undefined,
  passages: Array<{ title: string; text: string }>,
): Evidence {
  const weights = queryWeights(query, stats);
  let best = 0;
  let sentenceWords = 0;
  for (const passage of passages.slice(0, EVIDENCE_PASSAGES)) {
    best = Math.max(best, coverage(stemSet(`${passage.title} ${passage.text}`), weights));
    for (const sentence of sentences(passage.text)) {
      const stems = stemSet(sentence);
      let held = 0;
      for (const stem of weights.weights.keys()) {
        if (stems.has(stem)) {
          held++;
        }
      }
      sentenceWords = Math.max(sentenceWords, held);
    }
  }
  const answers = best >= MIN_COVERAGE && (sentenceWords >= 2 || best >= WEAK_COVERAGE);
  return { coverage: best, sentenceWords, answers };
}

/**
 * Whether any of the passages holds one of the question's own content words (true for a question
 * without any). A follow-up is judged on its rewrite, which carries the previous question's words;
 * if none of its own words ("Who approves it?": approves) is in the evidence, the evidence answers
 * the previous question, not this one.
 */
export function mentionsOwnWords(question: string, passages: Array<{ title: string; text: string }>): boolean {
  const own = queryWeights(question);
  if (own.weights.size === 0) {
    return true;
  }
  return passages.some((p) => coverage(stemSet(`${p.title} ${p.text}`), own) > 0);
}

/**
 * Text to search terms, one tokenizer for every stage: the shard's keyword index, query terms,
 * the extractive generator, the reranker, the support check and the local embedder.
 *
 * Alphabetic scripts: Unicode words, lower-cased, Porter-stemmed where compared. Korean, Chinese
 * and Japanese (CJK) runs: overlapping character bigrams, so a Korean stem matches its inflected
 * forms (`휴가` is a bigram of `휴가는`) and a Chinese or Japanese word matches inside a run of
 * characters written without spaces; a one-character run stays a unigram. Query terms are later
 * quoted for FTS5, so user text can never be FTS syntax.
 */
import { stemmer } from "stemmer";

/** A compact English stop list (the usual function words; content words are kept). */
export const STOP_WORDS = new Set(
  "a an and are as at be been being but by can could did do does doing for from had has have having he her hers him his how i if in into is it its itself me more most my no nor not of off on once only or other our ours out over own same she should so some such than that the their theirs them then there these they this those through to too under until up very was we were what when where which while who whom why will with would you your yours".split(
    " ",
  ),
);

/**
 * Interrogatives that carry no content: a Korean word (어절) starting with one of these is left
 * out of a query whole, with its particles (`무엇인가`, `누구의`, `몇년에`); a Chinese or Japanese
 * bigram equal to one is dropped.
 */
const KOREAN_QUESTION_WORDS = ["무엇", "누구", "어디", "언제", "얼마", "어떤", "어느", "어떻", "어째", "왜", "몇"];
const CJK_QUESTION_BIGRAMS = new Set([
  "什么",
  "哪里",
  "哪个",
  "多少",
  "为什",
  "怎么",
  "何故",
  "どこ",
  "いつ",
  "なぜ",
  "どの",
  "だれ",
  "なに",
]);

export const MAX_QUERY_TERMS = 32;

/** Hangul, Han (CJK ideographs), Hiragana and Katakana: scripts written without spaces between words. */
const CJK_RUN = /[\p{Script=Hangul}\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}ー]+/gu;
const CJK_CHAR = /[\p{Script=Hangul}\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;
const WORD = /[\p{L}\p{N}]+/gu;

export function isCjk(term: string): boolean {
  return CJK_CHAR.test(term);
}

/** Character bigrams of a CJK run (a one-character run is its own unigram). */
function bigrams(run: string): string[] {
  const chars = [...run];
  if (chars.length < 2) {
    return chars;
  }
  const out: string[] = [];
  for (let i = 0; i + 1 < chars.length; i++) {
    out.push(`${chars[i]}${chars[i + 1]}`);
  }
  return out;
}

/**
 * The tokens of one word (a run of letters and digits): itself, or, where it holds CJK characters,
 * its other-script parts as words and its CJK parts as bigrams (`1989년` → `1989`, `년`).
 */
function wordTokens(word: string): string[] {
  if (!isCjk(word)) {
    return [word];
  }
  const out: string[] = [];
  let last = 0;
  for (const match of word.matchAll(CJK_RUN)) {
    const at = match.index ?? 0;
    if (at > last) {
      out.push(word.slice(last, at));
    }
    out.push(...bigrams(match[0]));
    last = at + match[0].length;
  }
  if (last < word.length) {
    out.push(word.slice(last));
  }
  return out;
}

/** Every token of a text in order, lower-cased, unstemmed (stop words kept). */
export function tokens(text: string): string[] {
  return (text.toLowerCase().match(WORD) ?? []).flatMap(wordTokens);
}

/**
 * The text the keyword index reads: CJK runs replaced by their bigrams, space-separated, so that
 * FTS5's `unicode61` tokenizer (which keeps a run of CJK letters as one token) indexes bigrams;
 * everything else unchanged for its Porter stemmer.
 */
export function indexText(text: string): string {
  return isCjk(text) ? text.replace(CJK_RUN, (run) => ` ${bigrams(run).join(" ")} `) : text;
}

/** A query as it is cached, logged and searched: runs of whitespace as one space, trimmed. */
export function normalizeQuery(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function isQuestionWord(word: string): boolean {
  return KOREAN_QUESTION_WORDS.some((q) => word.startsWith(q));
}

/**
 * A query's content words, each as its tokens (an alphabetic word is one token; a CJK word its
 * bigrams, the first of which starts its stem): stop words and interrogatives left out.
 */
export function queryWords(text: string): string[][] {
  const out: string[][] = [];
  for (const match of text.toLowerCase().matchAll(/[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu)) {
    const word = match[0].replace(/['’]s$/u, "");
    if (word.length > 64 || STOP_WORDS.has(word) || isQuestionWord(word)) {
      continue;
    }
    const kept = wordTokens(word).filter((t) => !STOP_WORDS.has(t) && !CJK_QUESTION_BIGRAMS.has(t));
    if (kept.length > 0) {
      out.push(kept);
    }
  }
  return out;
}

/** A query's search terms: content words and CJK bigrams, de-duplicated, at most MAX_QUERY_TERMS. */
export function queryTerms(text: string): string[] {
  const seen = new Set<string>();
  for (const word of queryWords(text)) {
    for (const token of word) {
      seen.add(token);
      if (seen.size === MAX_QUERY_TERMS) {
        return [...seen];
      }
    }
  }
  return [...seen];
}

/** An FTS5 MATCH expression: every term a quoted string (quotes doubled), OR-ed. */
export function ftsQuery(terms: string[]): string {
  return terms.map((term) => `"${term.replace(/"/g, '""')}"`).join(" OR ");
}

/** Porter stems by word, shared by every stage of this isolate (bounded; emptied when full). */
const stems = new Map<string, string>();
const MAX_STEMS = 50_000;

/**
 * The Porter stem of a lower-case word, memoised: search, expansion, the reranker, the extractive
 * generator and citation checks all stem the same query and candidate texts within one request.
 * CJK tokens (bigrams) are their own stems.
 */
export function porter(word: string): string {
  let stem = stems.get(word);
  if (stem === undefined) {
    if (stems.size >= MAX_STEMS) {
      stems.clear();
    }
    stem = isCjk(word) ? word : stemmer(word);
    stems.set(word, stem);
  }
  return stem;
}

/** The tokens of a text (words, CJK bigrams), lower-cased, each as its stem. */
export function wordStems(text: string): string[] {
  return tokens(text).map(porter);
}

/** The distinct stems of a query's search terms. */
export function queryStems(query: string): string[] {
  return [...new Set(queryTerms(query).map(porter))];
}

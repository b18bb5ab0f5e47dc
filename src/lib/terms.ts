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
import { Lru } from "./lru";

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
const KOREAN_QUESTION_WORDS = [
  "무엇",
  "누구",
  "어디",
  "언제",
  "얼마",
  "어떤",
  "어느",
  "어떻",
  "어째",
  "왜",
  "몇",
  "며칠", // how many days, what date
  "무슨", // what kind of
  "뭐", // 무엇, spoken: 뭐예요, 뭐가, 뭘, 뭔가요
  "뭘",
  "뭔",
];
/** Interrogatives matched whole, where a prefix would take other words too (`누가` and `누가복음`). */
const KOREAN_QUESTION_WORDS_WHOLE = new Set(["누가"]);
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

/** "how many", "how much": the quantifier is part of the interrogative, as Korean 몇 and 얼마 are. */
const HOW_QUANTIFIERS = new Set(["many", "much"]);

/**
 * Korean words (whole 어절) that carry no content: the superlative 가장, determiners and bound
 * nouns. Like English stop words they are in nearly every passage, so sharing them is no evidence.
 */
const KOREAN_STOP_WORDS = new Set(["가장", "한", "그", "이", "저", "것", "수", "등", "및", "더", "또", "좀", "잘"]);

export const MAX_QUERY_TERMS = 32;

/**
 * Hangul, Han (CJK ideographs), Hiragana and Katakana: scripts written without spaces between
 * words. Checked by code point ranges rather than a Unicode-property regex: every token of every
 * candidate passes through here, and the ranges are several times faster on Korean text.
 */
function isCjkCode(c: number): boolean {
  return (
    (c >= 0xac00 && c <= 0xd7af) || // Hangul syllables
    (c >= 0x4e00 && c <= 0x9fff) || // CJK unified ideographs
    (c >= 0x3040 && c <= 0x30ff) || // Hiragana, Katakana (with ー)
    (c >= 0x3400 && c <= 0x4dbf) || // CJK extension A
    (c >= 0x1100 && c <= 0x11ff) || // Hangul Jamo
    (c >= 0x3130 && c <= 0x318f) || // Hangul compatibility Jamo
    (c >= 0xa960 && c <= 0xa97f) || // Hangul Jamo extended-A
    (c >= 0xd7b0 && c <= 0xd7ff) || // Hangul Jamo extended-B
    (c >= 0xf900 && c <= 0xfaff) || // CJK compatibility ideographs
    (c >= 0x31f0 && c <= 0x31ff) || // Katakana phonetic extensions
    (c >= 0xff66 && c <= 0xff9f) || // half-width Katakana
    (c >= 0x20000 && c <= 0x3ffff) // CJK extensions B and later
  );
}

const WORD = /[\p{L}\p{N}]+/gu;

export function isCjk(term: string): boolean {
  for (let i = 0; i < term.length; i++) {
    const c = term.charCodeAt(i);
    // Everything below U+1100 (Latin, Greek, Cyrillic, digits …) is not CJK: one comparison.
    if (c >= 0x1100 && isCjkCode(c >= 0xd800 && c <= 0xdbff ? (term.codePointAt(i) ?? c) : c)) {
      return true;
    }
  }
  return false;
}

/** Appends a CJK run's character bigrams (a one-character run is its own unigram). */
function pushBigrams(chars: string[], out: string[]): void {
  if (chars.length === 1) {
    out.push(chars[0] as string);
    return;
  }
  for (let i = 0; i + 1 < chars.length; i++) {
    out.push(`${chars[i]}${chars[i + 1]}`);
  }
}

/**
 * The tokens of one word (a run of letters and digits): itself, or, where it holds CJK characters,
 * its other-script parts as words and its CJK parts as bigrams (`1989년` → `1989`, `년`).
 */
function wordTokens(word: string, out: string[] = []): string[] {
  if (!isCjk(word)) {
    out.push(word);
    return out;
  }
  let run: string[] = [];
  let other = "";
  for (const ch of word) {
    if (isCjkCode(ch.codePointAt(0) ?? 0)) {
      if (other !== "") {
        out.push(other);
        other = "";
      }
      run.push(ch);
    } else {
      if (run.length > 0) {
        pushBigrams(run, out);
        run = [];
      }
      other += ch;
    }
  }
  if (run.length > 0) {
    pushBigrams(run, out);
  }
  if (other !== "") {
    out.push(other);
  }
  return out;
}

/** Every token of a text in order, lower-cased, unstemmed (stop words kept). */
export function tokens(text: string): string[] {
  const out: string[] = [];
  for (const word of text.toLowerCase().match(WORD) ?? []) {
    wordTokens(word, out);
  }
  return out;
}

/**
 * The text the keyword index reads: words holding CJK characters replaced by their tokens,
 * space-separated, so that FTS5's `unicode61` tokenizer (which keeps a run of CJK letters as one
 * token) indexes bigrams; everything else unchanged for its Porter stemmer.
 */
export function indexText(text: string): string {
  return isCjk(text) ? text.replace(WORD, (word) => (isCjk(word) ? ` ${wordTokens(word).join(" ")} ` : word)) : text;
}

/** A query as it is cached, logged and searched: runs of whitespace as one space, trimmed. */
export function normalizeQuery(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function isQuestionWord(word: string): boolean {
  return KOREAN_QUESTION_WORDS_WHOLE.has(word) || KOREAN_QUESTION_WORDS.some((q) => word.startsWith(q));
}

/**
 * A query's content words, each as its tokens (an alphabetic word is one token; a CJK word its
 * bigrams, the first of which starts its stem): stop words and interrogatives left out.
 */
export function queryWords(text: string): string[][] {
  const out: string[][] = [];
  let previous = "";
  for (const match of text.toLowerCase().matchAll(/[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu)) {
    const word = match[0].replace(/['’]s$/u, "");
    const asked = previous === "how" && HOW_QUANTIFIERS.has(word);
    previous = word;
    if (word.length > 64 || STOP_WORDS.has(word) || KOREAN_STOP_WORDS.has(word) || isQuestionWord(word) || asked) {
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
  // CJK bigrams are their own stems, and too many to memoise: they would flush the map.
  if (word.charCodeAt(0) >= 0x1100 && isCjk(word)) {
    return word;
  }
  let stem = stems.get(word);
  if (stem === undefined) {
    if (stems.size >= MAX_STEMS) {
      stems.clear();
    }
    stem = stemmer(word);
    stems.set(word, stem);
  }
  return stem;
}

/**
 * Stemmed tokens of recent texts: within one answer the reranker, the abstention rule, the
 * generator and the citation checks read the same passages and sentences (bounded, so safe at
 * module scope; texts are content, never secrets).
 */
const stemmed = new Lru<readonly string[]>(1_024);

/** The tokens of a text (words, CJK bigrams), lower-cased, each as its stem. Do not mutate. */
export function wordStems(text: string): readonly string[] {
  let out = stemmed.get(text);
  if (out === undefined) {
    out = tokens(text).map(porter);
    stemmed.set(text, out);
  }
  return out;
}

/** The distinct stems of a query's search terms. */
export function queryStems(query: string): string[] {
  return [...new Set(queryTerms(query).map(porter))];
}

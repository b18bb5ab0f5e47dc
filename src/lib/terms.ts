/**
 * Query text to search terms: Unicode words, lower-cased, stop words dropped, de-duplicated, capped.
 * The terms are later quoted for FTS5, so user text can never be FTS syntax.
 */
import { stemmer } from "stemmer";

/** A compact English stop list (the usual function words; content words are kept). */
export const STOP_WORDS = new Set(
  "a an and are as at be been being but by can could did do does doing for from had has have having he her hers him his how i if in into is it its itself me more most my no nor not of off on once only or other our ours out over own same she should so some such than that the their theirs them then there these they this those through to too under until up very was we were what when where which while who whom why will with would you your yours".split(
    " ",
  ),
);

export const MAX_QUERY_TERMS = 32;

/** A query as it is cached, logged and searched: runs of whitespace as one space, trimmed. */
export function normalizeQuery(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

export function queryTerms(text: string): string[] {
  const seen = new Set<string>();
  for (const match of text.toLowerCase().matchAll(/[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu)) {
    const word = match[0].replace(/['’]s$/u, "");
    if (word.length > 64 || STOP_WORDS.has(word) || seen.has(word)) {
      continue;
    }
    seen.add(word);
    if (seen.size === MAX_QUERY_TERMS) {
      break;
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
 */
export function porter(word: string): string {
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

/** The words of a text (Unicode letters and digits, lower-cased), each as its stem. */
export function wordStems(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).map(porter);
}

/** The distinct stems of a query's search terms. */
export function queryStems(query: string): string[] {
  return [...new Set(queryTerms(query).map(porter))];
}

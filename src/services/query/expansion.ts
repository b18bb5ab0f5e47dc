/** Deep mode's query expansion: sub-questions of a compound query, and pseudo-relevance feedback terms. */
import { isCjk, porter, queryTerms, STOP_WORDS, tokens } from "../../lib/terms";
import type { ChunkHit } from "../search";

/**
 * Sub-questions of a compound query ("does X raise Y and lower Z?"): split on conjunctions and
 * semicolons; only parts with at least two searchable words count, and only if there are two.
 */
export function subQuestions(query: string): string[] {
  const parts = query
    .split(/\s*(?:;|,?\s+\b(?:and|but|while|whereas|versus|vs\.?)\b\s+)\s*/i)
    .map((p) => p.trim())
    .filter((p) => queryTerms(p).length >= 2);
  return parts.length >= 2 ? parts.slice(0, 3) : [];
}

/**
 * Pseudo-relevance feedback (Rocchio-style, lexical): the words the top results share that the
 * query lacks, by how many of those results use them and how often. At most five.
 */
export function feedbackTerms(terms: string[], top: ChunkHit[]): string[] {
  const asked = new Set(terms.map(porter));
  const score = new Map<string, { word: string; docs: number; tf: number }>();
  for (const hit of top) {
    const seen = new Set<string>();
    // Words of four or more letters (starting with one), and CJK bigrams: what the index holds.
    for (const word of tokens(`${hit.title} ${hit.text}`)) {
      const stem = porter(word);
      if ((!isCjk(word) && (word.length < 4 || /^\d/.test(word))) || STOP_WORDS.has(word) || asked.has(stem)) {
        continue;
      }
      const entry = score.get(stem) ?? { word, docs: 0, tf: 0 };
      entry.tf += 1;
      if (!seen.has(stem)) {
        entry.docs += 1;
        seen.add(stem);
      }
      score.set(stem, entry);
    }
  }
  return [...score.values()]
    .filter((e) => e.docs >= 2)
    .sort((a, b) => b.docs - a.docs || b.tf - a.tf)
    .slice(0, 5)
    .map((e) => e.word);
}

/** Citations: `[n]` markers checked against the context, unsupported claims dropped, quotes chosen. */
import { sentences } from "../../lib/sentences";
import { porter, STOP_WORDS, tokens, wordStems } from "../../lib/terms";
import type { ChunkHit } from "../search";

/** Keeps `[n]` markers that name one of `count` sources; returns the numbers cited, in order. */
export function validateMarkers(text: string, count: number): { text: string; numbers: number[] } {
  const numbers: number[] = [];
  const cleaned = text
    .replace(/\s*\[(\d{1,3})\]/g, (marker, digits: string) => {
      const n = Number(digits);
      if (n < 1 || n > count) {
        return "";
      }
      if (!numbers.includes(n)) {
        numbers.push(n);
      }
      return marker;
    })
    .trim();
  return { text: cleaned, numbers };
}

/**
 * The support check: an answer sentence stays when most of its content words occur in a source
 * it cites; a sentence that cites nothing, or what its sources do not say, is dropped.
 */
export function supportedOnly(text: string, context: ChunkHit[]): { text: string; dropped: number } {
  const kept: string[] = [];
  let dropped = 0;
  for (const sentence of text.match(/[^[\]]+?(?:\s*\[\d+\])+\.?|[^[\]]+$/g) ?? []) {
    const cites = [...sentence.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
    const claim = sentence.replace(/\[\d+\]/g, "");
    const supported = cites.some((n) => {
      const source = context[n - 1];
      return source !== undefined && support(claim, source.text) >= 0.6;
    });
    if (supported) {
      kept.push(sentence.trim());
    } else if (/[\p{L}\p{N}]/u.test(claim)) {
      dropped++;
    }
  }
  return { text: kept.join(" "), dropped };
}

/** Share of the claim's content tokens (words, CJK bigrams) that the source holds. */
function support(claim: string, source: string): number {
  const words = tokens(claim).filter((w) => !STOP_WORDS.has(w));
  if (words.length === 0) {
    return 0;
  }
  const present = new Set(wordStems(source));
  return words.filter((w) => present.has(porter(w))).length / words.length;
}

/**
 * The source sentence the answer relies on where it cites `[n]`: the first one the answer quotes
 * word for word (an extractive answer always does), else the one sharing most of its words.
 */
export function quoteFor(answerText: string, n: number, hit: ChunkHit): string {
  const citing = answerText
    .split(new RegExp(`\\[${n}\\]`))
    .slice(0, -1)
    .map((part) => part.split(/\[\d+\]/).pop() ?? "")
    .join(" ");
  const candidates = sentences(hit.text);
  const quoted = candidates.find((sentence) => citing.includes(sentence));
  if (quoted !== undefined) {
    return clip(quoted);
  }
  const wanted = new Set(wordStems(citing));
  let best = "";
  let bestScore = -1;
  for (const sentence of candidates) {
    const words = wordStems(sentence);
    const score = words.filter((w) => wanted.has(w)).length / Math.max(1, Math.sqrt(words.length));
    if (score > bestScore) {
      best = sentence;
      bestScore = score;
    }
  }
  return clip(best);
}

function clip(quote: string): string {
  return quote.length > 300 ? `${quote.slice(0, 297)}…` : quote;
}

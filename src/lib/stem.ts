/**
 * A light English stemmer (suffix stripping in the spirit of Porter's step 1 and the common
 * derivational endings). Used by the local embedder so that "vacations", "vacation" and
 * "vacationing" share features; FTS5 has its own Porter stemmer for keyword search.
 */
const RULES: Array<[RegExp, string]> = [
  [/(ational)$/, "ate"],
  [/(tional)$/, "tion"],
  [/(ization)$/, "ize"],
  [/(fulness|ousness|iveness)$/, ""],
  [/(ements?|ments?)$/, ""],
  [/(ations?)$/, "ate"],
  [/(ities|ity)$/, ""],
  [/(ingly|edly)$/, ""],
  [/(ness|less)$/, ""],
  [/(izing|ized|izes)$/, "ize"],
  [/(ies)$/, "y"],
  [/(sses)$/, "ss"],
  [/(ing)$/, ""],
  [/(ed)$/, ""],
  [/(ly)$/, ""],
  [/(es)$/, ""],
  [/([^s])s$/, "$1"],
];

export function stem(word: string): string {
  if (word.length <= 3 || /\d/.test(word)) {
    return word;
  }
  for (const [pattern, replacement] of RULES) {
    if (pattern.test(word)) {
      const out = word.replace(pattern, replacement);
      // Keep at least three characters of stem, or the word itself.
      return out.length >= 3 ? out : word;
    }
  }
  return word;
}

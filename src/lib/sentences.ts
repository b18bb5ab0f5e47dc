/**
 * Sentence splitting for extractive answers and support checks: ends at `.`, `!` or `?` followed
 * by whitespace and an upper-case letter, digit or opening bracket, and at blank lines. Keeps
 * abbreviations such as "e.g. the" together (lower-case continuation). Pure and deterministic.
 */
export function sentences(text: string): string[] {
  const out: string[] = [];
  for (const block of text.split(/\n\s*\n|\n(?=[#*-] )/)) {
    const flat = block.replace(/\s+/g, " ").trim();
    if (flat === "") {
      continue;
    }
    let start = 0;
    for (const match of flat.matchAll(/[.!?]["')\]]?\s+(?=[\p{Lu}\p{N}(["])/gu)) {
      const end = (match.index ?? 0) + match[0].trimEnd().length;
      out.push(flat.slice(start, end).trim());
      start = (match.index ?? 0) + match[0].length;
    }
    const rest = flat.slice(start).trim();
    if (rest !== "") {
      out.push(rest);
    }
  }
  return out.filter((s) => /[\p{L}\p{N}]/u.test(s));
}

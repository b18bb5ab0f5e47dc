/**
 * Sentence splitting for extractive answers, citation quotes and support checks. Pure and
 * deterministic.
 *
 * A text is first cut into lines that belong together: a blank line, a Markdown heading, a list
 * item and a table row each start a new block, and so does the line after a heading-like line (a
 * short line with no closing punctuation followed by a capitalised or CJK line, as a PDF's
 * headings come out of text extraction). Headings and table rows are not sentences and are left
 * out; a list item is kept without its marker. Within a block a sentence ends at `.`, `!` or `?`
 * followed by whitespace and an upper-case letter, digit, opening bracket or a CJK character
 * (Korean has no case: `되었다. 같은 해` is two sentences), and at `。！？`. Abbreviations such as
 * "e.g. the" stay together (lower-case continuation).
 */
import { Lru } from "./lru";
import { isCjk } from "./terms";

const TERMINAL = /[.!?。！？:;…"'”’)\]]$/u;
const LIST_ITEM = /^(?:[-*•·▪‣◦]|\d{1,3}[.)])\s+/u;

function isTableRow(line: string): boolean {
  return (line.match(/\|/g) ?? []).length >= 2 || /\t.*\t/.test(line) || /^[\s|:+-]+$/.test(line);
}

function startsCjk(text: string): boolean {
  const first = text.codePointAt(0);
  return first !== undefined && isCjk(String.fromCodePoint(first));
}

function isHeadingLike(line: string, next: string | undefined): boolean {
  if (next === undefined || TERMINAL.test(line) || LIST_ITEM.test(line)) {
    return false;
  }
  const short = isCjk(line) ? line.length <= 30 : line.length <= 60 && line.split(/\s+/).length <= 8;
  const startsLine = /^[\p{Lu}\p{N}]/u.test(line) || startsCjk(line);
  const nextStarts = /^[\p{Lu}\p{N}("“]/u.test(next) || startsCjk(next) || LIST_ITEM.test(next);
  return short && startsLine && nextStarts;
}

/** The sentence-bearing blocks of a text, each flattened to one line. */
function blocks(text: string): string[] {
  const out: string[] = [];
  let current: string[] = [];
  const flush = () => {
    if (current.length > 0) {
      out.push(current.join(" "));
      current = [];
    }
  };
  const lines = text.split("\n").map((l) => l.replace(/\s+/g, " ").trim());
  // The next non-empty line after each, found in one pass from the end.
  const nextOf: Array<string | undefined> = new Array(lines.length);
  for (let i = lines.length - 1, next: string | undefined; i >= 0; i--) {
    nextOf[i] = next;
    if (lines[i] !== "") {
      next = lines[i];
    }
  }
  for (const [i, line] of lines.entries()) {
    if (line === "") {
      flush();
      continue;
    }
    if (line.startsWith("#") || isTableRow(line)) {
      flush();
      continue;
    }
    if (isHeadingLike(line, nextOf[i])) {
      flush();
      continue;
    }
    if (LIST_ITEM.test(line)) {
      flush();
      current.push(line.replace(LIST_ITEM, ""));
      continue;
    }
    current.push(line);
  }
  flush();
  return out;
}

/** Recent texts' sentences: one answer splits the same passages in several stages (bounded). */
const recent = new Lru<readonly string[]>(256);

/** The sentences of a text, in order (see above). Do not mutate the result. */
export function sentences(text: string): readonly string[] {
  let out = recent.get(text);
  if (out === undefined) {
    out = split(text);
    recent.set(text, out);
  }
  return out;
}

function split(text: string): string[] {
  const out: string[] = [];
  for (const flat of blocks(text)) {
    let start = 0;
    const ends =
      /[.!?]["')\]”’]?\s+(?=[\p{Lu}\p{N}(["“\p{Script=Hangul}\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}])|[。！？]\s*/gu;
    for (const match of flat.matchAll(ends)) {
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

/**
 * Structure-aware recursive chunking: a document is split at its headings into sections, a
 * section into paragraphs, an over-long paragraph into sentences, an over-long sentence into words;
 * the pieces are then packed greedily up to the size budget, and each chunk begins with the tail
 * of the previous one (the overlap) when they share a section. Chunks never cross a heading, and
 * each keeps its section heading and its character offsets in the extracted text.
 */

export interface ChunkOptions {
  /** Budget per chunk in estimated tokens (~4 characters each). */
  maxTokens: number;
  /** Fraction of the budget repeated from the previous chunk, 0–0.5. */
  overlap: number;
}

export interface Chunk {
  ordinal: number;
  text: string;
  /** The heading path of the section, e.g. "Benefits › Leave", or null before any heading. */
  heading: string | null;
  charStart: number;
  charEnd: number;
  tokenEstimate: number;
}

export const DEFAULT_CHUNK_OPTIONS: ChunkOptions = { maxTokens: 512, overlap: 0.15 };

/** Bounds one document's write (one D1 batch); ~5–10 MB of text at the default chunk size. */
export const MAX_CHUNKS_PER_DOCUMENT = 5_000;
const CHARS_PER_TOKEN = 4;

/**
 * The fewest chunks a text of `length` characters can make: no chunk holds more than the budget.
 * (Headings can make more: the exact count is known only once it is chunked.)
 */
export function minChunks(length: number, options: ChunkOptions = DEFAULT_CHUNK_OPTIONS): number {
  return Math.ceil(length / maxChunkChars(options));
}

function maxChunkChars(options: ChunkOptions): number {
  return Math.max(64, options.maxTokens * CHARS_PER_TOKEN);
}

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

interface Span {
  start: number;
  end: number;
}

/** Non-empty pieces of `text[start, end)` separated by `separator`, as absolute spans. */
function splitSpans(text: string, span: Span, separator: RegExp): Span[] {
  const out: Span[] = [];
  const slice = text.slice(span.start, span.end);
  const pattern = new RegExp(separator.source, "g");
  let from = 0;
  for (const match of slice.matchAll(pattern)) {
    const index = match.index ?? 0;
    pushTrimmed(text, { start: span.start + from, end: span.start + index }, out);
    from = index + match[0].length;
  }
  pushTrimmed(text, { start: span.start + from, end: span.end }, out);
  return out;
}

function pushTrimmed(text: string, span: Span, out: Span[]): void {
  let { start, end } = span;
  while (start < end && /\s/.test(text[start] ?? "")) {
    start++;
  }
  while (end > start && /\s/.test(text[end - 1] ?? "")) {
    end--;
  }
  if (end > start) {
    out.push({ start, end });
  }
}

/** Splits a span into pieces no longer than `max` characters, coarsest boundary first. */
function pieces(text: string, span: Span, max: number): Span[] {
  if (span.end - span.start <= max) {
    return [span];
  }
  for (const separator of [/\n\s*\n/, /(?<=[.!?…])\s+/, /\s+/]) {
    const parts = splitSpans(text, span, separator);
    if (parts.length > 1) {
      return parts.flatMap((part) => pieces(text, part, max));
    }
  }
  // One unbroken run longer than the budget (a URL, a base64 blob): cut it.
  const out: Span[] = [];
  for (let start = span.start; start < span.end; start += max) {
    out.push({ start, end: Math.min(span.end, start + max) });
  }
  return out;
}

interface Section {
  heading: string | null;
  body: Span;
}

const HEADING = /^(#{1,6})[ \t]+(.+?)[ \t#]*$/gm;
/** A fenced code block (``` or ~~~, to its closing fence or the end): a `#` line there is code. */
const FENCE = /^[ \t]{0,3}(`{3,}|~{3,})[^\n]*\n[\s\S]*?(?:^[ \t]{0,3}\1[ \t]*$|(?![\s\S]))/gm;

function sections(text: string): Section[] {
  const out: Section[] = [];
  const path: string[] = [];
  let heading: string | null = null;
  let bodyStart = 0;
  const fences = [...text.matchAll(FENCE)].map((m) => [m.index ?? 0, (m.index ?? 0) + m[0].length] as const);
  const inFence = (index: number) => fences.some(([start, end]) => index > start && index < end);
  for (const match of text.matchAll(HEADING)) {
    const index = match.index ?? 0;
    if (inFence(index)) {
      continue;
    }
    out.push({ heading, body: { start: bodyStart, end: index } });
    const level = match[1]?.length ?? 1;
    path.length = Math.min(path.length, level - 1);
    path.push((match[2] ?? "").trim());
    heading = path.filter(Boolean).join(" › ");
    bodyStart = index + match[0].length;
  }
  out.push({ heading, body: { start: bodyStart, end: text.length } });
  return out;
}

const SENTENCE = /(?<=[.!?…])\s+/;

export function chunkText(text: string, options: ChunkOptions = DEFAULT_CHUNK_OPTIONS): Chunk[] {
  return chunkSpans(text, options).map((span, ordinal) => {
    const body = text.slice(span.charStart, span.charEnd);
    return { ordinal, text: body, tokenEstimate: estimateTokens(body), ...span };
  });
}

/** Where `chunkText`'s chunks would be, without copying their text. */
export function chunkSpans(
  text: string,
  options: ChunkOptions = DEFAULT_CHUNK_OPTIONS,
): Array<Pick<Chunk, "heading" | "charStart" | "charEnd">> {
  const maxChars = maxChunkChars(options);
  const overlapChars = Math.floor(maxChars * Math.min(0.5, Math.max(0, options.overlap)));
  const chunks: Array<Pick<Chunk, "heading" | "charStart" | "charEnd">> = [];
  /** The trailing spans totalling at most `budget`, none starting so early that `end` would overflow. */
  const tail = (spans: Span[], budget: number, end: number): Span[] => {
    const out: Span[] = [];
    let size = 0;
    for (let i = spans.length - 1; i >= 0; i--) {
      const piece = spans[i];
      if (!piece || size + (piece.end - piece.start) > budget || end - piece.start > maxChars) {
        break;
      }
      out.unshift(piece);
      size += piece.end - piece.start;
    }
    return out;
  };
  const emit = (heading: string | null, group: Span[]) => {
    const first = group[0];
    const last = group.at(-1);
    if (!first || !last) {
      return;
    }
    chunks.push({ heading, charStart: first.start, charEnd: last.end });
  };

  for (const section of sections(text)) {
    const units = splitSpans(text, section.body, /\n\s*\n/).flatMap((p) => pieces(text, p, maxChars));
    let group: Span[] = [];
    let fresh = 0; // units in `group` not carried over from the previous chunk
    for (const unit of units) {
      const start = group[0]?.start ?? unit.start;
      if (group.length > 0 && unit.end - start > maxChars) {
        if (fresh > 0) {
          emit(section.heading, group);
        }
        // Carry the tail of the emitted chunk that fits the overlap budget (and leaves room):
        // whole pieces if they fit, else the last piece's closing sentences.
        const carried = tail(group, overlapChars, unit.end);
        if (carried.length === 0) {
          const last = group.at(-1);
          if (last) {
            carried.push(...tail(splitSpans(text, last, SENTENCE), overlapChars, unit.end));
          }
        }
        group = carried;
        fresh = 0;
      }
      group.push(unit);
      fresh++;
    }
    if (fresh > 0) {
      emit(section.heading, group);
    }
  }
  return chunks;
}

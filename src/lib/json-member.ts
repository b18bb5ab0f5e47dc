/**
 * String values of a JSON body, taken out of the UTF-8 body as UTF-8 bytes — their escapes
 * resolved — without ever being JavaScript strings; the rest of the body is parsed as usual.
 *
 * Why: a JSON document upload is one big string. Decoded, parsed and encoded again it costs about
 * three times its size in the isolate (`npm run bench:upload-memory`); unescaped where it lies in the
 * body it costs nothing more than the body. The bytes are what the upload stores anyway.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** What a body that is not UTF-8 is told (also when only a taken string is not: see `takeStrings`). */
export const NOT_UTF8 = "The body is not valid UTF-8 (RFC 8259 requires UTF-8 JSON).";

/** Thrown for a body that is not JSON (the caller answers 400). */
export class MalformedJson extends Error {}

export interface TakenStrings {
  /** The body parsed, each taken string replaced by the placeholder (the whole body, if nothing was taken). */
  rest: unknown;
  /**
   * The taken strings as UTF-8 bytes, by the index the path's `*` matched (0 for a path without
   * one). Empty when the body does not have the expected shape (JSON.parse and the schema decide).
   */
  values: Uint8Array[];
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Parses `bytes` (strict UTF-8 JSON), taking the string values at `path` out as bytes: member names,
 * and `*` for each element of an array — `["text"]`, or `["documents", "*", "text"]` — each
 * replaced in the parsed rest by `placeholder` (`""` unless given). The values are unescaped where
 * they lie, so `bytes` is overwritten there: pass a body nothing else reads.
 */
export function takeStrings(bytes: Uint8Array, path: string[], placeholder = ""): TakenStrings {
  const spans: Span[] = [];
  const start = skipSpace(bytes, bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0);
  const end = walk(bytes, start, path, spans, 0);
  if (end < 0 || skipSpace(bytes, end) !== bytes.length || spans.length === 0) {
    return { rest: parse(bytes), values: [] };
  }
  // The rest goes through JSON.parse, which checks everything but the taken strings' contents.
  const parts: Array<Uint8Array | string> = [];
  let from = 0;
  for (const span of spans) {
    // An empty value stays "" (for the schema to judge as before); a taken one is the placeholder.
    parts.push(bytes.subarray(from, span.start), span.end - span.start > 2 ? JSON.stringify(placeholder) : '""');
    from = span.end;
  }
  parts.push(bytes.subarray(from));
  const rest = parse(...parts);
  const values: Uint8Array[] = [];
  for (const span of spans) {
    values[span.index] = unescapeInPlace(bytes.subarray(span.start + 1, span.end - 1));
  }
  return { rest, values };
}

/** Strict UTF-8 JSON from bytes (and strings between them), or MalformedJson saying what is wrong. */
export function parse(...parts: Array<Uint8Array | string>): unknown {
  let text = "";
  try {
    for (const part of parts) {
      text += typeof part === "string" ? part : utf8.decode(part);
    }
  } catch {
    throw new MalformedJson(NOT_UTF8);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new MalformedJson("Malformed JSON in request body.");
  }
}

/** A string value to take: `start` at its opening quote, `end` past its closing one. */
interface Span {
  start: number;
  end: number;
  index: number;
}

/**
 * Past the value at `at`, recording the strings at `path` in it; -1 when the value is not the shape
 * the path expects (not an object or array where one is named, a member twice, a non-string at the
 * end, a syntax error): then nothing is taken and the body is parsed whole, which decides.
 */
function walk(bytes: Uint8Array, at: number, path: string[], spans: Span[], index: number): number {
  const [step, ...rest] = path;
  if (step === undefined) {
    if (bytes[at] !== QUOTE) {
      return -1;
    }
    const end = stringEnd(bytes, at);
    if (end > 0) {
      spans.push({ start: at, end, index });
    }
    return end;
  }
  if (step === "*") {
    return items(bytes, at, 0x5b, 0x5d, (i, element) => walk(bytes, i, rest, spans, element));
  }
  let seen = false;
  return items(bytes, at, 0x7b, 0x7d, (i) => {
    if (bytes[i] !== QUOTE) {
      return -1;
    }
    const keyEnd = stringEnd(bytes, i);
    if (keyEnd < 0) {
      return -1;
    }
    const key = keyEnd - i <= 256 ? parse(bytes.subarray(i, keyEnd)) : undefined;
    let value = skipSpace(bytes, keyEnd);
    if (bytes[value] !== 0x3a) {
      return -1;
    }
    value = skipSpace(bytes, value + 1);
    if (key !== step) {
      return bytes[value] === QUOTE ? stringEnd(bytes, value) : skipValue(bytes, value);
    }
    if (seen) {
      return -1;
    }
    seen = true;
    return walk(bytes, value, rest, spans, index);
  });
}

/**
 * Past the array or object (`open` … `close`) at `at`, each element or member read by `item` (its
 * start and number in, its end or -1 out); -1 if it is not one or is malformed.
 */
function items(
  bytes: Uint8Array,
  at: number,
  open: number,
  close: number,
  item: (start: number, n: number) => number,
): number {
  if (bytes[at] !== open) {
    return -1;
  }
  let i = skipSpace(bytes, at + 1);
  if (bytes[i] === close) {
    return i + 1;
  }
  for (let n = 0; ; n++) {
    const end = item(i, n);
    if (end < 0) {
      return -1;
    }
    i = skipSpace(bytes, end);
    if (bytes[i] !== 0x2c) {
      return bytes[i] === close ? i + 1 : -1;
    }
    i = skipSpace(bytes, i + 1);
  }
}

function skipSpace(bytes: Uint8Array, at: number): number {
  let i = at;
  while (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09) {
    i++;
  }
  return i;
}

/** Past the closing quote of the string opening at `at`, or -1 if it never closes. */
function stringEnd(bytes: Uint8Array, at: number): number {
  for (let i = at + 1; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === BACKSLASH) {
      i++;
    } else if (b === QUOTE) {
      return i + 1;
    }
  }
  return -1;
}

/** Past a number, literal, object or array starting at `at` (its syntax is JSON.parse's to check). */
function skipValue(bytes: Uint8Array, at: number): number {
  let depth = 0;
  let i = at;
  for (; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === QUOTE) {
      i = stringEnd(bytes, i) - 1;
      if (i < 0) {
        return -1;
      }
    } else if (b === 0x7b || b === 0x5b) {
      depth++;
    } else if (b === 0x7d || b === 0x5d) {
      if (depth === 0) {
        return i;
      }
      depth--;
      if (depth === 0) {
        return i + 1;
      }
    } else if (depth === 0 && (b === 0x2c || b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09)) {
      return i;
    }
  }
  return depth === 0 ? i : -1;
}

const SIMPLE_ESCAPES: Record<number, number> = {
  34: 0x22, // \"
  92: 0x5c, // \\
  47: 0x2f, // \/
  98: 0x08, // \b
  102: 0x0c, // \f
  110: 0x0a, // \n
  114: 0x0d, // \r
  116: 0x09, // \t
};

/**
 * The UTF-8 bytes of a JSON string's contents (between its quotes), written over `raw` itself:
 * unescaping never lengthens, so the output never overtakes the input (`copyWithin` moves each run
 * without a copy). A lone surrogate becomes U+FFFD, as encoding the parsed string would make it; raw
 * control characters are refused, as JSON.parse refuses them. Bytes that are not UTF-8 are kept as
 * they are: the caller's strict decoder finds them.
 */
function unescapeInPlace(raw: Uint8Array): Uint8Array {
  let n = 0;
  let run = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i] as number;
    if (b < 0x20) {
      throw new MalformedJson("Malformed JSON in request body (a control character inside a string).");
    }
    if (b !== BACKSLASH) {
      continue;
    }
    raw.copyWithin(n, run, i);
    n += i - run;
    const kind = raw[i + 1] as number;
    const simple = SIMPLE_ESCAPES[kind];
    if (simple !== undefined) {
      raw[n++] = simple;
      i += 1;
    } else if (kind === 0x75) {
      let unit = hex4(raw, i + 2);
      i += 5;
      if (unit >= 0xd800 && unit <= 0xdbff && raw[i + 1] === BACKSLASH && raw[i + 2] === 0x75) {
        const low = hex4(raw, i + 3);
        if (low >= 0xdc00 && low <= 0xdfff) {
          unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
          i += 6;
        }
      }
      n = writeCodePoint(raw, n, unit >= 0xd800 && unit <= 0xdfff ? 0xfffd : unit);
    } else {
      throw new MalformedJson("Malformed JSON in request body (an unknown escape inside a string).");
    }
    run = i + 1;
  }
  raw.copyWithin(n, run);
  n += raw.length - run;
  return raw.subarray(0, n);
}

function hex4(raw: Uint8Array, at: number): number {
  let value = 0;
  for (let i = at; i < at + 4; i++) {
    const c = raw[i] ?? 0;
    const digit =
      c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (digit < 0) {
      throw new MalformedJson("Malformed JSON in request body (a bad \\u escape inside a string).");
    }
    value = value * 16 + digit;
  }
  return value;
}

function writeCodePoint(out: Uint8Array, at: number, cp: number): number {
  let n = at;
  if (cp < 0x80) {
    out[n++] = cp;
  } else if (cp < 0x800) {
    out[n++] = 0xc0 | (cp >> 6);
    out[n++] = 0x80 | (cp & 0x3f);
  } else if (cp < 0x10000) {
    out[n++] = 0xe0 | (cp >> 12);
    out[n++] = 0x80 | ((cp >> 6) & 0x3f);
    out[n++] = 0x80 | (cp & 0x3f);
  } else {
    out[n++] = 0xf0 | (cp >> 18);
    out[n++] = 0x80 | ((cp >> 12) & 0x3f);
    out[n++] = 0x80 | ((cp >> 6) & 0x3f);
    out[n++] = 0x80 | (cp & 0x3f);
  }
  return n;
}

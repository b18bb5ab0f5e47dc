/**
 * Decides a document's type from its bytes, never from its name: `%PDF-` is PDF; a ZIP holding a
 * WordprocessingML main part is DOCX; otherwise valid UTF-8 text, sniffed as HTML, Markdown or plain
 * text. Anything else is not a document we read (undefined).
 */
export type DocumentKind = "pdf" | "docx" | "html" | "markdown" | "text";

export const MIME_TYPES: Record<DocumentKind, string> = {
  pdf: "application/pdf",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  html: "text/html",
  markdown: "text/markdown",
  text: "text/plain",
};

const PDF = [0x25, 0x50, 0x44, 0x46, 0x2d]; // %PDF-
const ZIP = [0x50, 0x4b, 0x03, 0x04]; // PK\3\4

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return prefix.every((byte, i) => bytes[i] === byte);
}

/** Names inside a ZIP are stored uncompressed in its headers, so a byte search finds them. */
function containsAscii(bytes: Uint8Array, text: string): boolean {
  const needle = new TextEncoder().encode(text);
  const first = needle[0];
  outer: for (
    let i = bytes.indexOf(first ?? 0);
    i >= 0 && i <= bytes.length - needle.length;
    i = bytes.indexOf(first ?? 0, i + 1)
  ) {
    for (let j = 1; j < needle.length; j++) {
      if (bytes[i + j] !== needle[j]) {
        continue outer;
      }
    }
    return true;
  }
  return false;
}

/** C0 controls other than tab, newlines and form feed: no text document contains them. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: detecting binary content is the point.
export const CONTROL_CHARACTERS = /[\u0000-\u0008\u000B\u000E-\u001F]/;

/** Why bytes are not a text document: not UTF-8 at all, or UTF-8 holding control characters (NUL …). */
export type TextProblem = "not_utf8" | "control_characters";

/** The text of UTF-8 bytes without NUL or other C0 controls, or what is wrong with them. */
export function readText(bytes: Uint8Array): { text: string } | { problem: TextProblem } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return { problem: "not_utf8" };
  }
  return CONTROL_CHARACTERS.test(text) ? { problem: "control_characters" } : { text };
}

/** UTF-8 text without NUL or other C0 controls (tab, newlines and form feed aside), or undefined. */
export function decodeText(bytes: Uint8Array): string | undefined {
  const read = readText(bytes);
  return "text" in read ? read.text : undefined;
}

const HTML_START = /^\s*(<!--[\s\S]*?-->\s*)*(<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])/i;
const HTML_TAGS = /<(p|div|h[1-6]|ul|ol|li|table|a\s+href|br|span|section|article)[\s>/]/gi;

export function looksLikeHtml(text: string): boolean {
  if (HTML_START.test(text)) {
    return true;
  }
  const sample = text.slice(0, 20_000);
  return (sample.match(HTML_TAGS)?.length ?? 0) >= 3;
}

const MARKDOWN_SIGNALS = [
  /^#{1,6}\s+\S/m, // ATX heading
  /^\s*```/m, // fenced code
  /^\s*[-*+]\s+\S/m, // bullet list
  /^\s*\d+\.\s+\S/m, // ordered list
  /\[[^\]]+\]\([^)]+\)/, // link
  /^\s*>\s+\S/m, // block quote
  /(\*\*|__)[^*_\n]+\1/, // bold
  /^.+\n(=+|-+)\s*$/m, // setext heading
];

export function looksLikeMarkdown(text: string): boolean {
  const sample = text.slice(0, 20_000);
  const hits = MARKDOWN_SIGNALS.filter((signal) => signal.test(sample)).length;
  return /^#{1,6}\s+\S/m.test(sample) ? hits >= 1 : hits >= 2;
}

export type TextKind = "html" | "markdown" | "text";

export function textKind(text: string): TextKind {
  if (looksLikeHtml(text)) {
    return "html";
  }
  return looksLikeMarkdown(text) ? "markdown" : "text";
}

/** What one pass over UTF-8 text found: its kind, its length in UTF-16 units, whether it is all space. */
export interface TextScan {
  kind: TextKind;
  length: number;
  blank: boolean;
}

const SCAN_SLICE = 65_536;
const SAMPLE_CHARS = 20_000;

/**
 * Checks UTF-8 text without holding it decoded: slice by slice (strict UTF-8, no C0 controls),
 * keeping only a sample for its kind. An upload's text costs a slice in memory, not its size again.
 */
export function scanText(bytes: Uint8Array): TextScan | { problem: TextProblem } {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  let sample = "";
  let length = 0;
  let blank = true;
  let at = 0;
  do {
    const end = Math.min(bytes.byteLength, at + SCAN_SLICE);
    let piece: string;
    try {
      piece = decoder.decode(bytes.subarray(at, end), { stream: end < bytes.byteLength });
    } catch {
      return { problem: "not_utf8" };
    }
    if (CONTROL_CHARACTERS.test(piece)) {
      return { problem: "control_characters" };
    }
    blank &&= !/\S/.test(piece);
    if (sample.length < SAMPLE_CHARS) {
      sample += piece.slice(0, SAMPLE_CHARS - sample.length);
    }
    length += piece.length;
    at = end;
  } while (at < bytes.byteLength);
  return { kind: textKind(sample), length, blank };
}

/** The kind of a document and, for text kinds, what a scan of its text found; or why it is none. */
export type Sniffed = { kind: "pdf" | "docx" } | TextScan | { kind: undefined; problem: TextProblem | "not_docx" };

export function sniffDocument(bytes: Uint8Array): Sniffed {
  if (startsWith(bytes, PDF)) {
    return { kind: "pdf" };
  }
  if (startsWith(bytes, ZIP)) {
    return containsAscii(bytes, "[Content_Types].xml") && containsAscii(bytes, "word/document.xml")
      ? { kind: "docx" }
      : { kind: undefined, problem: "not_docx" };
  }
  const scan = scanText(bytes);
  return "problem" in scan ? { kind: undefined, problem: scan.problem } : scan;
}

export function sniff(bytes: Uint8Array): DocumentKind | undefined {
  return sniffDocument(bytes).kind;
}

/**
 * HTML to readable text that keeps the document's structure: headings become Markdown-style
 * `#` lines (so the chunker can split on them), block elements become paragraph breaks, scripts,
 * styles and other non-content elements are dropped, and entities are decoded.
 * A small tokenizer, not a DOM: enough for extraction, and it never executes anything.
 */
import { decodeHTML } from "entities/decode";
import { escapeToBuffer } from "hono/utils/html";

const DROP = /<(script|style|noscript|template|svg|math|head|iframe|object)\b[\s\S]*?<\/\1\s*>/gi;
const BLOCK =
  /<\/?(p|div|section|article|main|header|footer|nav|aside|ul|ol|li|table|thead|tbody|tr|blockquote|pre|figure|figcaption|dl|dt|dd|form|fieldset|address|hr|br)\b[^>]*>/gi;

/** Every HTML5 named and numeric entity, as browsers decode them (the `entities` package). */
export function decodeEntities(text: string): string {
  return decodeHTML(text);
}

/** The document's <title>, if it has one. */
export function htmlTitle(html: string): string | undefined {
  const match = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html);
  const title = match?.[1]
    ? decodeEntities(match[1].replace(/<[^>]*>/g, ""))
        .replace(/\s+/g, " ")
        .trim()
    : "";
  return title || undefined;
}

export function htmlToText(html: string): string {
  let text = html.replace(/<!--[\s\S]*?-->/g, " ").replace(DROP, " ");
  text = text.replace(/<h([1-6])\b[^>]*>([\s\S]*?)<\/h\1\s*>/gi, (_, level: string, inner: string) => {
    const heading = inner
      .replace(/<[^>]*>/g, " ")
      .replace(/\s+/g, " ")
      .trim();
    return heading ? `\n\n${"#".repeat(Number(level))} ${heading}\n\n` : "\n\n";
  });
  text = text.replace(/<(td|th)\b[^>]*>/gi, " | ");
  text = text.replace(BLOCK, "\n\n");
  text = text.replace(/<[^>]*>/g, "");
  text = decodeEntities(text);
  return text
    .split(/\n{2,}/)
    .map((block) => block.replace(/[ \t\r\f\v\n]+/g, " ").trim())
    .filter(Boolean)
    .join("\n\n");
}

/** Text as HTML: the five characters that could open markup or an attribute, escaped (Hono's escaper). */
export function escapeHtml(text: unknown): string {
  const buffer: [string] = [""];
  escapeToBuffer(String(text ?? ""), buffer);
  return buffer[0];
}

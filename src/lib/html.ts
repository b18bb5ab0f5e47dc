/**
 * HTML to readable text that keeps the document's structure: headings become Markdown-style
 * `#` lines (so the chunker can split on them), block elements become paragraph breaks, scripts,
 * styles and other non-content elements are dropped, and entities are decoded.
 * A small tokenizer, not a DOM: enough for extraction, and it never executes anything.
 */

const DROP = /<(script|style|noscript|template|svg|math|head|iframe|object)\b[\s\S]*?<\/\1\s*>/gi;
const BLOCK =
  /<\/?(p|div|section|article|main|header|footer|nav|aside|ul|ol|li|table|thead|tbody|tr|blockquote|pre|figure|figcaption|dl|dt|dd|form|fieldset|address|hr|br)\b[^>]*>/gi;

const NAMED: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
  ndash: "–",
  mdash: "—",
  hellip: "…",
  copy: "©",
  reg: "®",
  laquo: "«",
  raquo: "»",
  lsquo: "‘",
  rsquo: "’",
  ldquo: "“",
  rdquo: "”",
};

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]{2,8});/gi, (whole, entity: string) => {
    if (entity[0] === "#") {
      const code =
        entity[1] === "x" || entity[1] === "X" ? Number.parseInt(entity.slice(2), 16) : Number(entity.slice(1));
      return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return NAMED[entity.toLowerCase()] ?? whole;
  });
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

/** Text as HTML: the five characters that could open markup or an attribute, escaped. */
export function escapeHtml(text: unknown): string {
  return String(text ?? "").replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch,
  );
}

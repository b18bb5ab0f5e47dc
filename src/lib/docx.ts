/**
 * DOCX text extraction: unzip (fflate) the WordprocessingML main part and read its paragraphs in
 * order. Heading and Title paragraph styles become Markdown-style `#` lines so the chunker splits
 * on them; tables become `|`-separated rows. Decompressed size is capped against zip bombs.
 */
import { unzipSync } from "fflate";
import { decodeEntities } from "./html";

/** Largest decompressed XML part we read (a 20 MB upload of text inflates well below this). */
export const MAX_DOCX_XML_BYTES = 64 * 1024 * 1024;

export class DocxError extends Error {
  override readonly name = "DocxError";
}

const WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml";

function part(files: Record<string, Uint8Array>, name: string): string | undefined {
  const bytes = files[name];
  return bytes ? new TextDecoder().decode(bytes) : undefined;
}

/** The main document part named by [Content_Types].xml (usually word/document.xml). */
function mainPartName(contentTypes: string): string | undefined {
  for (const match of contentTypes.matchAll(/<Override\b[^>]*>/g)) {
    const tag = match[0];
    if (tag.includes(WORD_MAIN)) {
      return /PartName="\/?([^"]+)"/.exec(tag)?.[1];
    }
  }
  return undefined;
}

function headingLevel(paragraphXml: string): number | undefined {
  const style = /<w:pStyle\b[^>]*w:val="([^"]+)"/.exec(paragraphXml)?.[1] ?? "";
  if (/^title$/i.test(style)) {
    return 1;
  }
  const heading = /^heading\s*([1-6])$/i.exec(style);
  if (heading?.[1]) {
    return Number(heading[1]);
  }
  const outline = /<w:outlineLvl\b[^>]*w:val="(\d)"/.exec(paragraphXml)?.[1];
  return outline !== undefined && Number(outline) < 6 ? Number(outline) + 1 : undefined;
}

function paragraphText(paragraphXml: string): string {
  let text = "";
  for (const match of paragraphXml.matchAll(/<w:t\b[^>]*>([^<]*)<\/w:t>|<w:(tab|br|cr)\b[^>]*\/>/g)) {
    if (match[1] !== undefined) {
      text += decodeEntities(match[1]);
    } else {
      text += match[2] === "tab" ? "\t" : "\n";
    }
  }
  return text.replace(/[ \t]+/g, " ").trim();
}

export function docxToText(bytes: Uint8Array): string {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter: (file) =>
        (file.name === "[Content_Types].xml" || file.name.startsWith("word/")) &&
        file.name.endsWith(".xml") &&
        file.originalSize <= MAX_DOCX_XML_BYTES,
    });
  } catch (error) {
    throw new DocxError(`not a readable ZIP archive (${(error as Error).message})`);
  }
  const contentTypes = part(files, "[Content_Types].xml");
  const name = contentTypes ? mainPartName(contentTypes) : undefined;
  const xml = name ? part(files, name) : undefined;
  if (!xml) {
    throw new DocxError("no WordprocessingML document part (or it is too large)");
  }
  const body = /<w:body\b[^>]*>([\s\S]*)<\/w:body>/.exec(xml)?.[1] ?? xml;
  const blocks: string[] = [];
  // Tables first become single rows of cells, then paragraphs are read in document order.
  const flattened = body.replace(/<w:tr\b[\s\S]*?<\/w:tr>/g, (row) => {
    const cells = [...row.matchAll(/<w:tc\b[\s\S]*?<\/w:tc>/g)].map((cell) =>
      [...cell[0].matchAll(/<w:p\b[\s\S]*?<\/w:p>/g)].map((p) => paragraphText(p[0])).join(" "),
    );
    return `<w:p><w:r><w:t>${cells.join(" | ").replace(/</g, "&lt;")}</w:t></w:r></w:p>`;
  });
  for (const match of flattened.matchAll(/<w:p\b[\s\S]*?<\/w:p>|<w:p\b[^>]*\/>/g)) {
    const text = paragraphText(match[0]);
    if (!text) {
      continue;
    }
    const level = headingLevel(match[0]);
    blocks.push(level ? `${"#".repeat(level)} ${text.replace(/\n/g, " ")}` : text);
  }
  return blocks.join("\n\n");
}

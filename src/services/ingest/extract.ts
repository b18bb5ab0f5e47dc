/** Text out of an original: PDF per page, DOCX, HTML, Markdown and text; unreadable ones fail with a reason. */

import { DocxError, docxToText } from "../../lib/docx";
import { htmlToText } from "../../lib/html";
import { PdfError, pdfToPages } from "../../lib/pdf";
import { decodeText, MIME_TYPES } from "../../lib/sniff";

/** A document that can never be processed as it is (retrying will not help). */
export class UnreadableDocument extends Error {
  override readonly name = "UnreadableDocument";
}

export interface Extracted {
  text: string;
  /** Start offset of each page in `text` (PDF only). */
  pageStarts?: number[];
}

export async function extract(mimeType: string, bytes: Uint8Array): Promise<Extracted> {
  try {
    switch (mimeType) {
      case MIME_TYPES.pdf: {
        const pages = await pdfToPages(bytes);
        const pageStarts: number[] = [];
        let text = "";
        for (const page of pages) {
          pageStarts.push(text.length);
          text += `${page}\n\n`;
        }
        return { text, pageStarts };
      }
      case MIME_TYPES.docx:
        return { text: docxToText(bytes) };
      default: {
        const text = decodeText(bytes);
        if (text === undefined) {
          throw new UnreadableDocument("the document is not UTF-8 text without control characters");
        }
        return { text: mimeType === MIME_TYPES.html ? htmlToText(text) : text };
      }
    }
  } catch (error) {
    if (error instanceof PdfError || error instanceof DocxError) {
      throw new UnreadableDocument(error.message);
    }
    throw error;
  }
}

export function pageOf(pageStarts: number[] | undefined, offset: number): number | null {
  if (!pageStarts) {
    return null;
  }
  let page = 0;
  while (page + 1 < pageStarts.length && (pageStarts[page + 1] ?? Number.POSITIVE_INFINITY) <= offset) {
    page++;
  }
  return page + 1;
}

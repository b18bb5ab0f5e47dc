/**
 * PDF text extraction with unpdf (a serverless build of PDF.js that runs in Workers), page by
 * page so chunks can keep their page numbers. Encrypted PDFs and PDFs without a text layer
 * (scans) are refused with a reason the document's `error` field can show.
 */
import { extractText, getDocumentProxy } from "unpdf";

export class PdfError extends Error {
  override readonly name = "PdfError";
}

/** The text of each page, in order (index 0 is page 1). */
export async function pdfToPages(bytes: Uint8Array): Promise<string[]> {
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    // PDF.js takes ownership of the buffer it is given: hand it a copy.
    pdf = await getDocumentProxy(new Uint8Array(bytes), { isEvalSupported: false, stopAtErrors: false });
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === "PasswordException") {
      throw new PdfError("the PDF is encrypted (password protected); upload an unencrypted copy");
    }
    throw new PdfError(`the PDF cannot be read (${(error as Error).message})`);
  }
  try {
    const { text } = await extractText(pdf, { mergePages: false });
    const pages = text.map((page) =>
      page
        .replace(/[ \t]+/g, " ")
        .replace(/\n{3,}/g, "\n\n")
        .trim(),
    );
    if (pages.every((page) => page === "")) {
      throw new PdfError("the PDF has no extractable text (a scan without a text layer?)");
    }
    return pages;
  } finally {
    await pdf.destroy();
  }
}

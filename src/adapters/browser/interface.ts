/** Turns a self-contained HTML report into a PDF, with no network and no JavaScript. */
export interface RenderOptions {
  /** Header and footer text (already plain text; escaped by the renderer). */
  title: string;
  footer: string;
  timeoutMs: number;
  maxPages: number;
}

export interface Rendered {
  pdf: Uint8Array;
  pages: number;
}

export interface PdfRenderer {
  readonly name: string;
  render(html: string, options: RenderOptions): Promise<Rendered>;
  /** Throws when exports cannot render now (for /health/detailed); cheap: launches nothing. */
  check?(): Promise<void>;
}

/** A PDF's page count, from its page objects (`/Type /Page`, not `/Pages`). */
export function pageCount(pdf: Uint8Array): number {
  const text = new TextDecoder("latin1").decode(pdf);
  return (text.match(/\/Type\s*\/Page(?![s\w])/g) ?? []).length;
}

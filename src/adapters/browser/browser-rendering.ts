import puppeteer from "@cloudflare/puppeteer";
import { AppError } from "../../errors";
import { raceTimeout } from "../../lib/async";
import { escapeHtml } from "../../lib/html";
import { type PdfRenderer, pageCount, type Rendered, type RenderOptions } from "./interface";

/** The renderer's own CSP, first in the document whatever the HTML says: only inline styles and data:. */
const CSP_META = `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'">`;

export function lockedDown(html: string): string {
  const doctype = /^\s*<!doctype[^>]*>/i.exec(html)?.[0] ?? "";
  return `${doctype || "<!doctype html>"}${CSP_META}${html.slice(doctype.length)}`;
}

/**
 * Cloudflare Browser Rendering (`env.BROWSER`; locally, Miniflare's Chrome). Locked down: the page
 * runs without JavaScript and offline, under a CSP of its own placed before anything in the HTML,
 * and every request that is not `data:` is aborted before it leaves; the
 * content comes in with `setContent` (never `goto`), rendering is bounded in time and pages, and
 * the browser is closed in `finally`. Sessions are launched with `keep_alive` and reused when one
 * is free, so most exports skip the launch.
 */
export class BrowserRenderingPdf implements PdfRenderer {
  readonly name = "browser-rendering";

  constructor(private readonly binding: Fetcher) {}

  async render(html: string, options: RenderOptions): Promise<Rendered> {
    let browser: Awaited<ReturnType<typeof puppeteer.launch>>;
    try {
      browser = await this.session();
    } catch (error) {
      const limited = /429|rate limit/i.test(String((error as Error).message));
      throw new AppError(limited ? "rate_limited" : "upstream_unavailable", "The PDF renderer is unavailable.", {
        cause: error,
      });
    }
    try {
      const page = await browser.newPage();
      try {
        await page.setJavaScriptEnabled(false);
        // No network at all (interception misses speculative loads such as <link rel=prefetch>).
        await page.setOfflineMode(true);
        await page.setRequestInterception(true);
        page.on("request", (request) => {
          if (request.url().startsWith("data:")) {
            void request.continue();
          } else {
            void request.abort("blockedbyclient");
          }
        });
        const pdf = await raceTimeout(
          (async () => {
            await page.setContent(lockedDown(html), { waitUntil: "load", timeout: options.timeoutMs });
            const print = () =>
              page.pdf({
                format: "A4",
                printBackground: true,
                margin: { top: "18mm", bottom: "18mm", left: "14mm", right: "14mm" },
                displayHeaderFooter: true,
                headerTemplate: `<div style="font-size:8px;width:100%;padding:0 14mm;color:#666">${escapeHtml(options.title)}</div>`,
                footerTemplate: `<div style="font-size:8px;width:100%;padding:0 14mm;color:#666;display:flex;justify-content:space-between"><span>${escapeHtml(options.footer)}</span><span>Page <span class="pageNumber"></span> of <span class="totalPages"></span></span></div>`,
                timeout: options.timeoutMs,
              });
            // Chrome's printToPDF now and then answers "Printing failed" for a page it prints
            // fine a moment later (seen with blocked embeds): one more try before failing.
            return print().catch((error: unknown) => {
              if (!/Printing failed/.test(String((error as Error).message))) {
                throw error;
              }
              return print();
            });
          })(),
          options.timeoutMs,
          () => new AppError("upstream_timeout", `The PDF did not render within ${options.timeoutMs} ms.`),
        );
        const pages = pageCount(pdf);
        if (pages > options.maxPages) {
          throw new AppError(
            "payload_too_large",
            `The report is ${pages} pages; exports are at most ${options.maxPages}.`,
          );
        }
        return { pdf, pages };
      } finally {
        await page.close().catch(() => undefined);
      }
    } finally {
      // Back to the pool for the next export (the session stays alive for keep_alive).
      await browser.disconnect().catch(() => undefined);
    }
  }

  /** A free kept-alive session if there is one, else a new one. */
  private async session() {
    const sessions = await puppeteer.sessions(this.binding).catch(() => []);
    const free = sessions.find((s) => !s.connectionId);
    if (free) {
      try {
        return await puppeteer.connect(this.binding, free.sessionId);
      } catch {
        // Taken meanwhile, or gone: launch instead.
      }
    }
    return puppeteer.launch(this.binding, { keep_alive: 60_000 });
  }
}

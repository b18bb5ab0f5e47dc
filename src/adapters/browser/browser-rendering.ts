import puppeteer from "@cloudflare/puppeteer";
import { AppError } from "../../errors";
import { raceTimeout } from "../../lib/async";
import { escapeHtml } from "../../lib/html";
import { type PdfRenderer, pageCount, type Rendered, type RenderOptions } from "./interface";

/** The renderer's own CSP, first in the document whatever the HTML says: only inline styles and data:. */
const CSP_META = `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'">`;

export function lockedDown(html: string): string {
  const doctype = /^\s*<!doctype[^>]*>/i.exec(html)?.[0] ?? "";
  // A meta refresh is a navigation no CSP forbids: blocked below like every request, but starting
  // it can destroy the page's context while setContent still writes it (a flaky render failure).
  const body = html.slice(doctype.length).replace(META_REFRESH, "");
  return `${doctype || "<!doctype html>"}${CSP_META}${body}`;
}

const META_REFRESH = /<meta\b[^>]*http-equiv\s*=\s*["']?\s*refresh[^>]*>/gi;

/** Seconds to wait after the binding refused a browser, when it does not say. */
export const DEFAULT_RETRY_AFTER_S = 30;

/**
 * A refused launch as an AppError. `@cloudflare/puppeteer` turns the binding's answer into
 * `Unable to create new browser: code: <status>: message: <body>` and drops its headers, so a
 * 429's wait is read from the body when it names one ("… retry after 12 s"), else 30 s; it goes
 * out as `Retry-After`, which the export consumer uses as the queue delay.
 */
export function launchError(error: unknown): AppError {
  const message = String((error as Error)?.message ?? error);
  const status = Number(/code: (\d{3})/.exec(message)?.[1] ?? 0);
  if (status === 429 || /rate limit|too many/i.test(message)) {
    const seconds = Number(
      /(?:retry[- ]after|retry in|wait)\D{0,10}(\d{1,5})/i.exec(message)?.[1] ?? DEFAULT_RETRY_AFTER_S,
    );
    return new AppError("rate_limited", "The PDF renderer's browser limit is reached; the export waits in the queue.", {
      cause: error,
      headers: { "Retry-After": String(seconds) },
    });
  }
  return new AppError(
    "upstream_unavailable",
    "The PDF renderer is unavailable (running locally? `npm run setup:local -- chromium`, then restart `npm run dev`).",
    { cause: error },
  );
}

/** This isolate's last failed launch, until a launch succeeds: what /health/detailed reports. */
let lastLaunchFailure: { at: number; message: string } | undefined;

/**
 * Cloudflare Browser Rendering (`env.BROWSER`; locally, Miniflare's Chrome). Locked down: the page
 * runs without JavaScript and offline, under a CSP of its own placed before anything in the HTML,
 * and every request that is not `data:` is aborted before it leaves; the
 * content comes in with `setContent` (never `goto`), rendering is bounded in time and pages, and
 * the page is closed in `finally`. With `keepAliveMs` > 0 (EXPORT_BROWSER_KEEP_ALIVE_S) sessions
 * are launched with `keep_alive` and reused when one is free, so most exports skip the launch, and
 * `finally` releases the browser for the next export; with 0, `finally` closes the browser.
 */
export class BrowserRenderingPdf implements PdfRenderer {
  readonly name = "browser-rendering";

  constructor(
    private readonly binding: Fetcher,
    private readonly keepAliveMs = 60_000,
  ) {}

  async render(html: string, options: RenderOptions): Promise<Rendered> {
    let browser: Awaited<ReturnType<typeof puppeteer.launch>>;
    try {
      browser = await this.session();
      lastLaunchFailure = undefined;
    } catch (error) {
      const refused = launchError(error);
      if (refused.code !== "rate_limited") {
        lastLaunchFailure = { at: Date.now(), message: String((error as Error)?.message ?? error).slice(0, 200) };
      }
      throw refused;
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
      if (this.keepAliveMs > 0) {
        // Back to the pool for the next export (the session stays alive for keep_alive).
        await browser.disconnect().catch(() => undefined);
      } else {
        await browser.close().catch(() => undefined);
      }
    }
  }

  /** The binding answers (its limits: no browser launched), and the last launch here did not fail. */
  async check(): Promise<void> {
    if (lastLaunchFailure) {
      throw new Error(
        `the last browser launch failed at ${new Date(lastLaunchFailure.at).toISOString()}: ${lastLaunchFailure.message}`,
      );
    }
    await puppeteer.limits(this.binding);
  }

  /** A free kept-alive session if there is one, else a new one. */
  private async session() {
    if (this.keepAliveMs <= 0) {
      return puppeteer.launch(this.binding);
    }
    const sessions = await puppeteer.sessions(this.binding).catch(() => []);
    const free = sessions.find((s) => !s.connectionId);
    if (free) {
      try {
        return await puppeteer.connect(this.binding, free.sessionId);
      } catch {
        // Taken meanwhile, or gone: launch instead.
      }
    }
    return puppeteer.launch(this.binding, { keep_alive: this.keepAliveMs });
  }
}

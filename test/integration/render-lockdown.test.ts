import { env } from "cloudflare:workers";
import puppeteer from "@cloudflare/puppeteer";
import { describe, expect, it, vi } from "vitest";
import { BrowserRenderingPdf } from "../../src/adapters/browser/browser-rendering";

/**
 * The renderer's lock-down, with raw hostile HTML (the templates escape user strings, so this goes
 * beneath them): every way a page could reach the network or a file, aimed at a loopback canary.
 * The canary must see nothing, and the PDF must not carry a local file's content.
 */
const canary = env.TEST_CANARY_URL;
const host = new URL(canary).host;
const hostile = [
  `<img src="${canary}/img">`,
  `<img srcset="${canary}/srcset 2x">`,
  `<picture><source srcset="${canary}/picture"><img src="data:,"></picture>`,
  `<link rel="stylesheet" href="${canary}/link.css">`,
  `<link rel="preload" as="image" href="${canary}/preload">`,
  `<link rel="prefetch" href="${canary}/prefetch">`,
  `<link rel="icon" href="${canary}/icon">`,
  `<style>@import url("${canary}/import.css");</style>`,
  `<style>body { background: url("${canary}/bg.png"); }</style>`,
  `<style>@font-face { font-family: x; src: url("${canary}/font.woff"); } p { font-family: x; }</style>`,
  `<div style="background-image:url('${canary}/inline.png')">x</div>`,
  `<svg><image href="${canary}/svg-image"/></svg>`,
  `<svg><use href="${canary}/use.svg#x"/></svg>`,
  `<iframe src="${canary}/iframe"></iframe>`,
  `<iframe srcdoc="<img src='${canary}/srcdoc'>"></iframe>`,
  `<object data="${canary}/object"></object>`,
  `<embed src="${canary}/embed">`,
  `<video src="${canary}/video" autoplay></video>`,
  `<audio src="${canary}/audio" autoplay></audio>`,
  `<video poster="${canary}/poster"></video>`,
  `<meta http-equiv="refresh" content="0; url=${canary}/refresh">`,
  `<script>fetch("${canary}/fetch")</script>`,
  `<script>location.href = "${canary}/redirect"</script>`,
  `<script src="${canary}/script.js"></script>`,
  `<script>new Image().src = "${canary}/beacon"</script>`,
  `<script>navigator.sendBeacon("${canary}/sendbeacon")</script>`,
  `<form action="${canary}/form"><button id=b>x</button></form><script>document.forms[0].submit()</script>`,
  `<img src="file:///etc/passwd">`,
  `<iframe src="file:///etc/hostname"></iframe>`,
  `<img src="http://169.254.169.254/latest/meta-data/">`,
  `<img src="http://127.0.0.1:${new URL(canary).port}/loopback-ip">`,
  `<img src="http://localhost:${new URL(canary).port}/localhost">`,
  `<base href="${canary}/"><img src="relative.png">`,
  `<a href="${canary}/link">a link is not fetched</a>`,
  `<div style="mask-image:url(${canary}/mask)">m</div>`,
  `<style>li { list-style-image: url(${canary}/list); }</style><ul><li>x</li></ul>`,
];

describe("the PDF renderer's lock-down", () => {
  it(`lets none of ${hostile.length} hostile inputs reach the network or a file`, { timeout: 120_000 }, async () => {
    expect(hostile.length).toBeGreaterThanOrEqual(30);
    const hits = async () => ((await (await fetch(`${canary}/_hits`)).json()) as { hits: number }).hits;
    const before = await hits();
    const renderer = new BrowserRenderingPdf(env.BROWSER as unknown as Fetcher);
    const html = `<!doctype html><html><head><meta charset="utf-8"></head><body><h1>Hostile</h1>${hostile.join("\n")}</body></html>`;
    const { pdf, pages } = await renderer.render(html, { title: "t", footer: "f", timeoutMs: 20_000, maxPages: 20 });
    expect(new TextDecoder().decode(pdf.slice(0, 5))).toBe("%PDF-");
    expect(pages).toBeGreaterThanOrEqual(1);
    const text = new TextDecoder("latin1").decode(pdf);
    expect(text).not.toMatch(/root:x:0:0|canary/);
    expect(host.length).toBeGreaterThan(0);
    // Give anything that slipped through time to arrive.
    await new Promise((r) => setTimeout(r, 500));
    const after = (await (await fetch(`${canary}/_hits`)).json()) as { hits: number; paths: string[] };
    expect({ hits: after.hits - before, paths: after.paths.slice(-5) }).toEqual({ hits: 0, paths: expect.any(Array) });
  });

  it("closes the browser in finally when sessions are not kept alive, and only releases it otherwise", {
    timeout: 60_000,
  }, async () => {
    const calls: string[] = [];
    const launch = puppeteer.launch.bind(puppeteer);
    const spy = vi.spyOn(puppeteer, "launch").mockImplementation(async (...args) => {
      const browser = await launch(...args);
      const close = browser.close.bind(browser);
      const disconnect = browser.disconnect.bind(browser);
      browser.close = async () => {
        calls.push("close");
        return close();
      };
      browser.disconnect = async () => {
        calls.push("disconnect");
        return disconnect();
      };
      return browser;
    });
    try {
      const options = { title: "t", footer: "f", timeoutMs: 20_000, maxPages: 5 };
      const closes = () => calls.filter((c) => c === "close").length;
      await new BrowserRenderingPdf(env.BROWSER as unknown as Fetcher, 0).render("<p>once</p>", options);
      expect(closes()).toBe(1);
      // Even when rendering fails, the browser is closed.
      await expect(
        new BrowserRenderingPdf(env.BROWSER as unknown as Fetcher, 0).render(
          `<div>${"<p style='page-break-after:always'>p</p>".repeat(4)}</div>`,
          { ...options, maxPages: 1 },
        ),
      ).rejects.toMatchObject({ code: "payload_too_large" });
      expect(closes()).toBe(2);
      // Kept alive: released for the next export, never closed.
      calls.length = 0;
      await new BrowserRenderingPdf(env.BROWSER as unknown as Fetcher, 60_000).render("<p>kept</p>", options);
      expect(calls).not.toContain("close");
    } finally {
      spy.mockRestore();
    }
  });

  it("refuses a report over the page cap", { timeout: 60_000 }, async () => {
    const renderer = new BrowserRenderingPdf(env.BROWSER as unknown as Fetcher);
    const long = `<div>${"<p style='page-break-after:always'>page</p>".repeat(5)}</div>`;
    await expect(
      renderer.render(long, { title: "t", footer: "f", timeoutMs: 20_000, maxPages: 3 }),
    ).rejects.toMatchObject({
      code: "payload_too_large",
    });
  });
});

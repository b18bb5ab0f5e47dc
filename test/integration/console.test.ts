import { describe, expect, it } from "vitest";
import { call } from "../support/http";

/** The console's files, as the Worker serves them (the browser test is scripts/e2e-console.mjs). */
describe("GET /console", () => {
  it("serves the page, its script and its style under a strict CSP, with no external origin", async () => {
    const page = await call("GET", "/console");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    const html = await page.text();
    expect(html).toContain('<script src="/console/console.js" defer></script>');
    expect(html).not.toMatch(/<script>|https?:\/\//);
    for (const [path, type] of [
      ["/console/console.js", "text/javascript; charset=utf-8"],
      ["/console/console.css", "text/css; charset=utf-8"],
    ] as const) {
      const res = await call("GET", path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe(type);
      const body = await res.text();
      expect(body.length).toBeGreaterThan(500);
      expect(body).not.toMatch(/innerHTML|https?:\/\/(?!www\.w3\.org)/);
    }
  });
});

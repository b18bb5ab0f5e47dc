import { Hono } from "hono";
import page from "../console/page";
import script from "../console/script";
import css from "../console/style";
import type { AppEnv } from "../env";

/**
 * The console: one page, its script and its style, served by the Worker (no CDN). The CSP allows
 * nothing but these same-origin files and calls to this API, so a string that slipped into the
 * page could not run or send anything elsewhere. Not part of the API (absent from /openapi.json).
 */
export const consolePage = new Hono<AppEnv>();

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const files: Record<string, { body: string; type: string }> = {
  "/console": { body: page, type: "text/html; charset=utf-8" },
  "/console/console.js": { body: script, type: "text/javascript; charset=utf-8" },
  "/console/console.css": { body: css, type: "text/css; charset=utf-8" },
};

for (const [path, file] of Object.entries(files)) {
  consolePage.get(path, (c) =>
    c.body(file.body, 200, {
      "Content-Type": file.type,
      "Content-Security-Policy": CSP,
      // Public, identical for everyone: a short shared cache is fine (the key never reaches it).
      "Cache-Control": "public, max-age=300",
      "X-Content-Type-Options": "nosniff",
    }),
  );
}

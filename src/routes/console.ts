import { Hono } from "hono";
import page from "../console/page";
import script from "../console/script";
import css from "../console/style";
import type { AppEnv } from "../env";
import { PAGE_HEADERS } from "./page-headers";

/**
 * The console: one page, its script and its style, served by the Worker (no CDN). The CSP allows
 * nothing but these same-origin files and calls to this API, so a string that slipped into the
 * page could not run or send anything elsewhere. Not part of the API (absent from /openapi.json).
 */
export const consolePage = new Hono<AppEnv>();

const files: Record<string, { body: string; type: string }> = {
  "/console": { body: page, type: "text/html; charset=utf-8" },
  "/console/console.js": { body: script, type: "text/javascript; charset=utf-8" },
  "/console/console.css": { body: css, type: "text/css; charset=utf-8" },
};

for (const [path, file] of Object.entries(files)) {
  consolePage.get(path, (c) =>
    // Public, identical for everyone: a short shared cache is fine (the key never reaches it).
    c.body(file.body, 200, { ...PAGE_HEADERS, "Content-Type": file.type }),
  );
}

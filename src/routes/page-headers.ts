/**
 * Headers of the pages the Worker serves to people (the console, the docs, the front door): a CSP
 * that allows nothing but same-origin files and calls to this API, so a string that slipped into a
 * page could not run or send anything elsewhere; and, since each page is the same for everyone and
 * holds no key, a short shared cache.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export const PAGE_HEADERS = {
  "Content-Security-Policy": PAGE_CSP,
  "Cache-Control": "public, max-age=300",
  "X-Content-Type-Options": "nosniff",
} as const;

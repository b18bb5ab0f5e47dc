import { type Context, Hono } from "hono";
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { AppEnv } from "../env";
import { AppError, ERROR_CODES, type ErrorCode, errorDoc, errorTypeUri, titleOf } from "../errors";
import { PAGE_HEADERS } from "./page-headers";

/**
 * The pages a person reads, served by the Worker with nothing from elsewhere: `/` (the front door),
 * `/docs` (Swagger UI over /openapi.json, its files from the `swagger-ui-dist` package as static
 * assets), and `/docs/errors/{code}` (what each problem's `type` points at). Not part of the API.
 */
export const docsPages = new Hono<AppEnv>();

const PUBLIC_HEADERS = { ...PAGE_HEADERS, Vary: "Accept" };

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1c1c1e}
a{color:#0b57d0}code,pre{font:14px ui-monospace,monospace;background:#f3f3f5;border-radius:4px}
code{padding:0 .2em}pre{padding:.75rem;overflow:auto}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e3e3e8;vertical-align:top}
h1{font-size:1.6rem}.muted{color:#66666e}`;

function page(title: string, body: HtmlEscapedString | Promise<HtmlEscapedString>) {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="/docs/docs.css">
</head>
<body>
${body}
</body>
</html>`;
}

/** Our own prose, escaped, with `code` spans set as code. */
const prose = (text: string) => text.split("`").map((part, i) => (i % 2 === 1 ? html`<code>${part}</code>` : part));

const respond = async (c: Context<AppEnv>, content: HtmlEscapedString | Promise<HtmlEscapedString>) =>
  c.body(String(await content), 200, { ...PUBLIC_HEADERS, "Content-Type": "text/html; charset=utf-8" });

docsPages.get("/", (c) =>
  respond(
    c,
    page(
      "EdgeRAG",
      html`<h1>EdgeRAG</h1>
<p>Retrieval-augmented question answering at the edge: upload documents, then search them and ask
questions with cited, streamed answers.</p>
<ul>
<li><a href="/console">Console</a> — try it in the browser with an API key</li>
<li><a href="/docs">API reference</a> (Swagger UI) and <a href="/openapi.json">/openapi.json</a></li>
<li><a href="/docs/errors">Errors</a> — what each error code means and what to do</li>
<li><a href="/health">Health</a></li>
</ul>`,
    ),
  ),
);

docsPages.get("/docs/docs.css", (c) =>
  c.body(STYLE, 200, { ...PUBLIC_HEADERS, "Content-Type": "text/css; charset=utf-8" }),
);

docsPages.get("/docs", (c) =>
  respond(
    c,
    html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>EdgeRAG API</title>
<link rel="stylesheet" href="/docs/vendor/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/vendor/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-init.js"></script>
</body>
</html>`,
  ),
);

// The CSP allows no inline script, so Swagger UI is started from a file of our own.
docsPages.get("/docs/swagger-init.js", (c) =>
  c.body(`window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });\n`, 200, {
    ...PUBLIC_HEADERS,
    "Content-Type": "text/javascript; charset=utf-8",
  }),
);

/** The only files of swagger-ui-dist that are served (the package holds more). */
const VENDOR = new Set(["swagger-ui.css", "swagger-ui-bundle.js"]);

docsPages.get("/docs/vendor/:file", async (c) => {
  const file = c.req.param("file");
  if (!VENDOR.has(file)) {
    throw new AppError("not_found", `No such file: ${file}.`);
  }
  const asset = await c.env.ASSETS?.fetch(new URL(`/${file}`, c.req.url));
  if (!asset?.ok) {
    throw new AppError("misconfigured", "Swagger UI's files are missing (run npm install: swagger-ui-dist).");
  }
  const headers = new Headers(asset.headers);
  for (const [name, value] of Object.entries(PUBLIC_HEADERS)) {
    headers.set(name, value);
  }
  // Versioned by the pinned package: a day in any cache is fine.
  headers.set("Cache-Control", "public, max-age=86400");
  return new Response(asset.body, { status: 200, headers });
});

docsPages.get("/docs/errors", (c) =>
  // The same catalogue as data, for tools (docs tables, SDKs): `Accept: application/json`.
  (c.req.header("accept") ?? "").includes("application/json")
    ? c.json({ items: ERROR_CODES.map((code) => ({ code, ...errorDoc(code) })) }, 200, PUBLIC_HEADERS)
    : respond(
        c,
        page(
          "EdgeRAG errors",
          html`<h1>Errors</h1>
<p>Every error is an <a href="https://www.rfc-editor.org/rfc/rfc9457">RFC 9457</a> problem document
(<code>application/problem+json</code>) with a stable <code>code</code>, a <code>detail</code> for
people, a <code>request_id</code> (and a <code>trace_id</code> when tracing is on), and a
<code>type</code> linking to the page for its code below.</p>
<table>
<tr><th>Code</th><th>Status</th><th>Meaning</th></tr>
${ERROR_CODES.map(
  (code) =>
    html`<tr><td><a href="/docs/errors/${code}"><code>${code}</code></a></td><td>${errorDoc(code).status}</td><td>${prose(errorDoc(code).meaning)}</td></tr>`,
)}
</table>`,
        ),
      ),
);

docsPages.get("/docs/errors/:code", (c) => {
  const code = c.req.param("code");
  if (!(ERROR_CODES as string[]).includes(code)) {
    throw new AppError("not_found", `No error code ${code}; the list is at /docs/errors.`);
  }
  const doc = errorDoc(code as ErrorCode);
  const example = JSON.stringify(
    {
      type: errorTypeUri(code as ErrorCode, new URL(c.req.url).origin),
      title: titleOf(code as ErrorCode),
      status: doc.status,
      detail: doc.example,
      code,
      request_id: "req_3kP9x2LmQ7rT1vBz",
    },
    null,
    2,
  );
  return respond(
    c,
    page(
      `${code} — EdgeRAG errors`,
      html`<p class="muted"><a href="/docs/errors">Errors</a></p>
<h1><code>${code}</code> — ${doc.status} ${doc.title}</h1>
<h2>What it means</h2>
<p>${prose(doc.meaning)}</p>
<h2>What to do</h2>
<p>${prose(doc.action)}</p>
<h2>Example</h2>
<pre>HTTP/1.1 ${doc.status} ${doc.title}
Content-Type: application/problem+json

${example}</pre>`,
    ),
  );
});

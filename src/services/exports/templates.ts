/**
 * The HTML reports behind PDF exports. Every string that came from a user or a document is
 * escaped; the page carries its own CSP (nothing but inline styles and data: images); charts are
 * SVG drawn here. The font stack names the Noto families, so Korean, Chinese, Japanese and emoji
 * render (the setup installs fonts-noto-cjk and fonts-noto-color-emoji for the local renderer).
 */

import { escapeHtml } from "../../lib/html";
import type { DashboardView } from "../../schemas/dashboard";
import type { QueryResult } from "../../schemas/query";

const STYLE = `
  @page { size: A4; }
  body { font-family: "Noto Sans", "Noto Sans CJK KR", "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Color Emoji", sans-serif;
         font-size: 11pt; color: #1d2433; line-height: 1.45; }
  h1 { font-size: 18pt; margin: 0 0 4pt; } h2 { font-size: 13pt; margin: 14pt 0 6pt; }
  .meta { color: #5b6475; font-size: 9pt; margin-bottom: 10pt; }
  .answer { font-size: 12pt; white-space: pre-wrap; }
  .source { border-left: 3pt solid #f38020; padding: 2pt 8pt; margin: 6pt 0; break-inside: avoid; }
  .source .title { font-weight: 600; } .quote { white-space: pre-wrap; }
  table { border-collapse: collapse; width: 100%; font-size: 9.5pt; } td, th { border-bottom: 1px solid #dde1e7; padding: 3pt 5pt; text-align: left; }
  .chunk { border-top: 1px dashed #c5cad3; padding-top: 4pt; margin-top: 6pt; white-space: pre-wrap; }
  .chunk .n { color: #5b6475; font-size: 8pt; }
  svg { width: 100%; height: 120pt; } .bar { fill: #f38020; } .axis { stroke: #c5cad3; } text { font-size: 7pt; fill: #5b6475; }
  /* Korean breaks lines between words (at spaces), never inside one: Chromium otherwise breaks
     Hangul between any two syllables, and "휴가는" becomes "휴가" / "는". A word longer than the
     line still wraps rather than overflow. */
  :lang(ko) { word-break: keep-all; overflow-wrap: anywhere; }
`;

/**
 * The page's language, from its text: Korean when Hangul is at least as frequent as Chinese
 * characters and kana (Korean text quotes Hanja), else Japanese with kana, Chinese with Han.
 */
export function languageOf(text: string): string {
  const hangul = (text.match(/\p{Script=Hangul}/gu) ?? []).length;
  const kana = (text.match(/[\p{Script=Hiragana}\p{Script=Katakana}]/gu) ?? []).length;
  const han = (text.match(/\p{Script=Han}/gu) ?? []).length;
  if (hangul > 0 && hangul >= kana + han) {
    return "ko";
  }
  if (kana > 0) {
    return "ja";
  }
  return han > 0 ? "zh" : "en";
}

function page(title: string, meta: string, body: string): string {
  return `<!doctype html><html lang="${languageOf(`${title} ${body}`)}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(title)}</h1><div class="meta">${meta}</div>${body}</body></html>`;
}

export interface ReportMeta {
  title: string;
  tenantName: string;
  generatedAt: string;
}

const metaLine = (m: ReportMeta, extra = "") =>
  `${escapeHtml(m.tenantName)} · generated ${escapeHtml(m.generatedAt)}${extra ? ` · ${escapeHtml(extra)}` : ""}`;

/** The answer, and each cited source with its excerpt (the chunk's text, else the quote). */
export function queryReport(
  meta: ReportMeta,
  question: string,
  result: QueryResult,
  excerpts: Map<string, string>,
): string {
  const sources = result.citations
    .map(
      (c) => `<div class="source"><div class="title">[${c.n}] ${escapeHtml(c.title)}</div>
        <div class="quote">${escapeHtml(excerpts.get(c.chunk_id) ?? c.quote)}</div></div>`,
    )
    .join("");
  return page(
    meta.title,
    metaLine(meta, `${result.mode} mode, ${result.generator}`),
    `<h2>Question</h2><p>${escapeHtml(question)}</p><h2>Answer</h2><div class="answer">${escapeHtml(result.answer)}</div>
     <h2>Sources</h2>${sources || "<p>No sources.</p>"}`,
  );
}

function bars(values: number[], label: string): string {
  const width = 600;
  const height = 140;
  const max = Math.max(1, ...values);
  const step = width / Math.max(1, values.length);
  const rects = values
    .map((v, i) => {
      const h = (v / max) * (height - 20);
      return `<rect class="bar" x="${(i * step).toFixed(1)}" y="${(height - 12 - h).toFixed(1)}" width="${Math.max(1, step - 1).toFixed(1)}" height="${h.toFixed(1)}"/>`;
    })
    .join("");
  return `<svg viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">${rects}
    <line class="axis" x1="0" y1="${height - 12}" x2="${width}" y2="${height - 12}"/>
    <text x="0" y="${height - 2}">${escapeHtml(label)} (max ${max})</text></svg>`;
}

export function dashboardReport(meta: ReportMeta, d: DashboardView): string {
  const t = d.totals;
  const rows: Array<[string, unknown]> = [
    ["Queries", t.queries],
    ["fast / balanced / deep", `${t.by_mode.fast} / ${t.by_mode.balanced} / ${t.by_mode.deep}`],
    ["Cache hit rate", t.cache_hit_rate === null ? "–" : `${Math.round(t.cache_hit_rate * 100)} %`],
    ["Degraded", t.degraded],
    [
      "Errors",
      Object.entries(t.errors_by_code)
        .map(([c, n]) => `${c}: ${n}`)
        .join(", ") || "0",
    ],
    ["Rate limited", t.rate_limited],
    [
      "Documents",
      Object.entries(t.documents_by_status)
        .map(([s, n]) => `${s}: ${n}`)
        .join(", ") || "0",
    ],
    ["Chunks", t.chunks],
    ["Storage", `${t.storage_bytes} bytes`],
    ["Notifications", t.notifications],
  ];
  const latency = (["fast", "balanced", "deep"] as const)
    .map(
      (m) =>
        `<tr><td>${m}</td><td>${d.latency_ms[m].p50 ?? "–"}</td><td>${d.latency_ms[m].p95 ?? "–"}</td><td>${d.latency_ms[m].p99 ?? "–"}</td></tr>`,
    )
    .join("");
  const top = d.top_queries.map((q) => `<tr><td>${escapeHtml(q.query)}</td><td>${q.count}</td></tr>`).join("");
  return page(
    meta.title,
    metaLine(meta, `${d.from} – ${d.to}, per ${d.bucket}`),
    `<h2>Totals</h2><table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("")}</table>
     <h2>Queries per ${escapeHtml(d.bucket)}</h2>${bars(
       d.series.map((s) => s.queries),
       "queries",
     )}
     <h2>Latency (ms)</h2><table><tr><th>Mode</th><th>p50</th><th>p95</th><th>p99</th></tr>${latency}</table>
     <h2>Top queries</h2><table><tr><th>Query</th><th>Count</th></tr>${top || "<tr><td>–</td><td></td></tr>"}</table>`,
  );
}

export function documentReport(
  meta: ReportMeta,
  doc: { title: string; mimeType: string; sizeBytes: number; metadata: unknown; status: string },
  chunks: Array<{ ordinal: number; heading: string | null; text: string; page: number | null }>,
): string {
  const body = chunks
    .map(
      (c) =>
        `<div class="chunk"><div class="n">chunk ${c.ordinal + 1}${c.page ? ` · page ${c.page}` : ""}${c.heading ? ` · ${escapeHtml(c.heading)}` : ""}</div>${escapeHtml(c.text)}</div>`,
    )
    .join("");
  return page(
    meta.title,
    metaLine(meta, `${doc.mimeType}, ${doc.sizeBytes} bytes, ${chunks.length} chunks`),
    `<h2>${escapeHtml(doc.title)}</h2><p class="meta">metadata: ${escapeHtml(JSON.stringify(doc.metadata ?? {}))}</p>${body}`,
  );
}

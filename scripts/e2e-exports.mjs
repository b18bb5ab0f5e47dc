#!/usr/bin/env node
// PDF exports end to end against the built Worker served on loopback: a Korean answer exported
// to PDF through Browser Rendering (Debian's chromium), its text read back with poppler's
// `pdftotext` (the Korean words must be there, not empty boxes), and its first page turned into a
// PNG with `pdftoppm` (bench/results/export-page-1.png). Run by `npm test` after the suite.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { api, newTenant } from "./lib/notify-clients.mjs";
import { buildWorker, serveWorker } from "./lib/serve.mjs";

const root = path.resolve(import.meta.dirname, "..");
const { url, mf } = await serveWorker({ scriptPath: buildWorker() });
const wait = async (what, check, ms = 30_000) => {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
};

try {
  const tenant = await newTenant(url, "수출 테스트");
  const collection = (await api(url, "POST", "/v1/collections", { token: tenant.key, body: { name: "규정" } })).body;
  // The first sentence is long enough to wrap on A4, so the PDF must break it between words.
  const text =
    "직원은 입사 첫해부터 매년 25일의 유급 휴가를 받으며 사용하지 않은 휴가는 부서장의 승인을 받아 " +
    "다음 해 삼월 말까지 이월할 수 있고 이월된 휴가는 새로 받은 휴가보다 먼저 사용해야 합니다. " +
    "휴가는 다음 해로 이월할 수 없습니다. 🌴";
  const doc = await api(url, "POST", `/v1/collections/${collection.id}/documents`, {
    token: tenant.key,
    body: { title: "휴가 규정", text, priority: "high" },
  });
  assert.equal(doc.status, 202);
  await wait(
    "the document",
    async () => (await api(url, "GET", `/v1/documents/${doc.body.id}`, { token: tenant.key })).body.status === "ready",
  );

  const started = performance.now();
  const created = await api(url, "POST", "/v1/exports", {
    token: tenant.key,
    body: {
      kind: "query",
      query: "유급 휴가는 며칠입니까?",
      collection_ids: [collection.id],
      mode: "fast",
      title: "휴가 답변",
    },
  });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const done = await wait("the export", async () => {
    const row = (await api(url, "GET", `/v1/exports/${created.body.id}`, { token: tenant.key })).body;
    return row.status === "ready" || row.status === "failed" ? row : undefined;
  });
  assert.equal(done.status, "ready", done.error ?? "");
  const ms = Math.round(performance.now() - started);
  const res = await fetch(`${url}/v1/exports/${done.id}/file`, { headers: { authorization: `Bearer ${tenant.key}` } });
  assert.equal(res.headers.get("content-type"), "application/pdf");
  const pdf = Buffer.from(await res.arrayBuffer());
  const dir = mkdtempSync(path.join(tmpdir(), "edgerag-export-"));
  const file = path.join(dir, "export.pdf");
  writeFileSync(file, pdf);
  const extracted = execFileSync("pdftotext", ["-layout", file, "-"], { encoding: "utf8" });
  for (const words of ["휴가 답변", "유급 휴가는 며칠입니까", "25일의", "휴가 규정", "수출 테스트"]) {
    assert.ok(extracted.includes(words), `the PDF's text lacks "${words}":\n${extracted}`);
  }
  // The answer wrapped (its sentence is longer than a line), and no Korean word was cut in two:
  // every word of it is whole on some line of the PDF's text.
  // The answer's own lines (the sources below repeat the sentence and could wrap elsewhere).
  const lines = extracted.slice(extracted.indexOf("Answer"), extracted.indexOf("Sources")).split("\n");
  const [first] = text.split(". ");
  assert.ok(
    lines.some((line) => line.includes("직원은 입사")) &&
      !lines.some((l) => l.includes("직원은") && l.includes("합니다")),
    `the answer's sentence did not wrap:\n${extracted}`,
  );
  for (const word of first.split(/\s+/)) {
    const bare = word.replace(/[.,]$/u, "");
    assert.ok(
      lines.some((line) => line.includes(bare)),
      `"${bare}" is broken across lines in the PDF:\n${extracted}`,
    );
  }
  assert.match(extracted, /Page 1 of 1/);
  mkdirSync(path.join(root, "bench", "results"), { recursive: true });
  execFileSync("pdftoppm", [
    "-png",
    "-r",
    "80",
    "-f",
    "1",
    "-l",
    "1",
    "-singlefile",
    file,
    path.join(root, "bench", "results", "export-page-1"),
  ]);
  console.log(
    `e2e exports (Browser Rendering against ${url}): a Korean answer in ${ms} ms, ${done.pages} page(s), ${done.bytes} bytes; ` +
      "pdftotext finds the Korean words; bench/results/export-page-1.png",
  );
} catch (error) {
  console.error("e2e exports failed:", error);
  process.exitCode = 1;
} finally {
  await mf.dispose();
}

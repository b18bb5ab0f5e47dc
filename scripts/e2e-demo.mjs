#!/usr/bin/env node
// `npm run demo` end to end: the tour against the built Worker served on loopback, asserting that
// every sample document is ready and every question is answered from the right one, with
// citations. Run by `npm test` after the vitest suite.
import assert from "node:assert/strict";
import { QUESTIONS, runDemo } from "./demo.mjs";
import { buildWorker, serveWorker } from "./lib/serve.mjs";

const { url, mf } = await serveWorker({ scriptPath: buildWorker() });
try {
  const result = await runDemo({ url, adminToken: "bench-admin-token", log: () => undefined });
  assert.equal(result.documents.length, 5);
  assert.ok(result.documents.every((d) => d.status === "ready" && d.chunk_count > 0));
  for (const [i, { answer, query }] of result.answers.entries()) {
    const expected = QUESTIONS[i]?.expect;
    assert.equal(answer.abstained, false, query);
    assert.match(answer.answer, expected, `${query} → ${answer.answer}`);
    assert.ok(answer.citations.length > 0, query);
  }
  console.log(
    `e2e demo (${url}): 5 sample documents ready, ${result.answers.length} questions answered with citations`,
  );
} catch (error) {
  console.error("e2e demo failed:", error);
  process.exitCode = 1;
} finally {
  await mf.dispose();
}

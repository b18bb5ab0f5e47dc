#!/usr/bin/env node
// The console in a real browser (Debian's Chromium through puppeteer-core) against the built Worker
// served on loopback: paste a key, see the dashboard's SVG charts and figures, the documents, a
// streamed answer with its citations, and a live notification. Fails on any page error or CSP
// violation. Saves bench/results/console.png. Run by `npm test` after the vitest suite.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import puppeteer from "puppeteer-core";
import { api, newTenant } from "./lib/notify-clients.mjs";
import { buildWorker, serveWorker } from "./lib/serve.mjs";

const root = path.resolve(import.meta.dirname, "..");
const chrome = process.env.CHROME_PATH ?? "/usr/bin/chromium";
if (!existsSync(chrome)) {
  console.error(`e2e console: no browser at ${chrome}; run: sudo npm run setup:local -- chromium`);
  process.exit(1);
}

const { url, mf } = await serveWorker({ scriptPath: buildWorker() });
const browser = await puppeteer.launch({
  executablePath: chrome,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const problems = [];
try {
  // A tenant with a ready document, a few answered questions, and rolled-up figures.
  const tenant = await newTenant(url, "Console");
  const collection = (await api(url, "POST", "/v1/collections", { token: tenant.key, body: { name: "handbook" } }))
    .body;
  const doc = await api(url, "POST", `/v1/collections/${collection.id}/documents`, {
    token: tenant.key,
    body: {
      title: "Leave policy",
      text: "Employees receive twenty five days of paid vacation every year.",
      priority: "high",
    },
  });
  assert.equal(doc.status, 202);
  let status = "queued";
  for (let i = 0; i < 100 && status !== "ready"; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = (await api(url, "GET", `/v1/documents/${doc.body.id}`, { token: tenant.key })).body.status;
  }
  assert.equal(status, "ready");
  for (const mode of ["fast", "balanced", "deep", "fast"]) {
    await api(url, "POST", "/v1/query", {
      token: tenant.key,
      body: { query: "How many vacation days?", collection_ids: [collection.id], mode },
    });
  }
  await new Promise((r) => setTimeout(r, 1_200)); // the query log is written in batches
  await (await mf.getWorker()).scheduled({ cron: "*/5 * * * *" });

  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") {
      problems.push(`console: ${message.text()}`);
    }
  });
  page.on("requestfailed", (request) => {
    // Under load Chromium can report a streamed fetch the page read to its end (`done`) as
    // aborted once the 200 is in (curl and the page's reader both see a complete body); what the
    // answer stream carried is asserted below. Any other failure is a problem.
    const failure = request.failure()?.errorText;
    if (failure === "net::ERR_ABORTED" && request.response()?.ok()) {
      return;
    }
    problems.push(`request failed: ${request.url()} ${failure}`);
  });
  await page.goto(`${url}/console`, { waitUntil: "networkidle0" });
  await page.type("#key", tenant.key);
  await page.click("#key-form button[type=submit]");
  await page.waitForSelector("body[data-loaded=true]", { timeout: 10_000 });

  const figures = await page.$$eval("#totals .figure", (nodes) => nodes.map((n) => n.textContent));
  assert.ok(
    figures.some((f) => f.includes("4") && f.includes("queries")),
    `figures: ${figures}`,
  );
  assert.ok((await page.$$("#chart-queries svg rect.bar")).length > 0, "a bar chart");
  assert.ok((await page.$$("#chart-latency svg circle.dot")).length > 0, "latency points");
  const rows = await page.$$eval("#documents tbody tr", (trs) => trs.map((tr) => tr.textContent));
  assert.ok(
    rows.some((r) => r.includes("Leave policy") && r.includes("ready")),
    `documents: ${rows}`,
  );
  assert.equal(await page.$eval("#key", (el) => el.type), "password");
  assert.equal(await page.evaluate(() => localStorage.length), 0, "the key is never in localStorage");

  await page.type("#question", "How many days of paid vacation?");
  await page.click("#ask-form button[type=submit]");
  await page.waitForSelector("#answer[data-done=true]", { timeout: 10_000 });
  const answer = await page.$eval("#answer", (el) => el.textContent);
  assert.match(answer, /twenty five days/);
  const citations = await page.$$eval("#citations li", (lis) => lis.map((li) => li.textContent));
  assert.ok(citations.length > 0 && citations[0].includes("Leave policy"), `citations: ${citations}`);

  await page.waitForFunction(() => document.querySelector("#live")?.textContent === "live", { timeout: 10_000 });
  await api(url, "POST", "/v1/admin/alerts", {
    body: { tenant_id: tenant.id, severity: "info", message: "hello from the e2e test" },
  });
  await page.waitForFunction(
    () =>
      [...document.querySelectorAll("#notifications li")].some((li) => li.textContent.includes("hello from the e2e")),
    { timeout: 10_000 },
  );

  mkdirSync(path.join(root, "bench", "results"), { recursive: true });
  const shot = path.join(root, "bench", "results", "console.png");
  await page.screenshot({ path: shot, fullPage: true });
  assert.deepEqual(problems, []);

  // The front door, the API reference and the error pages, with nothing fetched from elsewhere.
  const docs = await browser.newPage();
  const offsite = [];
  docs.on("request", (request) => {
    if (!request.url().startsWith(url) && !request.url().startsWith("data:")) {
      offsite.push(request.url());
    }
  });
  docs.on("pageerror", (error) => problems.push(`docs page error: ${error.message}`));
  await docs.goto(`${url}/`, { waitUntil: "networkidle0" });
  const links = await docs.$$eval("a", (as) => as.map((a) => a.getAttribute("href")));
  for (const href of ["/console", "/docs", "/docs/errors", "/health"]) {
    assert.ok(links.includes(href), `the front door links ${href}: ${links}`);
  }
  await docs.goto(`${url}/docs`, { waitUntil: "networkidle0" });
  await docs.waitForSelector(".opblock", { timeout: 10_000 });
  const operations = (await docs.$$(".opblock")).length;
  assert.ok(operations >= 30, `Swagger UI shows the operations (${operations})`);
  const problem = await api(url, "GET", "/v1/collections", { token: "not-a-key" });
  await docs.goto(problem.body.type, { waitUntil: "networkidle0" });
  assert.match(await docs.$eval("h1", (h) => h.textContent), /unauthorized — 401/);
  assert.deepEqual(offsite, [], "no request leaves the deployment");
  assert.deepEqual(problems, []);
  console.log(
    `e2e console (Chromium against ${url}): loaded, charts, documents, streamed answer, live notification; ` +
      `/ and /docs (${operations} operations) and an error's type page with no off-site request; ${path.relative(root, shot)}`,
  );
} catch (error) {
  console.error("e2e console failed:", error, problems);
  process.exitCode = 1;
} finally {
  await browser.close();
  await mf.dispose();
}

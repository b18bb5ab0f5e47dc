#!/usr/bin/env node
// `npm test [-- vitest args]`: the whole suite, on any machine. The suite talks to system programs
// (redis-server, for the Upstash adapters); when one is missing this installs it first with the
// project's setup script if it can (root, or passwordless sudo, with apt-get) and says so; if it
// cannot, it stops and names the one command to run. EDGERAG_SKIP_SYSTEM_TESTS=1 skips the suites
// that need them instead, for someone who chooses to (never in CI).
import { spawnSync } from "node:child_process";
import path from "node:path";
import { has, install, missingOf, prepareBrowser } from "./lib/system.mjs";

const root = path.resolve(import.meta.dirname, "..");
/** Programs the suite starts itself: redis-server (global setup), chromium (the console's browser test). */
const PROGRAMS = ["redis-server", "chromium"];
/** Packages that are not programs: the fonts PDF exports need for Korean, Chinese, Japanese, emoji. */
const PACKAGES = ["fonts-noto-cjk", "fonts-noto-color-emoji", "poppler-utils"];

const missing = missingOf({ programs: PROGRAMS, packages: PACKAGES });

// The opt-out is ignored in CI (as the global setup ignores it), so CI never skips.
if (missing.length > 0 && process.env.EDGERAG_SKIP_SYSTEM_TESTS === "1" && !process.env.CI) {
  console.warn(
    `npm test: ${missing.join(", ")} missing; EDGERAG_SKIP_SYSTEM_TESTS=1, so the suites that need them skip.`,
  );
} else if (missing.length > 0 && !install(missing, "npm test")) {
  console.error("  (or set EDGERAG_SKIP_SYSTEM_TESTS=1 to skip the suites that need them)");
  process.exit(1);
}

// Miniflare's Browser Rendering launches Debian's chromium (idempotent; see the script).
prepareBrowser();

const args = process.argv.slice(2);
const vitest = spawnSync("vitest", ["run", ...args], { stdio: "inherit", cwd: root });
if (vitest.status !== 0) {
  process.exit(vitest.status ?? 1);
}
// A whole run (not a filtered one) ends with the end-to-end checks that need Node: real `ws`
// clients on the WebSocket stream, the console in Chromium, and a Korean PDF export read back with
// poppler, against the built Worker (the vitest suite itself runs in workerd).
if (args.every((arg) => arg === "--coverage")) {
  // Node's own test runner for what runs outside the Worker: the ops queries (on node:sqlite) and
  // the deploy script (against a fake wrangler and a stand-in of the Cloudflare API).
  const tests = ["ops.test.mjs", "deploy.test.mjs", "dev-server.test.mjs"].map((name) =>
    path.join(root, "test", "node", name),
  );
  const node = spawnSync("node", ["--test", ...tests], { stdio: "inherit", cwd: root });
  if (node.status !== 0) {
    process.exit(node.status ?? 1);
  }
  const optedOut = process.env.EDGERAG_SKIP_SYSTEM_TESTS === "1" && !process.env.CI && !has("chromium");
  if (optedOut) {
    console.warn("npm test: chromium missing; EDGERAG_SKIP_SYSTEM_TESTS=1, so the console's browser test skips.");
  }
  for (const script of [
    "e2e-notifications.mjs",
    "e2e-demo.mjs",
    ...(optedOut ? [] : ["e2e-console.mjs", "e2e-exports.mjs"]),
  ]) {
    const e2e = spawnSync("node", [path.join(root, "scripts", script)], { stdio: "inherit", cwd: root });
    if (e2e.status !== 0) {
      process.exit(e2e.status ?? 1);
    }
  }
}

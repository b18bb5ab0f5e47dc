#!/usr/bin/env node
// `npm test [-- vitest args]`: the whole suite, on any machine, in three layers, each runnable alone:
//   npm run test:unit         services and lib over in-memory adapters; starts nothing (vitest)
//   npm run test:integration  through the Worker in workerd, with the stand-ins (vitest)
//   npm run test:e2e          served Workers and real clients: Node's runner, ws, Chromium, poppler
// The integration and e2e layers talk to system programs (redis-server, chromium, poppler, fonts);
// when one is missing this installs it first with the project's setup script if it can (root, or
// passwordless sudo, with apt-get) and says so; if it cannot, it stops and names the one command to
// run. EDGERAG_SKIP_SYSTEM_TESTS=1 skips the suites that need them instead, for someone who
// chooses to (never in CI).
import { spawnSync } from "node:child_process";
import path from "node:path";
import { buildWorker } from "./lib/serve.mjs";
import { has, install, missingOf, prepareBrowser } from "./lib/system.mjs";

const root = path.resolve(import.meta.dirname, "..");
/** Programs the suite starts itself: redis-server (global setup), chromium (the console's browser test). */
const PROGRAMS = ["redis-server", "chromium"];
/** Packages that are not programs: the fonts PDF exports need for Korean, Chinese, Japanese, emoji. */
const PACKAGES = ["fonts-noto-cjk", "fonts-noto-color-emoji", "poppler-utils", "postgresql", "pgbouncer"];

const LAYERS = ["unit", "integration", "e2e"];
/** `--layer NAME` (repeatable) picks layers; the rest of the arguments go to vitest. */
const args = process.argv.slice(2);
const layers = new Set();
for (let i = args.indexOf("--layer"); i >= 0; i = args.indexOf("--layer")) {
  const [, name] = args.splice(i, 2);
  if (!LAYERS.includes(name)) {
    console.error(`npm test: unknown layer ${name} (${LAYERS.join(", ")})`);
    process.exit(2);
  }
  layers.add(name);
}
if (layers.size === 0) {
  for (const name of LAYERS) {
    layers.add(name);
  }
}

if (layers.size === 1 && layers.has("unit")) {
  run("vitest", ["run", "--project", "unit", ...args]);
  process.exit(0);
}

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

// The served-Worker steps (the integration layer's global setup, the Node tests, the e2e scripts)
// serve one bundle built now, not one each.
if (layers.has("integration") || layers.has("e2e")) {
  process.env.EDGERAG_WORKER_BUILD ??= buildWorker();
}

// PostgreSQL (started here; idempotent): the integration suite runs on it too, as the project
// `integration-postgres`, and the Node tests migrate, copy into and deploy to it.
const noPostgres = process.env.EDGERAG_SKIP_SYSTEM_TESTS === "1" && !process.env.CI && !has("psql");
if (noPostgres) {
  console.warn("npm test: postgresql missing; EDGERAG_SKIP_SYSTEM_TESTS=1, so the PostgreSQL suites skip.");
} else if (layers.has("integration") || layers.has("e2e")) {
  run("bash", [path.join(root, "scripts", "setup-postgres.sh")]);
}
const projects = [
  ...(layers.has("unit") ? ["unit"] : []),
  ...(layers.has("integration") ? ["integration", ...(noPostgres ? [] : ["integration-postgres"])] : []),
];
// Coverage is measured on D1's run; the PostgreSQL run of the same files runs after it, uninstrumented.
const covered = args.includes("--coverage") ? projects.filter((name) => name !== "integration-postgres") : projects;
if (covered.length > 0) {
  run("vitest", ["run", ...covered.flatMap((name) => ["--project", name]), ...args]);
}
if (covered.length < projects.length) {
  run("vitest", ["run", "--project", "integration-postgres", ...args.filter((arg) => arg !== "--coverage")]);
}
// A whole layer (not a filtered vitest run) of the end-to-end checks that need Node: the ops
// queries (on node:sqlite), the deploy script (a fake wrangler and a Cloudflare API stand-in),
// `wrangler dev` itself and the SDK against a served Worker, under Node's test runner; then real
// `ws` clients on the WebSocket stream, the console in Chromium, a Korean PDF export read back
// with poppler, the demo, and the official MCP client (API key and the OAuth flow).
if (layers.has("e2e") && args.every((arg) => arg === "--coverage")) {
  const tests = [
    "ops.test.mjs",
    "deploy.test.mjs",
    "dev-server.test.mjs",
    "sdk.test.mjs",
    ...(noPostgres ? [] : ["postgres.test.mjs", "db-copy.test.mjs"]),
  ].map((name) => path.join(root, "test", "node", name));
  process.env.EDGERAG_NO_POSTGRES = noPostgres ? "1" : "";
  run("node", ["--test", ...tests]);
  const optedOut = process.env.EDGERAG_SKIP_SYSTEM_TESTS === "1" && !process.env.CI && !has("chromium");
  if (optedOut) {
    console.warn("npm test: chromium missing; EDGERAG_SKIP_SYSTEM_TESTS=1, so the console's browser test skips.");
  }
  for (const script of [
    "e2e-notifications.mjs",
    "e2e-demo.mjs",
    "e2e-mcp.mjs",
    ...(optedOut ? [] : ["e2e-console.mjs", "e2e-exports.mjs"]),
  ]) {
    run("node", [path.join(root, "scripts", script)]);
  }
}

/** Runs a command in the project; a failure ends this script with its status. */
function run(command, commandArgs) {
  const { status } = spawnSync(command, commandArgs, { stdio: "inherit", cwd: root });
  if (status !== 0) {
    process.exit(status ?? 1);
  }
}

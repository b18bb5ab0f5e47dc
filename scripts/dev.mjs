#!/usr/bin/env node
// `npm run dev [-- wrangler dev flags]`: applies local D1 migrations, then serves the Worker on
// http://localhost:8787 with local D1 and Durable Objects. Settings come from .dev.vars.example,
// overridden by .dev.vars when you create one; no account and no file of your own are needed.
// PDF exports render with Debian's chromium (and the Noto fonts for Korean, Chinese, Japanese):
// installed first when missing and this user can, then pointed at by Miniflare's Browser
// Rendering, as `npm test` does. Without them everything else works and exports say what to run.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { stripVTControlCharacters } from "node:util";
import { LOCAL_POSTGRES, migratePostgres } from "./db-migrate.mjs";
import { devVar } from "./lib/dev-vars.mjs";
import { ensurePostgres, pooled } from "./lib/postgres.mjs";
import { install, missingOf, prepareBrowser } from "./lib/system.mjs";

const missing = missingOf({ programs: ["chromium"], packages: ["fonts-noto-cjk"] });
if (missing.length > 0 && !install(missing, "npm run dev")) {
  console.error("npm run dev: starting without them; PDF exports will answer 503 until they are installed.");
}
prepareBrowser({ quiet: true });

// One line for the migrations (wrangler prints a table per file); everything when they fail.
// `--persist-to DIR` (a wrangler dev flag) moves the local state: the migrations go there too.
const args = process.argv.slice(2);
const at = args.findIndex((a) => a === "--persist-to" || a.startsWith("--persist-to="));
const persist = at < 0 ? [] : args[at]?.includes("=") ? [args[at]] : ["--persist-to", args[at + 1] ?? ""];
const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local", ...persist], {
  encoding: "utf8",
  env: { ...process.env, CI: "true" }, // no interactive confirmation
});
if (migrate.status !== 0) {
  process.stdout.write(migrate.stdout ?? "");
  process.stderr.write(migrate.stderr ?? "");
  process.exit(migrate.status ?? 1);
}
const applied = /About to apply (\d+) migration/.exec(migrate.stdout)?.[1];
console.log(applied ? `D1 (local): ${applied} migrations applied` : "D1 (local): up to date");

// DATABASE_PROVIDER=hyperdrive (environment, or .dev.vars): PostgreSQL through a local Hyperdrive
// binding — CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE when you set it, else the
// local cluster of `npm run setup:postgres` (started here) — migrated, and the binding added to a
// copy of wrangler.toml (wrangler.dev.toml) when wrangler.toml has none of its own.
const config = [];
const devEnv = {};
if ((process.env.DATABASE_PROVIDER ?? devVar("DATABASE_PROVIDER")) === "hyperdrive") {
  const LOCAL = "CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE";
  let url = process.env[LOCAL] ?? devVar(LOCAL);
  let migrations = url;
  if (!url) {
    ensurePostgres();
    // Migrated directly; served through the local pool, as Hyperdrive pools in production.
    migrations = LOCAL_POSTGRES;
    url = pooled(LOCAL_POSTGRES);
  }
  const applied = await migratePostgres(migrations);
  console.log(
    `PostgreSQL (${new URL(migrations).host}${new URL(migrations).pathname}): ${applied} migrations applied in all`,
  );
  devEnv[LOCAL] = url;
  config.push("--var", "DATABASE_PROVIDER:hyperdrive");
  const toml = readFileSync("wrangler.toml", "utf8");
  if (!/^\[\[hyperdrive\]\]/m.test(toml)) {
    writeFileSync(
      "wrangler.dev.toml",
      `# Written by npm run dev for DATABASE_PROVIDER=hyperdrive: wrangler.toml plus a local Hyperdrive binding.\n${toml}\n` +
        `[[hyperdrive]]\nbinding = "HYPERDRIVE"\nid = "local"\n`,
    );
    config.unshift("--config", "wrangler.dev.toml");
  }
}

const envFiles = [".dev.vars.example", ".dev.vars"].filter((f) => existsSync(f)).flatMap((f) => ["--env-file", f]);
// Quiet: the Worker logs one JSON line per request itself, so wrangler's own request lines are
// dropped, its bindings table is shown once (it prints it again on reload), and no fetch of
// Cloudflare's `request.cf` sample is tried (offline it fails with a stack trace). workerd's report
// of a failed DNS lookup (the Worker answers 503 and logs a warning) loses its native stack.
const dev = spawn("wrangler", ["dev", ...config, ...envFiles, ...args], {
  stdio: ["inherit", "pipe", "pipe"],
  env: { CLOUDFLARE_CF_FETCH_ENABLED: "false", FORCE_COLOR: "1", ...process.env, ...devEnv },
});
const REQUEST_LINE = /^\[wrangler:info\] (GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) \S+ \d{3} /;
let tables = 0;
let skipping = false;
let dropNextStack = false;
function filter(output) {
  let pending = "";
  return (chunk) => {
    const lines = (pending + chunk).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      if (line.includes("Your Worker has access to the following bindings")) {
        skipping = ++tables > 1;
      } else if (skipping && line.trim() === "") {
        skipping = false;
        continue;
      }
      if (skipping || REQUEST_LINE.test(stripVTControlCharacters(line))) {
        continue;
      }
      if (line.includes("failed to lookup address information")) {
        output.write("workerd: a DNS lookup failed (offline?)\n");
        dropNextStack = true;
        continue;
      }
      if (dropNextStack && /^\s*stack: /.test(line)) {
        dropNextStack = false;
        continue;
      }
      output.write(`${line}\n`);
      if (line.includes("Ready on")) {
        indexGuides(/Ready on (\S+)/.exec(stripVTControlCharacters(line))?.[1]);
      }
    }
  };
}

/** The cron that indexes the guides for /v1/help does not run locally: ask once the Worker is up. */
let indexed = false;
function indexGuides(url) {
  if (indexed || !url) {
    return;
  }
  indexed = true;
  const token = devVar("ADMIN_TOKEN");
  fetch(`${url.replace("localhost", "127.0.0.1")}/v1/admin/docs/sync`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  })
    .then(async (res) => {
      const body = await res.json();
      if (res.ok && body.added.length > 0) {
        console.log(`guides for /v1/help: indexing ${body.added.join(", ")}`);
      }
    })
    .catch(() => undefined);
}
dev.stdout.on("data", filter(process.stdout));
dev.stderr.on("data", filter(process.stderr));
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => dev.kill(signal));
}
dev.on("exit", (code) => process.exit(code ?? 0));

#!/usr/bin/env node
/**
 * `npm run deploy`: ships the Worker with a gradual rollout that rolls itself back.
 *
 *   1. The relational store's migrations, before any code that needs them: D1's (`wrangler d1
 *      migrations apply DB --remote`), or with DATABASE_PROVIDER = "hyperdrive" in the config's
 *      [vars], migrations-pg/ applied to DATABASE_URL (the database's own connection string, as a
 *      deploy secret: Hyperdrive's binding exists only inside the Worker). Migrations are additive,
 *      so the version still serving keeps working on the new schema.
 *   2. A pending Durable Object migration cannot go through a gradual deployment: then a plain
 *      `wrangler deploy` (with a warning), secrets by `wrangler secret put`, and a health probe.
 *   3. Otherwise `wrangler versions upload` (secrets attached to the new version only, from the
 *      environment through a 0600 temporary file), and a probe of the new version at 0 % traffic
 *      through the version-override header: /health/ready and a smoke query. A failed probe stops
 *      here: no traffic has moved.
 *   4. `wrangler versions deploy` at each of DEPLOY_STEPS (10 → 50 → 100 %), each followed by a
 *      gate: the new version's error rate and p95 from Analytics Engine (its version id is on every
 *      data point) when enough requests were seen, else from probes. A failed gate runs
 *      `wrangler rollback <previous version>` and exits 1.
 *
 * Nothing secret is printed: wrangler's own output is captured and only echoed on failure, with
 * every secret value masked.
 *
 * Settings (environment): CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID (wrangler reads them too);
 * DEPLOY_URL (the Worker's URL, for probes); DEPLOY_SMOKE_KEY + DEPLOY_SMOKE_COLLECTION (optional:
 * a query-scoped key and a collection for the smoke query); DEPLOY_SECRETS (names of environment
 * variables to set as Worker secrets); DEPLOY_STEPS (default 10,50,100); DEPLOY_GATE_WAIT_S
 * (default 300); DEPLOY_GATE_MIN_REQUESTS (default 50); DEPLOY_MAX_ERROR_RATE (default 0.01);
 * DEPLOY_MAX_P95_MS (default 3000); DEPLOY_PROBES (default 20); WRANGLER (default the project's);
 * CLOUDFLARE_API_BASE_URL (wrangler's, default https://api.cloudflare.com/client/v4);
 * DEPLOY_MODELS (default `workers-ai`; `local` ships wrangler.toml's embedded adapters as they are);
 * DEPLOY_CONFIG (default `wrangler.toml`: the configuration to deploy, beside it); DATABASE_URL
 * (with DATABASE_PROVIDER = "hyperdrive": PostgreSQL's migrations go there; never printed).
 *
 * Models: a deployment answers with Workers AI by default. wrangler.toml keeps the embedded
 * adapters (so `npm run dev` and the tests need no account), and every wrangler call here reads a
 * generated `wrangler.deploy.toml` beside it instead: the same file with the `AI` binding declared
 * and WORKERS_AI_SETTINGS below in its [vars]. A Workers AI call that fails or runs out of budget
 * degrades to the embedded adapter at request time (`degraded` names it).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { migratePostgres } from "./db-migrate.mjs";

const root = path.resolve(import.meta.dirname, "..");
const env = process.env;
const setting = (name, fallback) => (env[name] === undefined || env[name] === "" ? fallback : env[name]);
const number = (name, fallback) => {
  const value = Number(setting(name, fallback));
  if (!Number.isFinite(value) || value < 0) {
    fail(`${name} must be a non-negative number`);
  }
  return value;
};

function fail(message) {
  console.error(`deploy: ${message}`);
  process.exit(1);
}

const WRANGLER = setting("WRANGLER", path.join(root, "node_modules", ".bin", "wrangler"));
const API = setting("CLOUDFLARE_API_BASE_URL", "https://api.cloudflare.com/client/v4").replace(/\/+$/, "");
const SECRET_NAMES = setting("DEPLOY_SECRETS", "")
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);
const SECRET_VALUES = [...SECRET_NAMES.map((name) => env[name]), env.DATABASE_URL].filter((v) => v);
const SOURCE = path.resolve(root, setting("DEPLOY_CONFIG", "wrangler.toml"));
const STEPS = setting("DEPLOY_STEPS", "10,50,100")
  .split(",")
  .map(Number)
  .filter((p) => p > 0 && p <= 100);
const GATE_WAIT_S = number("DEPLOY_GATE_WAIT_S", "300");
const GATE_MIN_REQUESTS = number("DEPLOY_GATE_MIN_REQUESTS", "50");
const MAX_ERROR_RATE = number("DEPLOY_MAX_ERROR_RATE", "0.01");
const MAX_P95_MS = number("DEPLOY_MAX_P95_MS", "3000");
const PROBES = Math.max(1, number("DEPLOY_PROBES", "20"));
const MODELS = setting("DEPLOY_MODELS", "workers-ai");
if (MODELS !== "workers-ai" && MODELS !== "local") {
  fail('DEPLOY_MODELS must be "workers-ai" or "local"');
}

/**
 * What a deployment runs on Workers AI: multilingual embeddings (bge-m3, 1024 dimensions: our
 * first users write Korean), the cross-encoder reranker, and an 8B instruction model for answers.
 * 1024-dimensional vectors fill a shard's VECTOR_SHARD_MAX_BYTES (76.8 MB) at 18,750 chunks, so
 * collections split earlier. docs/operations.md "Deploying" says what each costs per 1,000 queries and pages.
 */
const WORKERS_AI_SETTINGS = {
  EMBEDDINGS_PROVIDER: "workers-ai",
  EMBEDDINGS_MODEL: "@cf/baai/bge-m3",
  EMBEDDINGS_DIMENSIONS: "1024",
  RERANKER_PROVIDER: "workers-ai",
  RERANKER_MODEL: "@cf/baai/bge-reranker-base",
  GENERATOR_PROVIDER: "workers-ai",
  GENERATOR_MODEL: "@cf/meta/llama-3.1-8b-instruct-fp8-fast",
  SEARCH_SHARD_SPLIT_CHUNKS: "15000",
};

/**
 * The wrangler configuration a deployment uses: wrangler.toml as it is (DEPLOY_MODELS=local), or
 * with the Workers AI binding and settings. Written beside wrangler.toml (paths in it are relative
 * to the file) and removed when the deploy ends.
 */
function deployToml(toml, models = MODELS) {
  if (models === "local") {
    return toml;
  }
  const vars = /^\[vars\]\s*$/m.exec(toml);
  if (!vars) {
    fail("wrangler.toml has no [vars] table");
  }
  let out = toml;
  for (const [name, value] of Object.entries(WORKERS_AI_SETTINGS)) {
    const line = new RegExp(`^${name}\\s*=.*$`, "m");
    const assignment = `${name} = ${JSON.stringify(value)}`;
    out = line.test(out) ? out.replace(line, assignment) : out.replace(/^\[vars\]\s*$/m, `[vars]\n${assignment}`);
  }
  if (!/^\[ai\]\s*$/m.test(out)) {
    out += '\n# Added by npm run deploy (DEPLOY_MODELS=workers-ai).\n[ai]\nbinding = "AI"\n';
  }
  return out;
}

const CONFIG = path.join(root, "wrangler.deploy.toml");

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const mask = (text) => SECRET_VALUES.reduce((out, secret) => out.split(secret).join("[redacted]"), String(text));
const log = (message) => console.log(`deploy: ${mask(message)}`);

/** Runs wrangler with its output captured (printed, masked, only when it fails). */
function wrangler(args, { input, extraEnv = {} } = {}) {
  const result = spawnSync(WRANGLER, [...args, "--config", CONFIG], {
    cwd: root,
    input,
    encoding: "utf8",
    env: { ...env, ...extraEnv, CI: "true" },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) {
    console.error(mask(`${result.stdout ?? ""}${result.stderr ?? ""}${result.error?.message ?? ""}`));
    throw new Error(`wrangler ${args.slice(0, 2).join(" ")} failed (exit ${result.status})`);
  }
  return result.stdout;
}

/**
 * The config's name, its last Durable Object migration tag and its relational store (the file's
 * lines, not parsed TOML-wide).
 */
function readConfig() {
  const toml = readFileSync(SOURCE, "utf8");
  const name = /^name\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  const tags = [...toml.matchAll(/^\[\[migrations\]\][^[]*?^tag\s*=\s*"([^"]+)"/gms)].map((m) => m[1]);
  if (!name) {
    fail(`${path.basename(SOURCE)} has no name`);
  }
  const store = /^DATABASE_PROVIDER\s*=\s*"([^"]*)"/m.exec(toml)?.[1] || "d1";
  if (store === "hyperdrive" && !/^\[\[hyperdrive\]\]/m.test(toml)) {
    fail(
      `DATABASE_PROVIDER is "hyperdrive" but ${path.basename(SOURCE)} has no [[hyperdrive]] binding (docs/database.md)`,
    );
  }
  return { name, lastTag: tags.at(-1), store };
}

async function cloudflare(pathname, init = {}) {
  const response = await fetch(`${API}/accounts/${env.CLOUDFLARE_ACCOUNT_ID}${pathname}`, {
    ...init,
    headers: { authorization: `Bearer ${env.CLOUDFLARE_API_TOKEN}`, ...init.headers },
    signal: AbortSignal.timeout(30_000),
  });
  return response;
}

/** The Durable Object migration tag of the deployed script; `null` when the Worker does not exist yet. */
async function deployedMigrationTag(name) {
  const response = await cloudflare(`/workers/services/${encodeURIComponent(name)}`);
  if (response.status === 404) {
    return null;
  }
  if (!response.ok) {
    throw new Error(`reading the deployed script answered ${response.status}`);
  }
  const body = await response.json();
  return body.result?.default_environment?.script?.migration_tag ?? "";
}

/** The version serving the most traffic now (what a rollback returns to). */
function currentVersion() {
  const status = JSON.parse(wrangler(["deployments", "status", "--json"]));
  const versions = status.versions ?? [];
  const [top] = [...versions].sort((a, b) => b.percentage - a.percentage);
  return top?.version_id;
}

function secretsFile() {
  const dir = mkdtempSync(path.join(tmpdir(), "edgerag-deploy-"));
  const file = path.join(dir, "secrets.json");
  const secrets = Object.fromEntries(SECRET_NAMES.filter((n) => env[n]).map((n) => [n, env[n]]));
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function upload(message) {
  const dir = mkdtempSync(path.join(tmpdir(), "edgerag-wrangler-out-"));
  const output = path.join(dir, "output.json");
  const secrets = SECRET_NAMES.length > 0 ? secretsFile() : undefined;
  try {
    wrangler(["versions", "upload", "--message", message, ...(secrets ? ["--secrets-file", secrets.file] : [])], {
      extraEnv: { WRANGLER_OUTPUT_FILE_PATH: output },
    });
    const entries = readFileSync(output, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    const versionId = entries.find((e) => e.type === "version-upload")?.version_id;
    if (!versionId || !UUID.test(versionId)) {
      throw new Error("wrangler versions upload reported no version id");
    }
    return versionId;
  } finally {
    secrets?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
};

/**
 * Probes `version` (or whatever serves traffic, without one) with /health/ready and the smoke
 * query, `PROBES` times; returns the error rate and p95.
 */
async function probe(name, version) {
  const base = setting("DEPLOY_URL", "");
  if (!base) {
    throw new Error("DEPLOY_URL is not set: nothing to probe");
  }
  const headers = version ? { "Cloudflare-Workers-Version-Overrides": `${name}="${version}"` } : {};
  const requests = [() => fetch(`${base}/health/ready`, { headers, signal: AbortSignal.timeout(10_000) })];
  if (env.DEPLOY_SMOKE_KEY && env.DEPLOY_SMOKE_COLLECTION) {
    requests.push(() =>
      fetch(`${base}/v1/query`, {
        method: "POST",
        headers: { ...headers, authorization: `Bearer ${env.DEPLOY_SMOKE_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({
          query: "deploy smoke test",
          collection_ids: [env.DEPLOY_SMOKE_COLLECTION],
          mode: "fast",
        }),
        signal: AbortSignal.timeout(10_000),
      }),
    );
  }
  const latencies = [];
  let errors = 0;
  let lastError = "";
  for (let i = 0; i < PROBES; i++) {
    for (const request of requests) {
      const started = performance.now();
      try {
        const response = await request();
        await response.arrayBuffer();
        if (!response.ok) {
          errors++;
          lastError = `HTTP ${response.status}`;
        }
      } catch (error) {
        errors++;
        lastError = error.message;
      }
      latencies.push(performance.now() - started);
    }
  }
  return {
    source: "probe",
    requests: latencies.length,
    errorRate: errors / latencies.length,
    p95: percentile(latencies, 95),
    lastError,
  };
}

/** The new version's requests over the gate's window, from the Analytics Engine SQL API. */
async function analytics(version, windowS) {
  if (!env.CLOUDFLARE_ACCOUNT_ID || !env.CLOUDFLARE_API_TOKEN || !UUID.test(version)) {
    return undefined;
  }
  const sql =
    "SELECT SUM(_sample_interval * double2) AS requests, SUM(_sample_interval * double3) AS errors, " +
    "quantileExactWeighted(0.95)(double1, _sample_interval) AS p95 FROM edgerag_metrics " +
    `WHERE blob1 = 'request' AND blob3 = '${version}' AND timestamp > NOW() - INTERVAL '${Math.max(60, Math.ceil(windowS))}' SECOND FORMAT JSON`;
  try {
    const response = await cloudflare("/analytics_engine/sql", { method: "POST", body: sql });
    if (!response.ok) {
      return undefined;
    }
    const [row] = (await response.json()).data ?? [];
    const requests = Number(row?.requests ?? 0);
    return {
      source: "analytics",
      requests,
      errorRate: requests ? Number(row.errors) / requests : 0,
      p95: Number(row?.p95 ?? 0),
    };
  } catch {
    return undefined;
  }
}

function judge(figures, label) {
  const ok = figures.errorRate <= MAX_ERROR_RATE && figures.p95 <= MAX_P95_MS;
  log(
    `${label}: ${figures.source} ${figures.requests} requests, error rate ${(figures.errorRate * 100).toFixed(2)} % ` +
      `(max ${MAX_ERROR_RATE * 100} %), p95 ${Math.round(figures.p95)} ms (max ${MAX_P95_MS}) → ${ok ? "pass" : "FAIL"}` +
      (figures.lastError ? ` (last error: ${figures.lastError})` : ""),
  );
  return ok;
}

/** After a traffic step: the window's real traffic when there was enough of it, else probes. */
async function gate(name, version, label) {
  if (GATE_WAIT_S > 0) {
    log(`${label}: watching ${GATE_WAIT_S} s of traffic`);
    await new Promise((resolve) => setTimeout(resolve, GATE_WAIT_S * 1_000));
  }
  let figures = await analytics(version, GATE_WAIT_S);
  if (!figures || figures.requests < GATE_MIN_REQUESTS) {
    figures = await probe(name, version);
  }
  return judge(figures, label);
}

async function main() {
  const { name, lastTag, store } = readConfig();
  writeFileSync(CONFIG, deployToml(readFileSync(SOURCE, "utf8")));
  process.on("exit", () => rmSync(CONFIG, { force: true }));
  log(
    MODELS === "workers-ai"
      ? `models: Workers AI (${WORKERS_AI_SETTINGS.EMBEDDINGS_MODEL}, ${WORKERS_AI_SETTINGS.RERANKER_MODEL}, ${WORKERS_AI_SETTINGS.GENERATOR_MODEL}); DEPLOY_MODELS=local keeps the embedded ones`
      : "models: the embedded adapters of wrangler.toml (DEPLOY_MODELS=local)",
  );
  const message = setting("DEPLOY_MESSAGE", env.GITHUB_SHA ? `commit ${env.GITHUB_SHA}` : "npm run deploy");
  for (const required of ["CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "DEPLOY_URL"]) {
    if (!env[required]) {
      fail(`${required} is required`);
    }
  }

  if (store === "hyperdrive") {
    if (!env.DATABASE_URL) {
      fail('DATABASE_URL is required with DATABASE_PROVIDER = "hyperdrive": PostgreSQL is migrated from here');
    }
    log("applying PostgreSQL migrations (additive; the serving version keeps working)");
    try {
      log(`PostgreSQL: ${await migratePostgres(env.DATABASE_URL)} migrations applied in all`);
    } catch (error) {
      fail(`PostgreSQL migrations failed: ${mask(error.message)}`);
    }
  } else {
    log("applying D1 migrations (additive; the serving version keeps working)");
    wrangler(["d1", "migrations", "apply", "DB", "--remote"]);
  }

  const deployedTag = await deployedMigrationTag(name);
  if (deployedTag === null || (lastTag !== undefined && deployedTag !== lastTag)) {
    log(
      `WARNING: ${deployedTag === null ? "first deploy" : `Durable Object migration ${deployedTag || "(none)"} → ${lastTag}`}: ` +
        "gradual deployments cannot apply it; deploying at 100 % at once.",
    );
    wrangler(["deploy", "--message", message]);
    for (const secret of SECRET_NAMES.filter((n) => env[n])) {
      wrangler(["secret", "put", secret], { input: env[secret] });
      log(`secret ${secret} set`);
    }
    if (!judge(await probe(name, undefined), "probe")) {
      fail('the deployed Worker fails its probe; roll back by hand (docs/operations.md "Rollback by hand")');
    }
    log("deployed");
    await indexGuides();
    return;
  }

  const previous = currentVersion();
  if (!previous) {
    fail("wrangler deployments status names no current version");
  }
  const version = upload(message);
  log(`uploaded version ${version} (serving: ${previous})`);

  if (!judge(await probe(name, version), "0 % probe")) {
    fail(`version ${version} failed its probe at 0 %; no traffic was shifted`);
  }
  for (const percent of STEPS) {
    const specs = percent === 100 ? [`${version}@100%`] : [`${version}@${percent}%`, `${previous}@${100 - percent}%`];
    wrangler(["versions", "deploy", ...specs, "--message", `${message} (${percent} %)`, "--yes"]);
    log(`${version} at ${percent} %`);
    if (!(await gate(name, version, `${percent} % gate`))) {
      wrangler(["rollback", previous, "--message", `gate failed at ${percent} %`, "--yes"]);
      fail(`gate failed at ${percent} %: rolled back to ${previous}`);
    }
  }
  log(`version ${version} serves 100 %`);
  await indexGuides();
}

/**
 * The guides /v1/help answers from, re-indexed for the new code at once (only those that
 * changed); the cron does it within five minutes anyway, so a failure here is only a warning.
 */
async function indexGuides() {
  if (!env.DEPLOY_URL || !env.ADMIN_TOKEN) {
    log("guides for /v1/help: the cron indexes them within 5 minutes (DEPLOY_URL and ADMIN_TOKEN not both set)");
    return;
  }
  try {
    const res = await fetch(`${env.DEPLOY_URL.replace(/\/$/, "")}/v1/admin/docs/sync`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` },
      signal: AbortSignal.timeout(30_000),
    });
    const body = await res.json();
    log(
      res.ok
        ? `guides for /v1/help: ${body.added.length} re-indexed, ${body.unchanged} unchanged`
        : `WARNING: guides not indexed (${res.status}); the cron will`,
    );
  } catch (error) {
    log(`WARNING: guides not indexed (${mask(error.message)}); the cron will`);
  }
}

main().catch((error) => fail(mask(error.message)));

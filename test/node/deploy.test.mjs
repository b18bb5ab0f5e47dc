/**
 * `npm run deploy` (scripts/deploy.mjs) without Cloudflare: a fake `wrangler` records its
 * arguments and answers as the real one does (the `version-upload` line in
 * WRANGLER_OUTPUT_FILE_PATH, `deployments status --json`), and one local server stands in for the
 * few Cloudflare API calls (the deployed script's migration tag, the Analytics Engine SQL API) and
 * for the Worker the probes reach (answering per the version-override header).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import pg from "pg";
import { LOCAL_POSTGRES } from "../../scripts/db-migrate.mjs";

const root = path.resolve(import.meta.dirname, "../..");
const OLD = "11111111-1111-4111-8111-111111111111";
const NEW = "22222222-2222-4222-8222-222222222222";
const SECRET = "s3cr3t-value-that-must-never-print";
const lastTag = [...readFileSync(path.join(root, "wrangler.toml"), "utf8").matchAll(/^tag\s*=\s*"([^"]+)"/gm)].at(
  -1,
)[1];

/** A fake wrangler: appends its argv (and whether stdin had the secret) to $FAKE_LOG, answers like wrangler. */
function fakeWrangler(dir) {
  const file = path.join(dir, "wrangler");
  writeFileSync(
    file,
    `#!${process.execPath}
const fs = require("node:fs");
const args = process.argv.slice(2);
// Every call names the generated deploy configuration; what it says is recorded, the flag dropped.
const at = args.indexOf("--config");
const toml = at >= 0 ? fs.readFileSync(args[at + 1], "utf8") : "";
if (at >= 0) { args.splice(at, 2); }
const config = { named: at >= 0, ai: /^\\[ai\\]\\s*$/m.test(toml), generator: (/^GENERATOR_PROVIDER = "([^"]+)"/m.exec(toml) || [])[1], embeddings: (/^EMBEDDINGS_MODEL = "([^"]+)"/m.exec(toml) || [])[1], d1: toml.includes('migrations_dir = "migrations"') };
let stdin = "";
if (args[0] === "secret") { stdin = fs.readFileSync(0, "utf8"); }
const secretsFile = args.includes("--secrets-file") ? JSON.parse(fs.readFileSync(args[args.indexOf("--secrets-file") + 1], "utf8")) : undefined;
fs.appendFileSync(process.env.FAKE_LOG, JSON.stringify({ args, stdin: stdin.length, secretsFile, config }) + "\\n");
if (args[0] === "deployments" && args[1] === "status") {
  console.log(JSON.stringify({ id: "dep", versions: [{ version_id: "${OLD}", percentage: 100 }] }));
} else if (args[0] === "versions" && args[1] === "upload") {
  fs.appendFileSync(process.env.WRANGLER_OUTPUT_FILE_PATH, JSON.stringify({ type: "version-upload", version: 1, version_id: "${NEW}" }) + "\\n");
  console.log("Uploaded edgerag (Version ID: ${NEW}) with secrets " + (secretsFile ? Object.keys(secretsFile).join(",") : ""));
} else {
  console.log("ok " + args.join(" "));
}
`,
  );
  chmodSync(file, 0o755);
  return file;
}

/**
 * The Cloudflare API and the Worker. `scenario` decides: the deployed migration tag, whether the
 * new version's health fails, and from which Analytics Engine query on it reports errors.
 */
async function standIn(scenario) {
  let sqlCalls = 0;
  const seen = { versionOverrides: [] };
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) {
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks).toString();
    const url = new URL(req.url, "http://x");
    const json = (status, value) =>
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    if (url.pathname === "/client/v4/accounts/acc/workers/services/edgerag") {
      assert.equal(req.headers.authorization, "Bearer cf-token");
      return json(200, {
        success: true,
        result: { default_environment: { script: { migration_tag: scenario.tag ?? lastTag } } },
      });
    }
    if (url.pathname === "/client/v4/accounts/acc/analytics_engine/sql") {
      sqlCalls++;
      assert.match(body, new RegExp(`blob3 = '${NEW}'`));
      const bad = scenario.badFromSql !== undefined && sqlCalls >= scenario.badFromSql;
      return json(200, { data: [{ requests: 500, errors: bad ? 60 : 1, p95: 120 }], rows: 1 });
    }
    const override = req.headers["cloudflare-workers-version-overrides"];
    seen.versionOverrides.push(override ?? null);
    const isNew = override === `edgerag="${NEW}"`;
    if (url.pathname === "/health/ready") {
      return json(isNew && scenario.badHealth ? 503 : 200, { status: "ready" });
    }
    if (url.pathname === "/v1/query") {
      assert.equal(req.headers.authorization, "Bearer smoke-key");
      return json(200, { answer: "ok", citations: [] });
    }
    return json(404, {});
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, seen, close: () => new Promise((resolve) => server.close(resolve)) };
}

async function deploy(scenario, extraEnv = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), "deploy-test-"));
  const log = path.join(dir, "calls.jsonl");
  writeFileSync(log, "");
  const api = await standIn(scenario);
  try {
    const child = spawn(process.execPath, [path.join(root, "scripts", "deploy.mjs")], {
      env: {
        PATH: process.env.PATH,
        WRANGLER: fakeWrangler(dir),
        FAKE_LOG: log,
        CLOUDFLARE_API_TOKEN: "cf-token",
        CLOUDFLARE_ACCOUNT_ID: "acc",
        CLOUDFLARE_API_BASE_URL: `${api.url}/client/v4`,
        DEPLOY_URL: api.url,
        DEPLOY_SMOKE_KEY: "smoke-key",
        DEPLOY_SMOKE_COLLECTION: "col_smoke",
        DEPLOY_SECRETS: "ENCRYPTION_KEYS",
        ENCRYPTION_KEYS: SECRET,
        DEPLOY_GATE_WAIT_S: "0",
        DEPLOY_PROBES: "3",
        ...extraEnv,
      },
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const code = await new Promise((resolve) => child.on("close", resolve));
    const calls = readFileSync(log, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    return { code, output, calls, commands: calls.map((c) => c.args.join(" ")), seen: api.seen };
  } finally {
    await api.close();
  }
}

const deploys = (commands) => commands.filter((c) => c.startsWith("versions deploy"));

describe("wrangler.toml", () => {
  it("consumes exactly the queues src/consumers.ts routes", async () => {
    const { consumers } = await import("../../src/consumers.ts");
    const toml = readFileSync(path.join(root, "wrangler.toml"), "utf8");
    const consumed = [...toml.matchAll(/\[\[queues\.consumers\]\]\s*\n\s*queue\s*=\s*"([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(consumed.sort(), Object.keys(consumers).sort());
  });
});

describe("npm run deploy", () => {
  it("happy path: migrations first, upload, 0 % probe, 10 → 50 → 100 % with a gate at each", async () => {
    const run = await deploy({});
    assert.equal(run.code, 0, run.output);
    assert.equal(run.commands[0], "d1 migrations apply DB --remote");
    assert.ok(
      run.commands.indexOf("d1 migrations apply DB --remote") <
        run.commands.findIndex((c) => c.startsWith("versions upload")),
    );
    assert.deepEqual(
      deploys(run.commands).map((c) => c.split(" --message")[0]),
      [`versions deploy ${NEW}@10% ${OLD}@90%`, `versions deploy ${NEW}@50% ${OLD}@50%`, `versions deploy ${NEW}@100%`],
    );
    assert.ok(deploys(run.commands).every((c) => c.endsWith("--yes")));
    assert.ok(!run.commands.some((c) => c.startsWith("rollback")));
    // The probe reached the new version through the override header before any traffic moved.
    assert.ok(run.seen.versionOverrides.includes(`edgerag="${NEW}"`));
    // The secret went to wrangler with the new version only, and was never printed.
    const upload = run.calls.find((c) => c.args[0] === "versions");
    assert.deepEqual(upload.secretsFile, { ENCRYPTION_KEYS: SECRET });
    assert.ok(!run.output.includes(SECRET));
    assert.match(run.output, /serves 100 %/);
  });

  it("deploys with Workers AI for embeddings, reranking and answers by default, and the embedded models on request", async () => {
    const run = await deploy({});
    assert.equal(run.code, 0, run.output);
    for (const call of run.calls) {
      assert.deepEqual(call.config, {
        named: true,
        ai: true,
        generator: "workers-ai",
        embeddings: "@cf/baai/bge-m3",
        d1: true,
      });
    }
    // The generated file is gone afterwards; wrangler.toml itself never changes.
    assert.equal(existsSync(path.join(root, "wrangler.deploy.toml")), false);
    assert.doesNotMatch(readFileSync(path.join(root, "wrangler.toml"), "utf8"), /^\[ai\]\s*$/m);

    const local = await deploy({}, { DEPLOY_MODELS: "local" });
    assert.equal(local.code, 0, local.output);
    assert.ok(local.calls.every((c) => c.config.named && !c.config.ai && c.config.generator === "extractive"));
    const bad = await deploy({}, { DEPLOY_MODELS: "gpt" });
    assert.equal(bad.code, 1);
    assert.match(bad.output, /DEPLOY_MODELS must be/);
  });

  // The local cluster (npm run setup:postgres) is there unless the suites that need it were opted out of.
  const postgres = { skip: process.env.EDGERAG_NO_POSTGRES === "1" && "postgresql opted out" };
  it(
    "on PostgreSQL (DATABASE_PROVIDER = hyperdrive): migrates DATABASE_URL before the upload, never printing it",
    postgres,
    async () => {
      const toml = readFileSync(path.join(root, "wrangler.toml"), "utf8")
        .replace(/^\[vars\]\s*$/m, '[vars]\nDATABASE_PROVIDER = "hyperdrive"')
        .concat('\n[[hyperdrive]]\nbinding = "HYPERDRIVE"\nid = "hd-1"\n');
      const config = path.join(mkdtempSync(path.join(tmpdir(), "deploy-pg-")), "wrangler.toml");
      writeFileSync(config, toml);
      const name = `edgerag_deploy_${process.pid}`;
      const admin = new pg.Client({ connectionString: LOCAL_POSTGRES });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.query(`CREATE DATABASE ${name}`);
      const url = new URL(LOCAL_POSTGRES);
      url.pathname = `/${name}`;
      try {
        const missing = await deploy({}, { DEPLOY_CONFIG: config });
        assert.equal(missing.code, 1);
        assert.match(missing.output, /DATABASE_URL is required/);
        assert.deepEqual(missing.commands, []);

        const run = await deploy({}, { DEPLOY_CONFIG: config, DATABASE_URL: url.href });
        assert.equal(run.code, 0, run.output);
        assert.ok(!run.commands.some((c) => c.startsWith("d1 migrations")));
        assert.ok(run.output.indexOf("PostgreSQL migrations") < run.output.indexOf("uploaded version"));
        assert.ok(!run.output.includes(url.href) && !run.output.includes("edgerag:edgerag@"));
        const migrated = new pg.Client({ connectionString: url.href });
        await migrated.connect();
        const { rows } = await migrated.query("SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations");
        await migrated.end();
        const files = readdirSync(path.join(root, "migrations-pg")).filter((f) => f.endsWith(".sql"));
        assert.equal(rows[0].n, files.length);

        // A config that names PostgreSQL without a binding for it stops before anything.
        writeFileSync(config, toml.replace(/\[\[hyperdrive\]\][\s\S]*$/, ""));
        const unbound = await deploy({}, { DEPLOY_CONFIG: config, DATABASE_URL: url.href });
        assert.equal(unbound.code, 1);
        assert.match(unbound.output, /no \[\[hyperdrive\]\] binding/);
      } finally {
        try {
          await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await admin.end();
        }
      }
    },
  );

  it("a failed 0 % probe shifts no traffic", async () => {
    const run = await deploy({ badHealth: true });
    assert.equal(run.code, 1);
    assert.match(run.output, /failed its probe at 0 %; no traffic was shifted/);
    assert.ok(run.commands.some((c) => c.startsWith("versions upload")));
    assert.deepEqual(deploys(run.commands), []);
    assert.ok(!run.commands.some((c) => c.startsWith("rollback")));
  });

  it("a failed 50 % gate rolls back to the previous version", async () => {
    // Analytics Engine answers well for the 10 % gate and with 12 % errors from the 50 % one on.
    const run = await deploy({ badFromSql: 2 });
    assert.equal(run.code, 1);
    assert.deepEqual(
      deploys(run.commands).map((c) => c.split(" --message")[0]),
      [`versions deploy ${NEW}@10% ${OLD}@90%`, `versions deploy ${NEW}@50% ${OLD}@50%`],
    );
    assert.equal(run.commands.at(-1), `rollback ${OLD} --message gate failed at 50 % --yes`);
    assert.match(run.output, /50 % gate: analytics 500 requests, error rate 12\.00 %.*FAIL/);
  });

  it("a pending Durable Object migration is a plain deploy, with a warning, and secrets by secret put", async () => {
    const run = await deploy({ tag: "v-older" });
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /WARNING: Durable Object migration v-older → /);
    assert.ok(run.commands.some((c) => c.startsWith("deploy --message")));
    assert.ok(!run.commands.some((c) => c.startsWith("versions")));
    const put = run.calls.find((c) => c.args[0] === "secret");
    assert.deepEqual(put.args, ["secret", "put", "ENCRYPTION_KEYS"]);
    assert.equal(put.stdin, SECRET.length);
    assert.ok(!run.output.includes(SECRET));
  });
});

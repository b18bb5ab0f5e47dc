// A throwaway PostgreSQL database on the local cluster (`npm run setup:postgres`) with
// migrations-pg/ applied: for the `integration-postgres` test project and the benchmarks that
// compare the two relational stores. Started here when the cluster is not running; a failure to
// start it is an error (never a skip).
import { spawnSync } from "node:child_process";
import path from "node:path";
import pg from "pg";
import { LOCAL_POSTGRES, migratePostgres } from "../db-migrate.mjs";

const root = path.resolve(import.meta.dirname, "../..");

/**
 * `url` through the local PgBouncer (transaction pooling on 6432, scripts/setup-postgres.sh): how
 * a Worker reaches the database here, as it reaches it through Hyperdrive's pool in production.
 */
export function pooled(url) {
  const through = new URL(url);
  through.port = "6432";
  return through.href;
}

/** Starts the local cluster if needed (idempotent, ~1 s when it is up). */
export function ensurePostgres() {
  const started = spawnSync("bash", [path.join(root, "scripts/setup-postgres.sh")], { encoding: "utf8" });
  if (started.status !== 0) {
    throw new Error(`could not start PostgreSQL (npm run setup:postgres):\n${started.stderr}`);
  }
}

async function admin(sql) {
  const client = new pg.Client({ connectionString: LOCAL_POSTGRES });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * A new database `<prefix>_<pid>_<time>`, migrated; `{ url, pooled, drop }`: `url` connects
 * directly (migrations, checks), `pooled` through the local pool (the Worker's binding); drop ends
 * its connections.
 */
export async function temporaryDatabase(prefix) {
  ensurePostgres();
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(LOCAL_POSTGRES);
  url.pathname = `/${name}`;
  await migratePostgres(url.href);
  return { url: url.href, pooled: pooled(url.href), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/**
 * A PostgreSQL database behind the slice of D1's interface the benchmarks use
 * (`prepare(sql).bind(...).all() / first() / run()`), SQLite translated as the Worker's is.
 * Numbers come back as numbers (bigint and numeric). `end()` closes it.
 */
export async function d1Like(url) {
  const { toPostgres } = await import("../../src/adapters/db/sqlite-to-pg.ts");
  const number = (value) => (value === null ? null : Number(value));
  const client = new pg.Client({
    connectionString: url,
    types: {
      getTypeParser: (oid, format) => (oid === 20 || oid === 1700 ? number : pg.types.getTypeParser(oid, format)),
    },
  });
  await client.connect();
  const statement = (sql, values = []) => ({
    bind: (...bound) => statement(sql, bound),
    all: async () => ({ results: (await client.query(toPostgres(sql), values)).rows }),
    first: async () => (await client.query(toPostgres(sql), values)).rows[0] ?? null,
    run: async () => ({ meta: { changes: (await client.query(toPostgres(sql), values)).rowCount } }),
  });
  return {
    prepare: (sql) => statement(sql),
    query: (sql, values) => client.query(sql, values),
    end: () => client.end(),
  };
}

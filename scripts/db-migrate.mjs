#!/usr/bin/env node
// `npm run db:migrate [-- --remote]`: applies the relational store's migrations, the ones of the
// store DATABASE_PROVIDER names (environment, else .dev.vars, else wrangler.toml's default "d1"):
//   d1          migrations/ with `wrangler d1 migrations apply DB` (--local unless --remote)
//   hyperdrive  migrations-pg/ with drizzle's migrator over node-postgres, to DATABASE_URL (else
//               CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE, else the local cluster of
//               `npm run setup:postgres`). Applied ones are recorded in drizzle.__drizzle_migrations,
//               so running it again applies nothing.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { devVar } from "./lib/dev-vars.mjs";

const root = path.resolve(import.meta.dirname, "..");
export const LOCAL_POSTGRES = "postgres://edgerag:edgerag@127.0.0.1:5432/edgerag";

/** Applies migrations-pg/ to `connectionString`; the number of migrations now recorded. */
export async function migratePostgres(connectionString) {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await migrate(drizzle(client), { migrationsFolder: path.join(root, "migrations-pg") });
    const { rows } = await client.query("SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations");
    return rows[0].n;
  } finally {
    await client.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const provider = process.env.DATABASE_PROVIDER ?? devVar("DATABASE_PROVIDER") ?? "d1";
  if (provider === "hyperdrive") {
    const url =
      process.env.DATABASE_URL ??
      process.env.CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE ??
      devVar("CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE") ??
      LOCAL_POSTGRES;
    const applied = await migratePostgres(url);
    console.log(`db:migrate: PostgreSQL at ${new URL(url).host}: ${applied} migrations applied in all`);
  } else if (provider === "d1") {
    const where = process.argv.includes("--remote") ? "--remote" : "--local";
    const { status } = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", where], {
      stdio: "inherit",
      cwd: root,
    });
    process.exit(status ?? 1);
  } else {
    console.error(`db:migrate: DATABASE_PROVIDER must be "d1" or "hyperdrive", not "${provider}"`);
    process.exit(2);
  }
}

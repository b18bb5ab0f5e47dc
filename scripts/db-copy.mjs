#!/usr/bin/env node
import { spawnSync } from "node:child_process";
// `npm run db:copy -- [--local|--remote] [--to URL] [--page 500] [--restart]`: copies a D1
// deployment's relational data into PostgreSQL (migrated first with `npm run db:migrate`), as a
// sync: every table of the schema is walked in primary-key order, page by page, on both sides at
// once; rows missing or different in PostgreSQL are upserted, rows PostgreSQL has that D1 no longer
// has are deleted. So it is
//   idempotent — a second run changes nothing (and says so),
//   resumable  — each page commits with its progress (table `edgerag_copy_progress`); a run that
//                stops goes on after the last committed key; the last pass (`--restart`, during the
//                write freeze) walks everything again and so also catches rows changed behind it,
//   verified   — at the end, per table, row counts and a SHA-256 over the rows in key order must be
//                equal on both sides, or the command fails.
// D1 is read with `wrangler d1 execute DB --json` (local state, or --remote); tests pass a binding.
import { createHash } from "node:crypto";
import path from "node:path";
import { is } from "drizzle-orm";
import { getTableConfig, PgTable } from "drizzle-orm/pg-core";
import pg from "pg";
import * as schema from "../src/adapters/db/schema.pg.ts";
import { LOCAL_POSTGRES } from "./db-migrate.mjs";

const root = path.resolve(import.meta.dirname, "..");

/** The schema's tables, parents before children (foreign keys), with what the copy needs of each. */
export function copyPlan() {
  const configs = Object.values(schema)
    .filter((v) => is(v, PgTable))
    .map((table) => ({ table, config: getTableConfig(table) }));
  const byTable = new Map(configs.map((c) => [c.table, c]));
  const ordered = [];
  const visit = (entry, seen = new Set()) => {
    if (ordered.includes(entry) || seen.has(entry)) {
      return;
    }
    seen.add(entry);
    for (const fk of entry.config.foreignKeys) {
      const parent = byTable.get(fk.reference().foreignTable);
      if (parent && parent !== entry) {
        visit(parent, seen);
      }
    }
    ordered.push(entry);
  };
  for (const entry of configs) {
    visit(entry);
  }
  return ordered.map(({ config }) => {
    const key =
      config.primaryKeys[0]?.columns.map((c) => c.name) ?? config.columns.filter((c) => c.primary).map((c) => c.name);
    return {
      name: config.name,
      key,
      columns: config.columns.map((c) => ({
        name: c.name,
        kind:
          c.columnType === "PgJsonb"
            ? "json"
            : c.columnType === "PgBoolean"
              ? "boolean"
              : c.columnType === "PgText"
                ? "text"
                : "integer",
        serial: c.columnType.includes("Serial"),
      })),
    };
  });
}

const q = (name) => `"${name}"`;

/** JSON with object keys sorted: jsonb reorders keys, so rows are compared in this form. */
function canonical(value) {
  if (Array.isArray(value)) {
    return `[${value.map(canonical).join(",")}]`;
  }
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** A row as both stores mean it: D1's JSON text parsed, 0/1 as booleans, bigint strings as numbers. */
function normalize(plan, row) {
  const out = {};
  for (const column of plan.columns) {
    let value = row[column.name] ?? null;
    if (value !== null) {
      if (column.kind === "json" && typeof value === "string") {
        value = JSON.parse(value);
      } else if (column.kind === "boolean") {
        value = value === true || value === 1 || value === "1";
      } else if (column.kind === "integer") {
        value = Number(value);
      }
    }
    out[column.name] = value;
  }
  return out;
}

const keyOf = (plan, row) => canonical(plan.key.map((k) => row[k]));

/** D1 through wrangler (local state or --remote): parameters inlined as SQL literals. */
export function wranglerSource(where) {
  const literal = (v) => (typeof v === "number" ? String(v) : `'${String(v).replaceAll("'", "''")}'`);
  return {
    async all(sql, params = []) {
      let i = 0;
      const text = sql.replace(/\?/g, () => literal(params[i++]));
      const result = spawnSync("wrangler", ["d1", "execute", "DB", where, "--json", "--command", text], {
        cwd: root,
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024,
      });
      if (result.status !== 0) {
        throw new Error(`wrangler d1 execute failed: ${result.stderr || result.stdout}`);
      }
      return JSON.parse(result.stdout)[0].results;
    },
  };
}

/** D1 through a binding (Miniflare's, in tests). */
export function bindingSource(d1) {
  return {
    async all(sql, params = []) {
      return (
        await d1
          .prepare(sql)
          .bind(...params)
          .all()
      ).results;
    },
  };
}

/** `(a, b) > (?, ?)` in D1 and in PostgreSQL (text compared bytewise there too, as SQLite does). */
function after(plan, dialect, first) {
  const cols = plan.key.map((k) => {
    const text = plan.columns.find((c) => c.name === k)?.kind === "text";
    return dialect === "pg" && text ? `${q(k)} COLLATE "C"` : q(k);
  });
  const marks = plan.key.map((_, i) => (dialect === "pg" ? `$${first + i}` : "?"));
  return `(${cols.join(", ")}) > (${marks.join(", ")})`;
}
function orderBy(plan, dialect) {
  return plan.key
    .map((k) =>
      dialect === "pg" && plan.columns.find((c) => c.name === k)?.kind === "text" ? `${q(k)} COLLATE "C"` : q(k),
    )
    .join(", ");
}

/** A page of D1 rows after `last` (a key tuple, or null for the start). */
async function sourcePage(source, plan, last, size) {
  const where = last ? `WHERE ${after(plan, "d1")}` : "";
  return source.all(`SELECT * FROM ${q(plan.name)} ${where} ORDER BY ${orderBy(plan, "d1")} LIMIT ${size}`, last ?? []);
}

/** A page of PostgreSQL rows after `last`, in the same (bytewise) order as `sourcePage`. */
async function targetPage(client, plan, last, size) {
  const where = last ? `WHERE ${after(plan, "pg", 1)}` : "";
  const sql = `SELECT * FROM ${q(plan.name)} ${where} ORDER BY ${orderBy(plan, "pg")} LIMIT ${size}`;
  return (await client.query(sql, last ?? [])).rows;
}

/** PostgreSQL rows with keys after `last` and up to `upTo` (inclusive; null = to the end). */
async function targetRange(client, plan, last, upTo) {
  const conditions = [];
  const params = [];
  if (last) {
    conditions.push(after(plan, "pg", 1));
    params.push(...last);
  }
  if (upTo) {
    conditions.push(`NOT ${after(plan, "pg", params.length + 1)}`);
    params.push(...upTo);
  }
  const where = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
  const { rows } = await client.query(`SELECT * FROM ${q(plan.name)} ${where} ORDER BY ${orderBy(plan, "pg")}`, params);
  return rows;
}

async function upsert(client, plan, rows) {
  if (rows.length === 0) {
    return;
  }
  const names = plan.columns.map((c) => c.name);
  const values = [];
  const tuples = rows.map((row) => {
    const marks = plan.columns.map((c) => {
      const v = row[c.name];
      values.push(v === null ? null : c.kind === "json" ? JSON.stringify(v) : v);
      return c.kind === "json" ? `$${values.length}::jsonb` : `$${values.length}`;
    });
    return `(${marks.join(", ")})`;
  });
  const updates = names.filter((n) => !plan.key.includes(n)).map((n) => `${q(n)} = EXCLUDED.${q(n)}`);
  await client.query(
    `INSERT INTO ${q(plan.name)} (${names.map(q).join(", ")}) VALUES ${tuples.join(", ")} ` +
      `ON CONFLICT (${plan.key.map(q).join(", ")}) ${updates.length ? `DO UPDATE SET ${updates.join(", ")}` : "DO NOTHING"}`,
    values,
  );
}

async function remove(client, plan, rows) {
  for (const row of rows) {
    const where = plan.key.map((k, i) => `${q(k)} = $${i + 1}`).join(" AND ");
    await client.query(
      `DELETE FROM ${q(plan.name)} WHERE ${where}`,
      plan.key.map((k) => row[k]),
    );
  }
}

/**
 * Syncs every table from `source` (D1) into PostgreSQL at `connectionString`. `stopAfterPages`
 * (tests) ends the run early, as a crash would. Returns per-table tallies.
 */
export async function syncD1ToPostgres({ source, connectionString, pageSize = 500, restart = false, stopAfterPages }) {
  const client = new pg.Client({ connectionString });
  await client.connect();
  const tally = {};
  let pages = 0;
  try {
    await client.query(
      "CREATE TABLE IF NOT EXISTS edgerag_copy_progress (table_name text PRIMARY KEY, last_key jsonb, done boolean NOT NULL DEFAULT false)",
    );
    if (restart) {
      await client.query("DELETE FROM edgerag_copy_progress");
    }
    for (const plan of copyPlan()) {
      const { rows: saved } = await client.query(
        "SELECT last_key, done FROM edgerag_copy_progress WHERE table_name = $1",
        [plan.name],
      );
      if (saved[0]?.done) {
        continue;
      }
      const t = { read: 0, upserted: 0, deleted: 0 };
      tally[plan.name] = t;
      let last = saved[0]?.last_key ?? null;
      for (;;) {
        if (stopAfterPages !== undefined && pages >= stopAfterPages) {
          return { stopped: true, tally };
        }
        const page = (await sourcePage(source, plan, last, pageSize)).map((r) => normalize(plan, r));
        const end = page.length === pageSize ? plan.key.map((k) => page.at(-1)[k]) : null;
        const existing = new Map(
          (await targetRange(client, plan, last, end)).map((r) => {
            const row = normalize(plan, r);
            return [keyOf(plan, row), row];
          }),
        );
        const changed = page.filter((row) => {
          const twin = existing.get(keyOf(plan, row));
          existing.delete(keyOf(plan, row));
          return !twin || canonical(twin) !== canonical(row);
        });
        await client.query("BEGIN");
        await upsert(client, plan, changed);
        await remove(client, plan, [...existing.values()]);
        await client.query(
          "INSERT INTO edgerag_copy_progress (table_name, last_key, done) VALUES ($1, $2::jsonb, $3) " +
            "ON CONFLICT (table_name) DO UPDATE SET last_key = EXCLUDED.last_key, done = EXCLUDED.done",
          [plan.name, JSON.stringify(end), end === null],
        );
        await client.query("COMMIT");
        pages += 1;
        t.read += page.length;
        t.upserted += changed.length;
        t.deleted += existing.size;
        if (end === null) {
          break;
        }
        last = end;
      }
      // A bigserial key copied with its values: the sequence continues after the largest.
      for (const column of plan.columns.filter((c) => c.serial)) {
        await client.query(
          `SELECT setval(pg_get_serial_sequence($1, $2), GREATEST((SELECT max(${q(column.name)}) FROM ${q(plan.name)}), 1))`,
          [plan.name, column.name],
        );
      }
    }
    await client.query("DELETE FROM edgerag_copy_progress");
    return { stopped: false, tally };
  } finally {
    await client.end();
  }
}

/** Per table: row count and SHA-256 over the rows in key order, on each side; throws on a difference. */
export async function verify({ source, connectionString, pageSize = 1000 }) {
  const client = new pg.Client({ connectionString });
  await client.connect();
  const report = {};
  try {
    for (const plan of copyPlan()) {
      const sides = {};
      for (const side of ["d1", "pg"]) {
        const hash = createHash("sha256");
        let count = 0;
        let last = null;
        for (;;) {
          const page =
            side === "d1"
              ? await sourcePage(source, plan, last, pageSize)
              : await targetPage(client, plan, last, pageSize);
          const rows = page.map((r) => normalize(plan, r));
          for (const row of rows) {
            hash.update(canonical(row));
            hash.update("\n");
            count += 1;
          }
          if (rows.length < pageSize) {
            break;
          }
          last = plan.key.map((k) => rows.at(-1)[k]);
        }
        sides[side] = { count, sha256: hash.digest("hex") };
      }
      report[plan.name] = {
        rows: sides.d1.count,
        match: sides.d1.sha256 === sides.pg.sha256 && sides.d1.count === sides.pg.count,
      };
      if (!report[plan.name].match) {
        throw new Error(
          `${plan.name}: D1 has ${sides.d1.count} rows (${sides.d1.sha256.slice(0, 12)}), PostgreSQL ${sides.pg.count} (${sides.pg.sha256.slice(0, 12)})`,
        );
      }
    }
    return report;
  } finally {
    await client.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const value = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const source = wranglerSource(args.includes("--remote") ? "--remote" : "--local");
  const connectionString = value("--to") ?? process.env.DATABASE_URL ?? LOCAL_POSTGRES;
  const result = await syncD1ToPostgres({
    source,
    connectionString,
    pageSize: Number(value("--page") ?? 500),
    restart: args.includes("--restart"),
  });
  for (const [table, t] of Object.entries(result.tally)) {
    console.log(`${table.padEnd(24)} read ${t.read}, upserted ${t.upserted}, deleted ${t.deleted}`);
  }
  const report = await verify({ source, connectionString });
  console.log(`db:copy: verified ${Object.keys(report).length} tables (row counts and SHA-256 in key order match)`);
}

// The PostgreSQL dialect against a real PostgreSQL (the local cluster of `npm run setup:postgres`):
// migrations-pg/ applied to a fresh database by `npm run db:migrate`'s code, twice (the second run
// applies nothing), and the database it leaves matches the drizzle schema the Worker would query —
// every table, column type and nullability, primary and foreign key, and index by name.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { is } from "drizzle-orm";
import { getTableConfig, PgTable } from "drizzle-orm/pg-core";
import pg from "pg";
import { LOCAL_POSTGRES, migratePostgres } from "../../scripts/db-migrate.mjs";
import * as schema from "../../src/adapters/db/schema.pg.ts";

const base = process.env.DATABASE_URL ?? LOCAL_POSTGRES;
const name = `edgerag_test_${process.pid}`;
const url = Object.assign(new URL(base), { pathname: `/${name}` }).href;
const admin = new pg.Client({ connectionString: base });

const tables = Object.values(schema)
  .filter((v) => is(v, PgTable))
  .map((t) => getTableConfig(t));

/** information_schema's data_type for a drizzle column type. */
const DATA_TYPES = {
  PgText: "text",
  PgJsonb: "jsonb",
  PgBigInt53: "bigint",
  PgBigSerial53: "bigint",
  PgBoolean: "boolean",
};

before(async () => {
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
});

after(async () => {
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    // An open client would keep the test process, and so the run, waiting.
    await admin.end();
  }
});

describe("PostgreSQL migrations (migrations-pg/) on a real PostgreSQL", () => {
  it("apply to an empty database, and again without applying anything", async () => {
    const first = await migratePostgres(url);
    assert.ok(first >= 1);
    assert.equal(await migratePostgres(url), first);
  });

  it("leave exactly the tables, columns, keys and indexes of the drizzle schema", async () => {
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const { rows: columns } = await db.query(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public'",
      );
      const { rows: indexes } = await db.query(
        "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public'",
      );
      const { rows: constraints } = await db.query(
        "SELECT tc.table_name, tc.constraint_type FROM information_schema.table_constraints tc WHERE tc.table_schema = 'public'",
      );
      assert.deepEqual([...new Set(columns.map((c) => c.table_name))].sort(), tables.map((t) => t.name).sort());
      for (const table of tables) {
        const actual = columns
          .filter((c) => c.table_name === table.name)
          .map((c) => [c.column_name, c.data_type, c.is_nullable === "NO"])
          .sort();
        const expected = table.columns
          .map((c) => [
            c.name,
            DATA_TYPES[c.columnType],
            c.notNull || c.primary || table.primaryKeys.some((k) => k.columns.includes(c)),
          ])
          .sort();
        assert.deepEqual(actual, expected, table.name);
        const names = indexes.filter((i) => i.tablename === table.name).map((i) => i.indexname);
        for (const index of table.indexes) {
          assert.ok(names.includes(index.config.name), `${table.name}: index ${index.config.name}`);
        }
        const count = (type) =>
          constraints.filter((c) => c.table_name === table.name && c.constraint_type === type).length;
        assert.equal(count("PRIMARY KEY"), 1, `${table.name}: primary key`);
        assert.equal(count("FOREIGN KEY"), table.foreignKeys.length, `${table.name}: foreign keys`);
      }
    } finally {
      await db.end();
    }
  });
});

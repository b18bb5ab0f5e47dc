/**
 * The two dialects of the relational schema describe the same tables: every column (name, nullability,
 * default, key, a type that holds the same values), every primary key, foreign key and index (name,
 * columns, uniqueness, partial condition). schema.pg.ts is generated from schema.ts; this is what
 * catches a generator rule that translates something wrongly, or a hand edit.
 */
import { is } from "drizzle-orm";
import { PgTable, getTableConfig as pgConfig } from "drizzle-orm/pg-core";
import { SQLiteTable, getTableConfig as sqliteConfig } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import * as sqlite from "../../src/adapters/db/schema";
import * as pg from "../../src/adapters/db/schema.pg";

/** The PostgreSQL column type each SQLite column type must become. */
const TYPES: Record<string, string[]> = {
  SQLiteText: ["PgText"],
  SQLiteTextJson: ["PgJsonb"],
  SQLiteInteger: ["PgBigInt53", "PgBigSerial53"],
  SQLiteBoolean: ["PgBoolean"],
};

type Config = ReturnType<typeof sqliteConfig> | ReturnType<typeof pgConfig>;

/** What both dialects must agree on, in dialect-neutral terms. */
function shape(config: Config) {
  return {
    name: config.name,
    columns: config.columns.map((c) => ({
      name: c.name,
      notNull: c.notNull,
      primary: c.primary,
      hasDefault: c.hasDefault && !c.columnType.includes("Serial") && !(c as { autoIncrement?: boolean }).autoIncrement,
      default: c.default,
      enumValues: c.enumValues,
    })),
    primaryKeys: config.primaryKeys.map((k) => k.columns.map((c) => c.name)),
    foreignKeys: config.foreignKeys
      .map((fk) => {
        const ref = fk.reference();
        return {
          columns: ref.columns.map((c) => c.name),
          foreignColumns: ref.foreignColumns.map((c) => c.name),
          onDelete: fk.onDelete ?? "no action",
        };
      })
      .sort((a, b) => a.columns.join().localeCompare(b.columns.join())),
    indexes: config.indexes
      .map((i) => ({
        name: i.config.name,
        unique: i.config.unique,
        columns: i.config.columns.map((c) => (c as { name: string }).name),
        partial: i.config.where !== undefined,
      }))
      .sort((a, b) => String(a.name).localeCompare(String(b.name))),
  };
}

const sqliteTables = Object.entries(sqlite).filter(([, v]) => is(v, SQLiteTable)) as Array<[string, SQLiteTable]>;
const pgTables = Object.entries(pg).filter(([, v]) => is(v, PgTable)) as Array<[string, PgTable]>;

describe("relational schema: SQLite (D1) and PostgreSQL (Hyperdrive) dialects", () => {
  it("export the same tables", () => {
    expect(pgTables.map(([name]) => name).sort()).toEqual(sqliteTables.map(([name]) => name).sort());
    expect(sqliteTables.length).toBeGreaterThanOrEqual(16);
  });

  for (const [name, table] of sqliteTables) {
    it(`${name}: same columns, keys and indexes; types that hold the same values`, () => {
      const other = (pg as Record<string, unknown>)[name] as PgTable;
      const a = sqliteConfig(table);
      const b = pgConfig(other);
      expect(shape(b)).toEqual(shape(a));
      for (const column of a.columns) {
        const twin = b.columns.find((c) => c.name === column.name);
        expect(TYPES[column.columnType], `${name}.${column.name}: ${column.columnType}`).toContain(twin?.columnType);
      }
    });
  }
});

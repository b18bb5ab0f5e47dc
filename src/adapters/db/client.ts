import { getTableColumns, getTableName, type SQL, sql } from "drizzle-orm";
import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema> & { $client: D1Database };

/** drizzle handles by binding: building one walks the schema, so it is done once per isolate. */
const handles = new WeakMap<D1Database, Db>();

/** The drizzle handle over a D1 binding (stateless, so one per binding is safe to share). */
export function createDb(d1: D1Database): Db {
  let db = handles.get(d1);
  if (!db) {
    db = drizzle(d1, { schema });
    handles.set(d1, db);
  }
  return db;
}

/**
 * `column IN (…values)` with a single bound parameter (a JSON array read by `json_each`). D1 binds
 * at most 100 parameters per statement, so `inArray` breaks on long lists (a 100-message queue
 * batch, a key restricted to 100 collections); this does not, and SQLite still uses the index.
 */
export function inList(column: SQLiteColumn, values: readonly string[]): SQL {
  return sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`;
}

/**
 * `(a, b) IN` a list of pairs, bound as one JSON value: how a read names rows by id *and* tenant
 * (the tenant in the SQL, not only in the caller) for any number of rows.
 */
export function inPairs(a: SQLiteColumn, b: SQLiteColumn, pairs: ReadonlyArray<readonly [string, string]>): SQL {
  return sql`(${a}, ${b}) IN (SELECT value ->> 0, value ->> 1 FROM json_each(${JSON.stringify(pairs)}))`;
}

/**
 * A drizzle query as a plain D1 statement, so that it can share one `D1Database.batch` (one
 * transaction) with hand-written SQL such as the `json_each` bulk inserts.
 */
export function toStatement(db: Db, query: { toSQL(): { sql: string; params: unknown[] } }): D1PreparedStatement {
  const { sql: text, params } = query.toSQL();
  return db.$client.prepare(text).bind(...params);
}

/**
 * One `INSERT` of any number of rows of `table`, as a D1 statement (to `run`, or to share a
 * `batch`): the rows are bound as one JSON array and expanded by `json_each`, because D1 binds at
 * most 100 parameters a statement and this binds one. The columns are the keys the first row sets,
 * named and encoded by the drizzle table (JSON columns stringified, as drizzle does), so the SQL
 * cannot drift from the schema. `ignoreConflicts` skips rows a unique key already holds;
 * `returning` names the columns (by their keys) the result rows carry.
 */
export function insertRows<T extends SQLiteTable>(
  db: Db,
  table: T,
  rows: ReadonlyArray<T["$inferInsert"]>,
  options: { ignoreConflicts?: boolean; returning?: ReadonlyArray<keyof T["$inferSelect"] & string> } = {},
): D1PreparedStatement {
  const all = getTableColumns(table) as Record<string, SQLiteColumn>;
  const first = (rows[0] ?? {}) as Record<string, unknown>;
  const keys = Object.keys(all).filter((key) => first[key] !== undefined);
  if (keys.length === 0) {
    throw new Error(`insertRows(${getTableName(table)}): no rows, or a row without columns`);
  }
  const quoted = (key: string) => `"${(all[key] as SQLiteColumn).name}"`;
  const values = rows.map((row) =>
    keys.map((key) => {
      const value = (row as Record<string, unknown>)[key];
      return value === null || value === undefined ? null : (all[key] as SQLiteColumn).mapToDriverValue(value);
    }),
  );
  const returning = options.returning?.length
    ? ` RETURNING ${options.returning.map((key) => `${quoted(key)} AS "${key}"`).join(", ")}`
    : "";
  return db.$client
    .prepare(
      `INSERT INTO "${getTableName(table)}" (${keys.map(quoted).join(", ")}) ` +
        `SELECT ${keys.map((_, i) => `value ->> ${i}`).join(", ")} FROM json_each(?1) WHERE true` +
        `${options.ignoreConflicts ? " ON CONFLICT DO NOTHING" : ""}${returning}`,
    )
    .bind(JSON.stringify(values));
}

import { type SQL, sql } from "drizzle-orm";
import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
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

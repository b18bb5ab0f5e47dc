import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = DrizzleD1Database<typeof schema>;

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

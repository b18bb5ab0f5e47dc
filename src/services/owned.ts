import { and, eq } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "../adapters/db/client";
import { AppError } from "../errors";

/** A table of tenant-owned rows: an `id` and the `tenantId` that owns it. */
type Owned = SQLiteTable & { id: SQLiteColumn; tenantId: SQLiteColumn };

/**
 * The row of `table` with this id in this tenant, else `404 not_found` ("No such <what>."): how
 * every read of a tenant's object by id begins. Another tenant's row is not found either, by the
 * same SQL, never by a check after the read.
 */
export async function ownedRow<T extends Owned>(
  db: Db,
  table: T,
  id: string,
  tenantId: string,
  what: string,
): Promise<T["$inferSelect"]> {
  const row = await db
    .select()
    .from(table as SQLiteTable)
    .where(and(eq(table.id, id), eq(table.tenantId, tenantId)))
    .get();
  if (!row) {
    throw new AppError("not_found", `No such ${what}.`);
  }
  return row as T["$inferSelect"];
}

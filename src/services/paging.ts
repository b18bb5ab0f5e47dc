/**
 * Keyset paging, newest first, shared by every list route: rows ordered by (created_at, id)
 * descending, a page fetched with one extra row to know whether another page follows.
 */
import { and, eq, lt, or, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { AppError } from "../errors";
import { decodeCursor, encodeCursor } from "../lib/cursor";

/** The condition for rows after `cursor` (undefined for the first page); 422 for a forged cursor. */
export function afterCursor(
  cursor: string | undefined,
  columns: { createdAt: SQLiteColumn; id: SQLiteColumn },
): SQL | undefined {
  if (cursor === undefined) {
    return undefined;
  }
  const after = decodeCursor(cursor);
  if (!after) {
    throw new AppError("validation_failed", "The cursor is not valid.", {
      errors: [{ path: "cursor", message: "use next_cursor from a previous page" }],
    });
  }
  return or(
    lt(columns.createdAt, after.createdAt),
    and(eq(columns.createdAt, after.createdAt), lt(columns.id, after.id)),
  );
}

/** The page from `limit + 1` rows: the first `limit` as views, and the cursor of the next page. */
export function toPage<Row extends { createdAt: number; id: string }, View>(
  rows: Row[],
  limit: number,
  view: (row: Row) => View,
): { items: View[]; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items: items.map(view),
    next_cursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
  };
}

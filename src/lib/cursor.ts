/**
 * Opaque keyset-pagination cursors: base64url of `<created_at>:<id>` of the last item served.
 * Keyset (not offset) paging stays correct and cheap while rows are inserted and deleted.
 */
export interface CursorPosition {
  createdAt: number;
  id: string;
}

export function encodeCursor(position: CursorPosition): string {
  return btoa(`${position.createdAt}:${position.id}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Undefined for anything that is not a cursor we issued. */
export function decodeCursor(cursor: string): CursorPosition | undefined {
  let text: string;
  try {
    text = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return undefined;
  }
  const match = /^(\d{1,15}):([A-Za-z0-9_]{1,64})$/.exec(text);
  if (!match?.[1] || !match[2]) {
    return undefined;
  }
  return { createdAt: Number(match[1]), id: match[2] };
}

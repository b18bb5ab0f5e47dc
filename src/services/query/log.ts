import type { Db } from "../../adapters/db/client";
import { queryLog } from "../../adapters/db/schema";
import { sha256Hex } from "../../lib/crypto";
import { newId } from "../../lib/ids";
import { normalizeQuery } from "../../lib/terms";
import { QueryBody, type QueryInput, type QueryResult } from "../../schemas/query";
import { filterJson } from "../../schemas/search";
import type { KeyPrincipal } from "../principal";

type Row = typeof queryLog.$inferInsert;

/** Rows per insert (each binds 13 parameters; D1 allows 100 per statement). */
const ROWS_PER_INSERT = 7;
/** How long a row may wait in the isolate for others to share its write. */
const FLUSH_AFTER_MS = 1_000;
/** A full buffer is written at once. */
const MAX_BUFFERED = 50;

/**
 * Query log rows wait here briefly so that a busy isolate writes them in one D1 batch rather than
 * one write per query. The request that finds the buffer empty keeps the isolate alive (through
 * `waitUntil`) until the flush, so a row is not lost when the isolate goes idle.
 */
const buffer: Row[] = [];
/** Whether some request is already waiting to flush (it owns the timer and the write). */
let scheduled = false;

/**
 * Records one /v1/query call, answered or not; the answer text is never stored. Returns the work
 * to hand to `waitUntil`: it never delays the response.
 */
export async function logQuery(
  db: Db,
  principal: KeyPrincipal,
  input: QueryInput,
  outcome: { status: number; result?: QueryResult | undefined },
): Promise<void> {
  const normalized = normalizeQuery(input.query);
  buffer.push({
    id: newId("qry"),
    tenantId: principal.tenantId,
    keyId: principal.keyId,
    mode: input.mode,
    queryHash: await sha256Hex(normalized.toLowerCase()),
    queryText: normalized,
    params: { collection_ids: input.collection_ids, top_k: input.top_k, filter: filterJson(input.filter) },
    status: outcome.status,
    cacheHit: outcome.result?.cache === "hit",
    degraded: outcome.result?.degraded ?? [],
    timings: outcome.result?.timings ?? {},
    resultCount: outcome.result?.sources.length ?? 0,
    createdAt: Date.now(),
  });
  if (buffer.length >= MAX_BUFFERED) {
    await flush(db);
    return;
  }
  // Promises must not cross requests in Workers: the first request waits on its own timer and
  // writes for everyone; the others only leave their row in the buffer.
  if (!scheduled) {
    scheduled = true;
    await new Promise((resolve) => setTimeout(resolve, FLUSH_AFTER_MS));
    await flush(db);
  }
}

/**
 * Records a /v1/query refused before its route ran (rate limited), from the raw body; a body that
 * is not a valid query is not a query and is not logged.
 */
export async function logRefusedQuery(db: Db, principal: KeyPrincipal, body: string, status: number): Promise<void> {
  let parsed: ReturnType<typeof QueryBody.safeParse>;
  try {
    parsed = QueryBody.safeParse(JSON.parse(body));
  } catch {
    return;
  }
  if (parsed.success) {
    await logQuery(db, principal, parsed.data, { status });
  }
}

async function flush(db: Db): Promise<void> {
  scheduled = false;
  const rows = buffer.splice(0, buffer.length);
  const statements = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    statements.push(db.insert(queryLog).values(rows.slice(i, i + ROWS_PER_INSERT)));
  }
  const [first, ...rest] = statements;
  if (first) {
    await db.batch([first, ...rest]);
  }
}

import type { Db } from "../adapters/db/client";
import { queryLog } from "../adapters/db/schema";
import { sha256Hex } from "../lib/crypto";
import { newId } from "../lib/ids";
import type { QueryInput, QueryResult } from "../schemas/query";
import type { KeyPrincipal } from "./principal";

/**
 * Records one /v1/query call, answered or not. Meant for `waitUntil`: it never delays the
 * response, and a failure to log is the caller's to report, not the client's.
 */
export async function logQuery(
  db: Db,
  principal: KeyPrincipal,
  input: QueryInput,
  outcome: { status: number; result?: QueryResult | undefined },
): Promise<void> {
  const normalized = input.query.replace(/\s+/g, " ").trim();
  await db
    .insert(queryLog)
    .values({
      id: newId("qry"),
      tenantId: principal.tenantId,
      keyId: principal.keyId,
      mode: input.mode,
      queryHash: await sha256Hex(normalized.toLowerCase()),
      queryText: normalized,
      params: { collection_ids: input.collection_ids, top_k: input.top_k, filter: input.filter ?? null },
      status: outcome.status,
      cacheHit: outcome.result?.cache === "hit",
      degraded: outcome.result?.degraded ?? [],
      timings: outcome.result?.timings ?? {},
      resultCount: outcome.result?.sources.length ?? 0,
      createdAt: Date.now(),
    })
    .run();
}

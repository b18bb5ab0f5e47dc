/**
 * Moving chunks into the collections' search shards, and rebuilding a shard from the originals.
 *
 * `migrateToShards` is the one-off move of the chunks that earlier versions kept in D1: a batch of
 * whole documents is written to its shard (a replace, so a repeated batch changes nothing) and only
 * then deleted from D1. It runs from the cron until D1 holds no chunk, then costs one indexed read
 * per tick; it keeps no "done" flag, so chunks a rolled-back version wrote to D1 are moved too.
 *
 * `rebuild` is the repair path for a lost or damaged shard: every document of the collection is
 * queued again, and the ingestion consumer re-reads its original from R2, re-chunks, re-embeds and
 * rewrites the shard (a replace per document, so the shard converges whatever it held).
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../adapters/db/client";
import { documents } from "../../adapters/db/schema";
import type { ChunkShards, ShardChunk } from "../../adapters/shards/interface";
import { namespaceOf } from "../../adapters/vector/interface";
import { AppError } from "../../errors";
import type { Logger } from "../../lib/log";
import { getCollection } from "../collections";
import type { KeyPrincipal } from "../principal";
import { enqueueDocuments, type IngestQueues } from "../queue";

/** Documents moved per batch (their chunks in one shard write each). */
const DOCUMENTS_PER_BATCH = 50;

interface LegacyChunk extends ShardChunk {
  tenant_id: string;
  collection_id: string;
}

export async function migrateToShards(
  deps: { db: Db; shards: ChunkShards; logger: Pick<Logger, "info"> },
  budgetMs = 60_000,
): Promise<{ documents: number; chunks: number; done: boolean }> {
  const started = Date.now();
  let moved = { documents: 0, chunks: 0 };
  while (Date.now() - started < budgetMs) {
    const batch = await deps.db.$client
      .prepare("SELECT DISTINCT document_id FROM chunks LIMIT ?")
      .bind(DOCUMENTS_PER_BATCH)
      .all<{ document_id: string }>();
    const ids = batch.results.map((r) => r.document_id);
    if (ids.length === 0) {
      return { ...moved, done: true };
    }
    const rows = await deps.db.$client
      .prepare(
        `SELECT id, tenant_id, collection_id, document_id, ordinal, title, heading, text, page, token_estimate,
           char_start, char_end FROM chunks WHERE document_id IN (SELECT value FROM json_each(?)) ORDER BY ordinal`,
      )
      .bind(JSON.stringify(ids))
      .all<LegacyChunk>();
    // Each document's chunks go to its own tenant's and collection's shard.
    const byShard = new Map<string, { tenantId: string; documentIds: Set<string>; chunks: ShardChunk[] }>();
    for (const { tenant_id, collection_id, ...chunk } of rows.results) {
      const ns = namespaceOf(tenant_id, collection_id);
      const entry = byShard.get(ns) ?? { tenantId: tenant_id, documentIds: new Set(), chunks: [] };
      entry.documentIds.add(chunk.document_id);
      entry.chunks.push(chunk);
      byShard.set(ns, entry);
    }
    for (const [ns, { tenantId, documentIds, chunks }] of byShard) {
      const docs = [...documentIds];
      await deps.shards.write(ns, docs, chunks);
      // Only once the shard has them; scoped by tenant like every other write.
      await deps.db.$client
        .prepare("DELETE FROM chunks WHERE tenant_id = ? AND document_id IN (SELECT value FROM json_each(?))")
        .bind(tenantId, JSON.stringify(docs))
        .run();
      moved = { documents: moved.documents + docs.length, chunks: moved.chunks + chunks.length };
    }
    deps.logger.info("chunks moved to their shards", moved);
  }
  return { ...moved, done: false };
}

/**
 * Queues every document of the collection again; the consumer rewrites the shard from R2. Refused
 * (409) while any of its documents is still queued or processing — a rebuild already running, or
 * an ingestion — so repeated calls cannot queue the collection again and again. `charge` is asked
 * for one rate unit per document before anything is queued (a rebuild costs what its uploads did).
 */
export async function rebuildShard(
  deps: { db: Db; queues: IngestQueues },
  principal: KeyPrincipal,
  collectionId: string,
  charge: (units: number) => Promise<void>,
): Promise<{ queued: number }> {
  // Both read by tenant; the counts are only used once the collection is known to be readable.
  const [, counts] = await Promise.all([
    getCollection(deps.db, principal, collectionId),
    deps.db
      .select({ status: documents.status, n: sql<number>`COUNT(*)` })
      .from(documents)
      .where(and(eq(documents.tenantId, principal.tenantId), eq(documents.collectionId, collectionId)))
      .groupBy(documents.status),
  ]);
  const count = (...statuses: string[]) =>
    counts.filter((c) => statuses.includes(c.status)).reduce((sum, c) => sum + Number(c.n), 0);
  const running = count("queued", "processing");
  if (running > 0) {
    throw new AppError(
      "conflict",
      `${running} document(s) of this collection are still queued or processing (a rebuild or an upload); rebuild once they are done.`,
    );
  }
  await charge(count("ready", "failed"));
  const docs = await deps.db
    .update(documents)
    .set({ status: "queued", error: null, attempts: 0, updatedAt: Date.now() })
    .where(
      and(
        eq(documents.tenantId, principal.tenantId),
        eq(documents.collectionId, collectionId),
        inArray(documents.status, ["ready", "failed"]),
      ),
    )
    .returning({ id: documents.id, tenantId: documents.tenantId, priority: documents.priority });
  await enqueueDocuments(deps.queues, docs);
  return { queued: docs.length };
}

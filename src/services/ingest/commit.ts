/** Writing a prepared document: embeddings, vectors and one D1 batch of chunks, FTS rows and `ready`. */

import { and, eq, isNull } from "drizzle-orm";
import { type Db, toStatement } from "../../adapters/db/client";
import { collections, type DocumentRow, documents } from "../../adapters/db/schema";
import type { ShardChunk } from "../../adapters/shards/interface";
import { namespaceOf } from "../../adapters/vector/interface";
import type { Chunk } from "../../lib/chunk";
import { blobKey } from "../../lib/ids";
import { indexedFields } from "../../lib/metadata-filter";
import type { IngestMessage } from "../../schemas/queue";
import { bumpVersion } from "../collections";
import type { Notify } from "../notifications/service";
import type { IngestDeps } from "./consumer";
import { pageOf } from "./extract";

/** Texts per embedder call. */
const EMBED_BATCH = 64;

/** What a chunk is embedded as: its document title and heading give it context. */
export function embeddingText(chunk: { title: string; heading: string | null; text: string }): string {
  return [chunk.title, chunk.heading, chunk.text].filter(Boolean).join("\n");
}

export function chunkRows(doc: DocumentRow, pieces: Chunk[], pageStarts: number[] | undefined) {
  return pieces.map((piece) => ({
    id: `${doc.id}_${piece.ordinal}`,
    tenantId: doc.tenantId,
    collectionId: doc.collectionId,
    documentId: doc.id,
    ordinal: piece.ordinal,
    title: doc.title,
    heading: piece.heading,
    text: piece.text,
    tokenEstimate: piece.tokenEstimate,
    charStart: piece.charStart,
    charEnd: piece.charEnd,
    page: pageOf(pageStarts, piece.charStart),
  }));
}

/** Marks the document failed with its reason, and tells the tenant (`document.failed`). */
export async function markFailed(
  deps: { db: Db; notify: Notify },
  message: IngestMessage,
  reason: string,
): Promise<void> {
  const error = reason.slice(0, 1_000);
  const row = await deps.db
    .update(documents)
    .set({ status: "failed", error, updatedAt: Date.now() })
    .where(and(eq(documents.id, message.document_id), eq(documents.tenantId, message.tenant_id)))
    .returning({ collectionId: documents.collectionId })
    .get();
  if (row) {
    deps.notify(message.tenant_id, "document.failed", {
      document_id: message.document_id,
      collection_id: row.collectionId,
      reason: error,
    });
  }
}

type ChunkInsert = ReturnType<typeof chunkRows>[number];

/** A document read, extracted and chunked, waiting to be written. */
export interface Prepared {
  message: Message<IngestMessage>;
  doc: DocumentRow;
  rows: ChunkInsert[];
}

/** Rows written by one commit at most, so one D1 batch stays a few hundred statements. */
export const ROWS_PER_COMMIT = 2_000;

/**
 * Writes prepared documents: vectors per collection, then one D1 batch (one transaction) with the
 * old chunks out, the new ones in, the documents ready, the collections' versions bumped and
 * their embedding model recorded. Idempotent, so a retry after a failure anywhere is safe.
 */
export async function commit(deps: IngestDeps, group: Prepared[]): Promise<CommitTimings> {
  const { db } = deps;
  const timings = { embed_ms: 0, vectors_ms: 0, shard_ms: 0, d1_ms: 0 };
  let mark = performance.now();
  const lap = (stage: keyof CommitTimings) => {
    const now = performance.now();
    timings[stage] += now - mark;
    mark = now;
  };
  const stale = new Set<string>();
  const replacedBy = new Map<string, string | null>();
  const byNamespace = new Map<string, Prepared[]>();
  for (const item of group) {
    const ns = namespaceOf(item.doc.tenantId, item.doc.collectionId);
    byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), item]);
  }
  for (const [ns, items] of byNamespace) {
    const rows = items.flatMap((item) => item.rows);
    const tenantId = items[0]?.doc.tenantId;
    for (let i = 0; i < rows.length; i += EMBED_BATCH * 4) {
      const slice = rows.slice(i, i + EMBED_BATCH * 4);
      const vectors = await deps.embedder.embed(slice.map(embeddingText), "document", { tenantId });
      lap("embed_ms");
      await deps.vectors.upsert(
        ns,
        slice.map((row, j) => ({ id: row.id, documentId: row.documentId, vector: vectors[j] ?? new Float32Array() })),
      );
      lap("vectors_ms");
    }
    // The chunks and their keyword index, in the collection's shard (one transaction there);
    // then the vectors of chunks an earlier attempt wrote and this one did not.
    const plain = items.filter((item) => item.doc.externalId === null);
    if (plain.length > 0) {
      const gone = await deps.shards.write(
        ns,
        plain.map((item) => item.doc.id),
        plain.flatMap((item) => item.rows).map(toShardChunk),
        Object.fromEntries(plain.map((item) => [item.doc.id, indexedFields(item.doc.metadata)])),
      );
      await deps.vectors.delete(ns, gone);
    }
    // A version of an external id replaces the one its shard holds in the same transaction; one
    // a later version already replaced (a later PUT won) is dropped, vectors and all.
    for (const item of items.filter((i) => i.doc.externalId !== null)) {
      const { doc } = item;
      const written = await deps.shards.writeVersion(
        ns,
        { documentId: doc.id, externalId: doc.externalId as string, version: doc.version },
        item.rows.map(toShardChunk),
        { [doc.id]: indexedFields(doc.metadata) },
      );
      if ("stale" in written) {
        stale.add(doc.id);
        await deps.vectors.delete(
          ns,
          item.rows.map((r) => r.id),
        );
      } else {
        await deps.vectors.delete(ns, written.gone);
        replacedBy.set(doc.id, written.replaced);
      }
    }
    lap("shard_ms");
  }
  const now = Date.now();
  const current = group.filter((p) => !stale.has(p.doc.id));
  // Superseded rows of the external ids written: earlier versions (the one replaced, and pending
  // ones a later version overtook), deleted with their originals once D1 says which they were.
  const versioned = current.filter((p) => p.doc.externalId !== null);
  const statements: D1PreparedStatement[] = [
    ...[...stale].map((id) =>
      db.$client.prepare("DELETE FROM documents WHERE id = ? RETURNING id, tenant_id").bind(id),
    ),
    ...versioned.map((p) =>
      db.$client
        .prepare(
          `DELETE FROM documents WHERE tenant_id = ? AND collection_id = ? AND external_id = ? AND version < ?
           RETURNING id, tenant_id`,
        )
        .bind(p.doc.tenantId, p.doc.collectionId, p.doc.externalId, p.doc.version),
    ),
    ...versioned.map((p) =>
      db.$client
        .prepare("UPDATE documents SET replaces = NULL WHERE id = ? AND tenant_id = ?")
        .bind(p.doc.id, p.doc.tenantId),
    ),
    db.$client
      .prepare(
        `UPDATE documents SET status = 'ready', error = NULL, updated_at = ?1,
           chunk_count = (SELECT CAST(j.value ->> 2 AS INTEGER) FROM json_each(?2) AS j WHERE j.value ->> 0 = documents.id)
         WHERE (id, tenant_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?2))`,
      )
      .bind(now, JSON.stringify(current.map((p) => [p.doc.id, p.doc.tenantId, p.rows.length]))),
  ];
  const touched = new Map(group.map((p) => [p.doc.collectionId, p.doc.tenantId]));
  for (const [collectionId, tenantId] of touched) {
    statements.push(toStatement(db, bumpVersion(db, tenantId, collectionId, now)));
    statements.push(
      toStatement(
        db,
        db
          .update(collections)
          .set({ embeddingModel: deps.embedder.model, embeddingDimensions: deps.embedder.dimensions })
          .where(
            and(
              eq(collections.id, collectionId),
              eq(collections.tenantId, tenantId),
              isNull(collections.embeddingModel),
            ),
          ),
      ),
    );
  }
  const results = await db.$client.batch<{ id: string; tenant_id: string }>(statements);
  lap("d1_ms");
  // The originals of the rows the deletes removed (stale versions, superseded ones).
  const removed = results.slice(0, stale.size + versioned.length).flatMap((r) => r.results ?? []);
  if (removed.length > 0) {
    await deps.blobs.delete(removed.map((r) => blobKey(r.tenant_id, r.id)));
  }
  for (const { doc, rows } of current) {
    const replaced = replacedBy.get(doc.id);
    if (doc.externalId !== null && doc.version > 1) {
      deps.notify(doc.tenantId, "document.updated", {
        document_id: doc.id,
        collection_id: doc.collectionId,
        external_id: doc.externalId,
        version: doc.version,
        replaced_document_id: replaced ?? null,
        chunk_count: rows.length,
      });
    } else {
      deps.notify(doc.tenantId, "document.ready", {
        document_id: doc.id,
        collection_id: doc.collectionId,
        chunk_count: rows.length,
      });
    }
  }
  return timings;
}

export interface CommitTimings {
  embed_ms: number;
  vectors_ms: number;
  shard_ms: number;
  d1_ms: number;
}

/** A chunk row as its shard stores it (the tenant and collection are the shard's own). */
export function toShardChunk(row: ChunkInsert): ShardChunk {
  return {
    id: row.id,
    document_id: row.documentId,
    ordinal: row.ordinal,
    title: row.title,
    heading: row.heading,
    text: row.text,
    page: row.page,
    token_estimate: row.tokenEstimate,
    char_start: row.charStart,
    char_end: row.charEnd,
  };
}

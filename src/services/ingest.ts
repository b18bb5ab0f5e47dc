/**
 * The ingestion consumer: original from R2 -> text (per kind) -> structure-aware chunks -> D1
 * (chunks + FTS by trigger) -> document `ready`. Idempotent per document, so a redelivered
 * message redoes the work cleanly. A document that cannot be read fails at once with a reason;
 * anything else is retried with backoff and, after the last attempt, the dead-letter consumer
 * marks it failed — no document stays `processing` unseen.
 */

import { and, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import { type Db, inList, toStatement } from "../adapters/db/client";
import { chunks, collections, type DocumentRow, documents } from "../adapters/db/schema";
import type { Embedder } from "../adapters/embed/interface";
import { namespaceOf, type VectorIndex } from "../adapters/vector/interface";
import { type Chunk, type ChunkOptions, chunkText, DEFAULT_CHUNK_OPTIONS, MAX_CHUNKS_PER_DOCUMENT } from "../lib/chunk";
import { DocxError, docxToText } from "../lib/docx";
import { htmlToText } from "../lib/html";
import { blobKey } from "../lib/ids";
import type { Logger } from "../lib/log";
import { PdfError, pdfToPages } from "../lib/pdf";
import { decodeText, MIME_TYPES } from "../lib/sniff";
import type { IngestMessage } from "../schemas/queue";
import { bumpVersion } from "./collections";
import { enqueueDocuments, type IngestQueues } from "./queue";

/** A document that can never be processed as it is (retrying will not help). */
export class UnreadableDocument extends Error {
  override readonly name = "UnreadableDocument";
}

export interface IngestDeps {
  db: Db;
  blobs: R2Bucket;
  embedder: Embedder;
  vectors: VectorIndex;
  logger: Logger;
  chunking?: ChunkOptions;
}

/** Texts per embedder call. */
const EMBED_BATCH = 64;

/** What a chunk is embedded as: its document title and heading give it context. */
export function embeddingText(chunk: { title: string; heading: string | null; text: string }): string {
  return [chunk.title, chunk.heading, chunk.text].filter(Boolean).join("\n");
}

interface Extracted {
  text: string;
  /** Start offset of each page in `text` (PDF only). */
  pageStarts?: number[];
}

async function extract(mimeType: string, bytes: Uint8Array): Promise<Extracted> {
  try {
    switch (mimeType) {
      case MIME_TYPES.pdf: {
        const pages = await pdfToPages(bytes);
        const pageStarts: number[] = [];
        let text = "";
        for (const page of pages) {
          pageStarts.push(text.length);
          text += `${page}\n\n`;
        }
        return { text, pageStarts };
      }
      case MIME_TYPES.docx:
        return { text: docxToText(bytes) };
      default: {
        const text = decodeText(bytes);
        if (text === undefined) {
          throw new UnreadableDocument("the document is not UTF-8 text without control characters");
        }
        return { text: mimeType === MIME_TYPES.html ? htmlToText(text) : text };
      }
    }
  } catch (error) {
    if (error instanceof PdfError || error instanceof DocxError) {
      throw new UnreadableDocument(error.message);
    }
    throw error;
  }
}

function pageOf(pageStarts: number[] | undefined, offset: number): number | null {
  if (!pageStarts) {
    return null;
  }
  let page = 0;
  while (page + 1 < pageStarts.length && (pageStarts[page + 1] ?? Number.POSITIVE_INFINITY) <= offset) {
    page++;
  }
  return page + 1;
}

/** Bytes of JSON per chunk insert statement (D1 takes values up to 2 MB). */
const INSERT_JSON_BYTES = 512 * 1024;

function chunkRows(doc: DocumentRow, pieces: Chunk[], pageStarts: number[] | undefined) {
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

export async function markFailed(db: Db, message: IngestMessage, reason: string): Promise<void> {
  await db
    .update(documents)
    .set({ status: "failed", error: reason.slice(0, 1_000), updatedAt: Date.now() })
    .where(and(eq(documents.id, message.document_id), eq(documents.tenantId, message.tenant_id)))
    .run();
}

type ChunkInsert = ReturnType<typeof chunkRows>[number];

/**
 * Chunk rows as a few `INSERT … SELECT FROM json_each(?)` statements: one bound JSON value
 * carries hundreds of rows, where row-per-parameter inserts fit 7 rows under D1's 100-parameter
 * limit. The FTS triggers fire per row as before.
 */
function insertChunks(db: Db, rows: ChunkInsert[]): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  let batch: string[] = [];
  let bytes = 0;
  const flush = () => {
    if (batch.length > 0) {
      statements.push(
        db.$client
          .prepare(
            `INSERT INTO chunks (id, tenant_id, collection_id, document_id, ordinal, title, heading, text,
               token_estimate, char_start, char_end, page)
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6,
               value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11
             FROM json_each(?)`,
          )
          .bind(`[${batch.join(",")}]`),
      );
    }
    batch = [];
    bytes = 0;
  };
  for (const r of rows) {
    const json = JSON.stringify([
      r.id,
      r.tenantId,
      r.collectionId,
      r.documentId,
      r.ordinal,
      r.title,
      r.heading,
      r.text,
      r.tokenEstimate,
      r.charStart,
      r.charEnd,
      r.page,
    ]);
    if (bytes + json.length > INSERT_JSON_BYTES) {
      flush();
    }
    batch.push(json);
    bytes += json.length;
  }
  flush();
  return statements;
}

/** A document read, extracted and chunked, waiting to be written. */
interface Prepared {
  message: Message<IngestMessage>;
  doc: DocumentRow;
  rows: ChunkInsert[];
}

/**
 * Reads and chunks one document. Returns undefined when the message is settled here (the
 * document cannot be read: it is failed with the reason); throws when a retry may help.
 */
async function prepare(
  deps: IngestDeps,
  message: Message<IngestMessage>,
  doc: DocumentRow,
): Promise<Prepared | undefined> {
  const object = await deps.blobs.get(blobKey(doc.tenantId, doc.id));
  try {
    if (!object) {
      throw new UnreadableDocument("the original upload is missing from storage");
    }
    const extracted = await extract(doc.mimeType, new Uint8Array(await object.arrayBuffer()));
    const pieces = chunkText(extracted.text, deps.chunking ?? DEFAULT_CHUNK_OPTIONS);
    if (pieces.length === 0) {
      throw new UnreadableDocument("the document contains no text");
    }
    if (pieces.length > MAX_CHUNKS_PER_DOCUMENT) {
      throw new UnreadableDocument(
        `the document yields ${pieces.length} chunks; the limit is ${MAX_CHUNKS_PER_DOCUMENT} (split it)`,
      );
    }
    return { message, doc, rows: chunkRows(doc, pieces, extracted.pageStarts) };
  } catch (error) {
    if (error instanceof UnreadableDocument) {
      await markFailed(deps.db, message.body, error.message);
      deps.logger.info("document failed", { document_id: doc.id, reason: error.message });
      message.ack();
      return undefined;
    }
    throw error;
  }
}

/** Rows written by one commit at most, so one D1 batch stays a few hundred statements. */
const ROWS_PER_COMMIT = 2_000;

/**
 * Writes prepared documents: vectors per collection, then one D1 batch (one transaction) with the
 * old chunks out, the new ones in, the documents ready, the collections' versions bumped and
 * their embedding model recorded. Idempotent, so a retry after a failure anywhere is safe.
 */
async function commit(deps: IngestDeps, group: Prepared[]): Promise<CommitTimings> {
  const { db } = deps;
  const timings = { embed_ms: 0, vectors_ms: 0, d1_ms: 0 };
  let mark = performance.now();
  const lap = (stage: keyof CommitTimings) => {
    const now = performance.now();
    timings[stage] += now - mark;
    mark = now;
  };
  const retried = group.filter((p) => p.doc.attempts > 0).map((p) => p.doc.id);
  const previous = retried.length
    ? await db
        .select({ id: chunks.id, documentId: chunks.documentId })
        .from(chunks)
        .where(inList(chunks.documentId, retried))
    : [];
  const byNamespace = new Map<string, Prepared[]>();
  for (const item of group) {
    const ns = namespaceOf(item.doc.tenantId, item.doc.collectionId);
    byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), item]);
  }
  for (const [ns, items] of byNamespace) {
    const keep = new Set(items.flatMap((item) => item.rows.map((r) => r.id)));
    const mine = new Set(items.map((item) => item.doc.id));
    await deps.vectors.delete(
      ns,
      previous.filter((p) => mine.has(p.documentId) && !keep.has(p.id)).map((p) => p.id),
    );
    lap("vectors_ms");
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
  }
  const now = Date.now();
  const statements: D1PreparedStatement[] = [
    toStatement(
      db,
      db.delete(chunks).where(
        inList(
          chunks.documentId,
          group.map((p) => p.doc.id),
        ),
      ),
    ),
    ...insertChunks(
      db,
      group.flatMap((p) => p.rows),
    ),
    db.$client
      .prepare(
        `UPDATE documents SET status = 'ready', error = NULL, updated_at = ?1,
           chunk_count = (SELECT j.value ->> 2 FROM json_each(?2) AS j WHERE j.value ->> 0 = documents.id)
         WHERE (id, tenant_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?2))`,
      )
      .bind(now, JSON.stringify(group.map((p) => [p.doc.id, p.doc.tenantId, p.rows.length]))),
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
  await db.$client.batch(statements);
  lap("d1_ms");
  return timings;
}

interface CommitTimings {
  embed_ms: number;
  vectors_ms: number;
  d1_ms: number;
}

/** Seconds before retry N (1-based): 10, 40, 90, 160 … capped at 15 minutes. */
export function retryDelaySeconds(attempt: number): number {
  return Math.min(900, 10 * attempt * attempt);
}

/** Documents of one batch read and extracted at the same time: their R2 reads overlap. */
export const INGEST_CONCURRENCY = 16;

async function retryLater(deps: IngestDeps, message: Message<IngestMessage>, error: unknown): Promise<void> {
  const reason = error instanceof Error ? error.message : String(error);
  deps.logger.warn("document processing failed; will retry", {
    document_id: message.body.document_id,
    attempt: message.attempts,
    error,
  });
  await deps.db
    .update(documents)
    .set({
      status: "queued",
      error: `attempt ${message.attempts} failed: ${reason}`.slice(0, 1_000),
      updatedAt: Date.now(),
    })
    .where(and(eq(documents.id, message.body.document_id), eq(documents.tenantId, message.body.tenant_id)))
    .run();
  message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
}

type Claimed = { message: Message<IngestMessage>; doc: DocumentRow };

/**
 * Reads the batch's documents, settles the messages that need no work (deleted, already ready,
 * model mismatch, dead-lettered) and marks the rest `processing`; returns the rest.
 */
async function claim(deps: IngestDeps, batch: MessageBatch<IngestMessage>, deadLetter: boolean): Promise<Claimed[]> {
  const { db } = deps;
  const ids = batch.messages.map((m) => m.body.document_id);
  if (ids.length === 0) {
    return [];
  }
  const docs = new Map((await db.select().from(documents).where(inList(documents.id, ids))).map((d) => [d.id, d]));
  if (deadLetter) {
    for (const message of batch.messages) {
      const last = docs.get(message.body.document_id)?.error ?? "unknown";
      await markFailed(db, message.body, `processing failed after every retry (last error: ${last})`);
      message.ack();
    }
    return [];
  }
  const live: Array<{ message: Message<IngestMessage>; doc: DocumentRow }> = [];
  for (const message of batch.messages) {
    const doc = docs.get(message.body.document_id);
    if (!doc || doc.tenantId !== message.body.tenant_id || doc.status === "ready") {
      message.ack(); // deleted meanwhile, or a redelivery of finished work
    } else {
      live.push({ message, doc });
    }
  }
  if (live.length === 0) {
    return [];
  }
  const models = new Map(
    (
      await db
        .select({ id: collections.id, model: collections.embeddingModel })
        .from(collections)
        .where(inList(collections.id, [...new Set(live.map((l) => l.doc.collectionId))]))
    ).map((c) => [c.id, c.model]),
  );
  const workable: typeof live = [];
  for (const item of live) {
    const model = models.get(item.doc.collectionId);
    if (model === undefined) {
      item.message.ack(); // the collection was deleted meanwhile
    } else if (model !== null && model !== deps.embedder.model) {
      await markFailed(
        db,
        item.message.body,
        `the collection holds ${model} vectors but the configured embedder is ${deps.embedder.model}; a collection never mixes models`,
      );
      item.message.ack();
    } else {
      workable.push(item);
    }
  }
  if (workable.length === 0) {
    return [];
  }
  await db
    .update(documents)
    .set({ status: "processing", attempts: sql`${documents.attempts} + 1`, updatedAt: Date.now() })
    .where(
      inList(
        documents.id,
        workable.map((w) => w.doc.id),
      ),
    )
    .run();
  return workable;
}

/**
 * A batch from an ingestion queue, processed as a unit so that it costs a few round trips rather
 * than a few per document: one read of the documents, one status update, parallel extraction,
 * one embedding and vector write per collection, one D1 transaction. Unreadable documents fail on
 * their own; if writing fails, every message of the batch is retried (the writes are idempotent).
 * From the dead-letter queue: every document is marked failed with its last error.
 */
export async function handleIngestBatch(
  deps: IngestDeps,
  batch: MessageBatch<IngestMessage>,
  deadLetter: boolean,
): Promise<void> {
  let workable: Claimed[];
  try {
    workable = await claim(deps, batch, deadLetter);
  } catch (error) {
    // Reading or marking the batch failed (D1 unavailable, say): the whole batch comes back later
    // (a redelivered message whose work is done is acknowledged without effect).
    deps.logger.warn("ingestion batch could not be claimed; retrying it", { messages: batch.messages.length, error });
    const attempts = Math.max(...batch.messages.map((m) => m.attempts));
    batch.retryAll({ delaySeconds: retryDelaySeconds(attempts) });
    return;
  }
  if (workable.length === 0) {
    return;
  }
  const prepared: Prepared[] = [];
  const pending = [...workable];
  const prepareStarted = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(INGEST_CONCURRENCY, pending.length) }, async () => {
      for (let item = pending.shift(); item; item = pending.shift()) {
        try {
          const ready = await prepare(deps, item.message, item.doc);
          if (ready) {
            prepared.push(ready);
          }
        } catch (error) {
          await retryLater(deps, item.message, error);
        }
      }
    }),
  );

  const prepareMs = performance.now() - prepareStarted;
  let group: Prepared[] = [];
  let size = 0;
  const flush = async () => {
    if (group.length === 0) {
      return;
    }
    const current = group;
    group = [];
    size = 0;
    try {
      const timings = await commit(deps, current);
      for (const item of current) {
        item.message.ack();
      }
      deps.logger.info("documents ready", {
        documents: current.length,
        chunks: current.reduce((n, p) => n + p.rows.length, 0),
        prepare_ms: Math.round(prepareMs),
        embed_ms: Math.round(timings.embed_ms),
        vectors_ms: Math.round(timings.vectors_ms),
        d1_ms: Math.round(timings.d1_ms),
      });
    } catch (error) {
      for (const item of current) {
        await retryLater(deps, item.message, error);
      }
    }
  };
  for (const item of prepared) {
    if (size > 0 && size + item.rows.length > ROWS_PER_COMMIT) {
      await flush();
    }
    group.push(item);
    size += item.rows.length;
  }
  await flush();
}

/** A document not settled this long after its last change is presumed lost in transit. */
export const STALE_AFTER_MS = 15 * 60_000;
/** After this many processing attempts a stale document is failed rather than sent again. */
export const MAX_ATTEMPTS = 6;

/**
 * The scheduled sweep: re-enqueues documents left `queued` or `processing` (a lost message, a
 * consumer killed mid-way) and fails the ones that already had every attempt. At most 200 a run.
 */
export async function sweepStale(
  deps: { db: Db; queues: IngestQueues; logger: Logger },
  now = Date.now(),
): Promise<{ requeued: number; failed: number }> {
  const stale = await deps.db
    .select({
      id: documents.id,
      tenantId: documents.tenantId,
      priority: documents.priority,
      attempts: documents.attempts,
    })
    .from(documents)
    .where(and(inArray(documents.status, ["queued", "processing"]), lt(documents.updatedAt, now - STALE_AFTER_MS)))
    .limit(200);
  const hopeless = stale.filter((doc) => doc.attempts >= MAX_ATTEMPTS);
  for (const doc of hopeless) {
    await markFailed(
      deps.db,
      { document_id: doc.id, tenant_id: doc.tenantId },
      `processing did not finish after ${doc.attempts} attempts`,
    );
  }
  const again = stale.filter((doc) => doc.attempts < MAX_ATTEMPTS);
  if (again.length > 0) {
    await deps.db
      .update(documents)
      .set({ status: "queued", updatedAt: now })
      .where(
        inList(
          documents.id,
          again.map((doc) => doc.id),
        ),
      )
      .run();
    await enqueueDocuments(deps.queues, again);
  }
  const requeued = again.length;
  const failed = hopeless.length;
  if (stale.length > 0) {
    deps.logger.warn("swept stale documents", { requeued, failed });
  }
  return { requeued, failed };
}

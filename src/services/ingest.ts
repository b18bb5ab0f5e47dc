/**
 * The ingestion consumer: original from R2 -> text (per kind) -> structure-aware chunks -> D1
 * (chunks + FTS by trigger) -> document `ready`. Idempotent per document, so a redelivered
 * message redoes the work cleanly. A document that cannot be read fails at once with a reason;
 * anything else is retried with backoff and, after the last attempt, the dead-letter consumer
 * marks it failed — no document stays `processing` unseen.
 */
import { and, eq, inArray, isNull, lt } from "drizzle-orm";
import type { Db } from "../adapters/db/client";
import { chunks, collections, type DocumentRow, documents } from "../adapters/db/schema";
import type { Embedder } from "../adapters/embed/interface";
import { namespaceOf, type VectorIndex } from "../adapters/vector/interface";
import { type Chunk, type ChunkOptions, chunkText, DEFAULT_CHUNK_OPTIONS } from "../lib/chunk";
import { DocxError, docxToText } from "../lib/docx";
import { htmlToText } from "../lib/html";
import { blobKey } from "../lib/ids";
import type { Logger } from "../lib/log";
import { PdfError, pdfToPages } from "../lib/pdf";
import { decodeText, MIME_TYPES } from "../lib/sniff";
import { bumpVersion, type IngestMessage } from "./documents";

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
          throw new UnreadableDocument("the document is not valid UTF-8 text");
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

/** Bounds one document's write (one D1 batch); ~10 MB of text at the default chunk size. */
export const MAX_CHUNKS_PER_DOCUMENT = 5_000;

/** D1 allows 100 bound parameters per statement; a chunk row binds 13. */
const ROWS_PER_INSERT = 7;

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

/**
 * Processes one document. Returns normally when the message is settled (done, failed for good, or
 * the document is gone); throws when a retry may help.
 */
export async function processDocument(deps: IngestDeps, message: IngestMessage): Promise<void> {
  const { db } = deps;
  const where = and(eq(documents.id, message.document_id), eq(documents.tenantId, message.tenant_id));
  const doc = await db.select().from(documents).where(where).get();
  if (!doc || doc.status === "ready") {
    return; // deleted meanwhile, or a redelivery of finished work
  }
  const now = Date.now();
  await db
    .update(documents)
    .set({ status: "processing", attempts: doc.attempts + 1, updatedAt: now })
    .where(where)
    .run();

  const object = await deps.blobs.get(blobKey(doc.tenantId, doc.id));
  if (!object) {
    await markFailed(db, message, "the original upload is missing from storage");
    return;
  }
  let extracted: Extracted;
  let pieces: Chunk[];
  try {
    extracted = await extract(doc.mimeType, new Uint8Array(await object.arrayBuffer()));
    pieces = chunkText(extracted.text, deps.chunking ?? DEFAULT_CHUNK_OPTIONS);
    if (pieces.length === 0) {
      throw new UnreadableDocument("the document contains no text");
    }
    if (pieces.length > MAX_CHUNKS_PER_DOCUMENT) {
      throw new UnreadableDocument(
        `the document yields ${pieces.length} chunks; the limit is ${MAX_CHUNKS_PER_DOCUMENT} (split it)`,
      );
    }
  } catch (error) {
    if (error instanceof UnreadableDocument) {
      await markFailed(db, message, error.message);
      deps.logger.info("document failed", { document_id: doc.id, reason: error.message });
      return;
    }
    throw error;
  }

  const collection = await db
    .select({ model: collections.embeddingModel })
    .from(collections)
    .where(eq(collections.id, doc.collectionId))
    .get();
  if (!collection) {
    return; // the collection was deleted meanwhile
  }
  if (collection.model !== null && collection.model !== deps.embedder.model) {
    await markFailed(
      db,
      message,
      `the collection holds ${collection.model} vectors but the configured embedder is ${deps.embedder.model}; a collection never mixes models`,
    );
    return;
  }

  const rows = chunkRows(doc, pieces, extracted.pageStarts);
  const namespace = namespaceOf(doc.tenantId, doc.collectionId);
  const previous = await db.select({ id: chunks.id }).from(chunks).where(eq(chunks.documentId, doc.id));
  const keep = new Set(rows.map((r) => r.id));
  await deps.vectors.delete(
    namespace,
    previous.map((p) => p.id).filter((id) => !keep.has(id)),
  );
  for (let i = 0; i < rows.length; i += EMBED_BATCH) {
    const slice = rows.slice(i, i + EMBED_BATCH);
    const vectors = await deps.embedder.embed(slice.map(embeddingText), "document");
    await deps.vectors.upsert(
      namespace,
      slice.map((row, j) => ({ id: row.id, documentId: doc.id, vector: vectors[j] ?? new Float32Array() })),
    );
  }

  const statements = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    statements.push(db.insert(chunks).values(rows.slice(i, i + ROWS_PER_INSERT)));
  }
  // One batch is one transaction: old chunks out, new chunks in, document ready, version bumped.
  await db.batch([
    db.delete(chunks).where(eq(chunks.documentId, doc.id)),
    ...statements,
    db
      .update(documents)
      .set({ status: "ready", error: null, chunkCount: rows.length, updatedAt: Date.now() })
      .where(where),
    bumpVersion(db, doc.collectionId),
    db
      .update(collections)
      .set({ embeddingModel: deps.embedder.model, embeddingDimensions: deps.embedder.dimensions })
      .where(and(eq(collections.id, doc.collectionId), isNull(collections.embeddingModel))),
  ]);
  deps.logger.info("document ready", { document_id: doc.id, chunks: rows.length });
}

/** Seconds before retry N (1-based): 10, 40, 90, 160 … capped at 15 minutes. */
export function retryDelaySeconds(attempt: number): number {
  return Math.min(900, 10 * attempt * attempt);
}

/** Documents of one batch processed at the same time: their I/O (D1, R2, vectors) overlaps. */
export const INGEST_CONCURRENCY = 4;

/**
 * A batch from an ingestion queue: documents are processed a few at a time, each message settled
 * on its own. From the dead-letter queue: every document is marked failed with its last error.
 */
export async function handleIngestBatch(
  deps: IngestDeps,
  batch: MessageBatch<IngestMessage>,
  deadLetter: boolean,
): Promise<void> {
  const settle = async (message: Message<IngestMessage>) => {
    const body = message.body;
    if (deadLetter) {
      const doc = await deps.db
        .select({ error: documents.error })
        .from(documents)
        .where(eq(documents.id, body.document_id))
        .get();
      await markFailed(deps.db, body, `processing failed after every retry (last error: ${doc?.error ?? "unknown"})`);
      message.ack();
      return;
    }
    try {
      await processDocument(deps, body);
      message.ack();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      deps.logger.warn("document processing failed; will retry", {
        document_id: body.document_id,
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
        .where(and(eq(documents.id, body.document_id), eq(documents.tenantId, body.tenant_id)))
        .run();
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  };
  const queue = [...batch.messages];
  await Promise.all(
    Array.from({ length: Math.min(INGEST_CONCURRENCY, queue.length) }, async () => {
      for (let message = queue.shift(); message; message = queue.shift()) {
        await settle(message);
      }
    }),
  );
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
  deps: { db: Db; queues: { high: Queue<IngestMessage>; bulk: Queue<IngestMessage> }; logger: Logger },
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
  let requeued = 0;
  let failed = 0;
  for (const doc of stale) {
    const message = { document_id: doc.id, tenant_id: doc.tenantId };
    if (doc.attempts >= MAX_ATTEMPTS) {
      await markFailed(deps.db, message, `processing did not finish after ${doc.attempts} attempts`);
      failed++;
      continue;
    }
    await deps.db.update(documents).set({ status: "queued", updatedAt: now }).where(eq(documents.id, doc.id)).run();
    await (doc.priority === "high" ? deps.queues.high : deps.queues.bulk).send(message, { contentType: "json" });
    requeued++;
  }
  if (stale.length > 0) {
    deps.logger.warn("swept stale documents", { requeued, failed });
  }
  return { requeued, failed };
}

/**
 * The ingestion consumer: original from R2 -> text (per kind) -> structure-aware chunks -> D1
 * (chunks + FTS by trigger) -> document `ready`. Idempotent per document, so a redelivered
 * message redoes the work cleanly. A document that cannot be read fails at once with a reason;
 * anything else is retried with backoff and, after the last attempt, the dead-letter consumer
 * marks it failed — no document stays `processing` unseen.
 */

import { and, eq, sql } from "drizzle-orm";
import { type Db, inList } from "../../adapters/db/client";
import { collections, type DocumentRow, documents } from "../../adapters/db/schema";
import type { Embedder } from "../../adapters/embed/interface";
import type { ChunkShards } from "../../adapters/shards/interface";
import type { VectorIndex } from "../../adapters/vector/interface";
import { type ChunkOptions, chunkText, DEFAULT_CHUNK_OPTIONS, MAX_CHUNKS_PER_DOCUMENT } from "../../lib/chunk";
import { blobKey } from "../../lib/ids";
import type { Logger } from "../../lib/log";
import type { IngestMessage } from "../../schemas/queue";
import type { Notify } from "../notifications/service";
import { chunkRows, commit, markFailed, type Prepared, ROWS_PER_COMMIT } from "./commit";
import { extract, UnreadableDocument } from "./extract";

export interface IngestDeps {
  db: Db;
  blobs: R2Bucket;
  embedder: Embedder;
  vectors: VectorIndex;
  /** Each collection's search shard: where the chunks go. */
  shards: ChunkShards;
  logger: Logger;
  /** Tells the tenant: `document.processing`, `document.ready`, `document.failed`. */
  notify: Notify;
  chunking?: ChunkOptions;
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
      await markFailed(deps, message.body, error.message);
      deps.logger.info("document failed", { document_id: doc.id, reason: error.message });
      message.ack();
      return undefined;
    }
    throw error;
  }
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
      await markFailed(deps, message.body, `processing failed after every retry (last error: ${last})`);
      message.ack();
    }
    return [];
  }
  const live: Array<{ message: Message<IngestMessage>; doc: DocumentRow }> = [];
  const claimed = new Set<string>();
  for (const message of batch.messages) {
    const doc = docs.get(message.body.document_id);
    if (!doc || doc.tenantId !== message.body.tenant_id || doc.status === "ready") {
      message.ack(); // deleted meanwhile, or a redelivery of finished work
    } else if (claimed.has(doc.id)) {
      // The same document twice in one batch (a redelivery beside a re-queue): once is the work.
      message.ack();
    } else {
      claimed.add(doc.id);
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
        deps,
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
  for (const { doc } of workable) {
    deps.notify(doc.tenantId, "document.processing", {
      document_id: doc.id,
      collection_id: doc.collectionId,
      attempt: doc.attempts + 1,
    });
  }
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

/**
 * Documents: upload (deduplicated by content hash per collection), read, page, delete. The
 * original goes to R2, the row is written `queued`, and a message goes to the ingestion queue for
 * its priority; if any step fails the earlier ones are undone, so nothing is half-created.
 */

import { and, desc, eq, isNull } from "drizzle-orm";
import { type Db, inList, insertRows } from "../adapters/db/client";
import { type DocumentRow, documents } from "../adapters/db/schema";
import type { ChunkShards } from "../adapters/shards/interface";
import { namespaceOf, type VectorIndex } from "../adapters/vector/interface";
import { documentHash } from "../durable-objects/shard-layout";
import { AppError } from "../errors";
import { MAX_CHUNKS_PER_DOCUMENT, minChunks } from "../lib/chunk";
import { sha256Hex } from "../lib/crypto";
import { encodeCursor } from "../lib/cursor";
import { blobKey, newId } from "../lib/ids";
import { NOT_UTF8 } from "../lib/json-member";
import { type MetadataFilter, matchesFilter } from "../lib/metadata-filter";
import { type DocumentKind, MIME_TYPES, scanText, sniffDocument, type TextScan } from "../lib/sniff";
import { iso } from "../schemas/common";
import type { DocumentView } from "../schemas/documents";
import { bumpVersion, getCollection } from "./collections";
import { ownedRow } from "./owned";
import { afterCursor, toPage } from "./paging";
import { canAccessCollection, type KeyPrincipal } from "./principal";
import { enqueueDocuments, type IngestQueues } from "./queue";

export type Priority = DocumentRow["priority"];

export interface DocumentDeps {
  db: Db;
  blobs: R2Bucket;
  /** Queue per priority: `high` has its own so it is never stuck behind bulk imports. */
  queues: IngestQueues;
  maxUploadBytes: number;
}

export interface Upload {
  bytes: Uint8Array;
  title: string;
  metadata: Record<string, unknown> | null;
  priority: Priority;
  /** JSON uploads are text by definition: binary kinds are not sniffed for them. */
  textOnly: boolean;
}

export function toView(row: DocumentRow): DocumentView {
  return {
    id: row.id,
    collection_id: row.collectionId,
    title: row.title,
    mime_type: row.mimeType,
    size_bytes: row.sizeBytes,
    sha256: row.sha256,
    status: row.status,
    error: row.error,
    chunk_count: row.chunkCount,
    priority: row.priority,
    metadata: row.metadata ?? null,
    external_id: row.externalId,
    version: row.version,
    replaces: row.replaces,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
  };
}

const invalid = (path: string, message: string) =>
  new AppError("validation_failed", message, { errors: [{ path, message }] });

/**
 * Decides the document's kind and refuses at once what ingestion could only fail: an empty
 * document, text with NUL or other control characters or none but space, and text too long for a
 * document's chunks (from its length alone: at least one chunk per budget of characters). The text
 * is scanned, never held decoded or chunked here, so an upload costs about its size in memory; what
 * only chunking finds (more chunks than allowed from many headings, HTML with no text) fails the
 * document in ingestion, with the reason. PDF and DOCX are only read by the consumer.
 */
function inspect(upload: Upload): DocumentKind {
  const field = upload.textOnly ? "text" : "file";
  if (upload.bytes.byteLength === 0) {
    throw invalid(field, "The document is empty.");
  }
  let scan: TextScan;
  if (upload.textOnly) {
    const scanned = scanText(upload.bytes);
    if ("problem" in scanned) {
      if (scanned.problem === "control_characters") {
        throw controlCharacters(field, "The text contains");
      }
      throw new AppError("bad_request", NOT_UTF8);
    }
    scan = scanned;
  } else {
    const sniffed = sniffDocument(upload.bytes);
    if (sniffed.kind === undefined) {
      if (sniffed.problem === "control_characters") {
        throw controlCharacters(field, "The file is UTF-8 but contains", " (UTF-16 text looks like this: send UTF-8)");
      }
      throw new AppError(
        "unsupported_media_type",
        "The file is not a PDF, DOCX, HTML, Markdown or UTF-8 text document (decided from its content).",
      );
    }
    if (!("length" in sniffed)) {
      return sniffed.kind;
    }
    scan = sniffed;
  }
  if (scan.blank) {
    throw invalid(field, "The document has no text to index.");
  }
  const atLeast = minChunks(scan.length);
  if (atLeast > MAX_CHUNKS_PER_DOCUMENT) {
    throw invalid(
      field,
      `The document's ${scan.length} characters make at least ${atLeast} chunks; the limit is ${MAX_CHUNKS_PER_DOCUMENT} per document (split it).`,
    );
  }
  return scan.kind;
}

const controlCharacters = (field: string, prefix: string, suffix = "") =>
  invalid(
    field,
    `${prefix} NUL or other control characters (U+0000–U+001F other than tab, newlines and form feed)${suffix}; remove them.`,
  );

export type UploadResult = { document: DocumentView; deduplicated: boolean } | { error: AppError };

/**
 * What every upload passes before it is stored: its size, the caller's metadata filter (a filtered
 * key writes only documents it could read back), its kind; and its content hash.
 */
async function checkUpload(
  deps: Pick<DocumentDeps, "maxUploadBytes">,
  principal: KeyPrincipal,
  upload: Upload,
): Promise<{ kind: DocumentKind; sha256: string }> {
  if (upload.bytes.byteLength > deps.maxUploadBytes) {
    throw new AppError("payload_too_large", `Documents are limited to ${deps.maxUploadBytes} bytes.`);
  }
  if (principal.filter && !matchesFilter(upload.metadata, principal.filter)) {
    throw new AppError("forbidden", "This document's metadata does not match the key's metadata filter.");
  }
  return { kind: inspect(upload), sha256: await sha256Hex(upload.bytes) };
}

/**
 * Uploads documents into one collection, each standing alone in the result: checked (size,
 * type), deduplicated by content hash (against the collection and within the call), stored in R2,
 * written `queued` in one D1 batch and sent to the queue of its priority in one message batch.
 * If the queue refuses, the new rows and blobs are removed again and those entries get `503`.
 */
export async function uploadDocuments(
  deps: DocumentDeps,
  principal: KeyPrincipal,
  collectionId: string,
  uploads: Upload[],
): Promise<UploadResult[]> {
  await getCollection(deps.db, principal, collectionId);
  const results: Array<UploadResult | undefined> = new Array(uploads.length);
  const candidates: Array<{ index: number; upload: Upload; kind: DocumentKind; sha256: string }> = [];
  await Promise.all(
    uploads.map(async (upload, index) => {
      try {
        candidates.push({ index, upload, ...(await checkUpload(deps, principal, upload)) });
      } catch (error) {
        if (!(error instanceof AppError)) {
          throw error;
        }
        results[index] = { error };
      }
    }),
  );
  candidates.sort((a, b) => a.index - b.index);

  const existing = new Map<string, DocumentRow>();
  const hashes = [...new Set(candidates.map((c) => c.sha256))];
  // One query whatever the count: the list binds as one JSON parameter (D1 binds at most 100).
  const rows =
    hashes.length === 0
      ? []
      : await deps.db
          .select()
          .from(documents)
          .where(
            and(
              eq(documents.tenantId, principal.tenantId),
              eq(documents.collectionId, collectionId),
              inList(documents.sha256, hashes),
              isNull(documents.replaces),
            ),
          );
  for (const row of rows) {
    existing.set(row.sha256, row);
  }

  const now = Date.now();
  const fresh: Array<{ index: number; row: DocumentRow; bytes: Uint8Array }> = [];
  const firstIndexOf = new Map<string, number>();
  for (const { index, upload, kind, sha256 } of candidates) {
    const known = existing.get(sha256);
    if (known) {
      // A filtered caller learns of an existing copy only if its filter lets it read that copy.
      results[index] =
        principal.filter && !matchesFilter(known.metadata, principal.filter)
          ? { error: new AppError("conflict", "This collection already holds this content.") }
          : { document: toView(known), deduplicated: true };
      continue;
    }
    if (firstIndexOf.has(sha256)) {
      continue; // the same content earlier in this call: answered below, once that one exists
    }
    firstIndexOf.set(sha256, index);
    fresh.push({
      index,
      bytes: upload.bytes,
      row: queuedRow(principal, collectionId, upload, { id: newId("doc"), kind, sha256, now }),
    });
  }

  if (fresh.length > 0) {
    await Promise.all(
      fresh.map(({ row, bytes }) =>
        deps.blobs.put(blobKey(row.tenantId, row.id), bytes, { httpMetadata: { contentType: row.mimeType } }),
      ),
    );
    const inserted = await insertDocuments(
      deps.db,
      fresh.map((f) => f.row),
    );
    const kept = fresh.filter(({ row }) => inserted.has(row.id));
    const raced = fresh.filter(({ row }) => !inserted.has(row.id));
    // Lost a race with a concurrent upload of the same content: answer with the winner.
    for (const { index, row } of raced) {
      await deps.blobs.delete(blobKey(row.tenantId, row.id));
      const winner = await deps.db
        .select()
        .from(documents)
        .where(
          and(eq(documents.collectionId, collectionId), eq(documents.sha256, row.sha256), isNull(documents.replaces)),
        )
        .get();
      results[index] = winner
        ? { document: toView(winner), deduplicated: true }
        : { error: new AppError("conflict", "The same content was deleted while it was being uploaded; try again.") };
    }
    try {
      await enqueueDocuments(
        deps.queues,
        kept.map(({ row }) => row),
      );
      for (const { index, row } of kept) {
        results[index] = { document: toView(row), deduplicated: false };
      }
    } catch (cause) {
      await deps.db
        .delete(documents)
        .where(
          inList(
            documents.id,
            kept.map(({ row }) => row.id),
          ),
        )
        .run();
      await deps.blobs.delete(kept.map(({ row }) => blobKey(row.tenantId, row.id)));
      for (const { index } of kept) {
        results[index] = {
          error: new AppError("upstream_unavailable", "The ingestion queue is unavailable; the upload was not kept.", {
            cause,
          }),
        };
      }
    }
  }

  // Repeats of content first seen in this same call point at that document.
  for (const { index, sha256 } of candidates) {
    if (results[index] === undefined) {
      const first = results[firstIndexOf.get(sha256) ?? -1];
      results[index] = first && "document" in first ? { document: first.document, deduplicated: true } : first;
    }
  }
  return results.map((r) => r ?? { error: new AppError("internal", "The upload was not processed.") });
}

/** A new document's row, queued; a plain upload unless `external` names its external id. */
function queuedRow(
  principal: KeyPrincipal,
  collectionId: string,
  upload: Upload,
  made: { id: string; kind: DocumentKind; sha256: string; now: number },
  external?: { externalId: string; replaces: string | null },
): DocumentRow {
  return {
    id: made.id,
    tenantId: principal.tenantId,
    collectionId,
    title: upload.title,
    mimeType: MIME_TYPES[made.kind],
    sizeBytes: upload.bytes.byteLength,
    sha256: made.sha256,
    status: "queued",
    error: null,
    chunkCount: 0,
    priority: upload.priority,
    attempts: 0,
    metadata: upload.metadata,
    externalId: external?.externalId ?? null,
    version: 1,
    replaces: external?.replaces ?? null,
    createdAt: made.now,
    updatedAt: made.now,
  };
}

/** One document: the batch path with a single entry, its error thrown. */
export async function uploadDocument(
  deps: DocumentDeps,
  principal: KeyPrincipal,
  collectionId: string,
  upload: Upload,
): Promise<{ document: DocumentView; deduplicated: boolean }> {
  const [result] = await uploadDocuments(deps, principal, collectionId, [upload]);
  if (!result) {
    throw new AppError("internal", "The upload was not processed.");
  }
  if ("error" in result) {
    throw result.error;
  }
  return result;
}

/**
 * The document: 404 unless it is the tenant's and matches the caller's metadata filter (a document
 * outside it is not revealed to exist); 403 if the key is restricted to other collections.
 */
export async function getDocument(db: Db, principal: KeyPrincipal, id: string): Promise<DocumentRow> {
  const row = await ownedRow(db, documents, id, principal.tenantId, "document");
  if (principal.filter && !matchesFilter(row.metadata, principal.filter)) {
    throw new AppError("not_found", "No such document.");
  }
  if (!canAccessCollection(principal, row.collectionId)) {
    throw new AppError("forbidden", "This API key is restricted to other collections.");
  }
  return row;
}

/** Rows a filtered caller's listing reads per page at most, to fill it with matching documents. */
const FILTERED_SCAN_ROWS = 1_000;

export async function listDocuments(
  db: Db,
  principal: KeyPrincipal,
  collectionId: string,
  page: { cursor?: string | undefined; limit: number },
): Promise<{ items: DocumentView[]; next_cursor: string | null }> {
  await getCollection(db, principal, collectionId);
  const after = afterCursor(page.cursor, { createdAt: documents.createdAt, id: documents.id });
  const filter = principal.filter;
  const rows = await db
    .select()
    .from(documents)
    .where(
      and(
        eq(documents.tenantId, principal.tenantId),
        eq(documents.collectionId, collectionId),
        // Pending versions of an external id are not listed until they replace their document.
        isNull(documents.replaces),
        after,
      ),
    )
    .orderBy(desc(documents.createdAt), desc(documents.id))
    .limit(filter ? FILTERED_SCAN_ROWS + 1 : page.limit + 1);
  if (!filter) {
    return toPage(rows, page.limit, toView);
  }
  // A filtered caller sees the documents its filter matches: up to `limit` of them from at most
  // FILTERED_SCAN_ROWS rows; the cursor continues after the last row read (a page may be short).
  const items: DocumentView[] = [];
  let last: DocumentRow | undefined;
  for (const row of rows.slice(0, FILTERED_SCAN_ROWS)) {
    if (items.length === page.limit) {
      break;
    }
    last = row;
    if (matchesFilter(row.metadata, filter)) {
      items.push(toView(row));
    }
  }
  const more = last !== undefined && rows.indexOf(last) < rows.length - 1;
  return { items, next_cursor: more && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null };
}

/**
 * Inserts document rows with one statement; a row whose content the collection already holds (a
 * concurrent upload won) is skipped. Returns the ids actually inserted.
 */
async function insertDocuments(db: Db, rows: DocumentRow[]): Promise<Set<string>> {
  const { results } = await insertRows(db, documents, rows, { ignoreConflicts: true, returning: ["id"] }).run<{
    id: string;
  }>();
  return new Set(results.map((r) => r.id));
}

/** Deletes the document, its chunks (in the collection's shard), its vectors and its original. */
export async function deleteDocument(
  deps: Pick<DocumentDeps, "db" | "blobs"> & { vectors: VectorIndex; shards: ChunkShards },
  principal: KeyPrincipal,
  id: string,
) {
  const row = await getDocument(deps.db, principal, id);
  const ns = namespaceOf(row.tenantId, row.collectionId);
  const chunkIds = await deps.shards.removeDocuments(ns, [id]);
  await deps.vectors.delete(ns, chunkIds);
  await deps.db.batch([
    deps.db.delete(documents).where(and(eq(documents.id, id), eq(documents.tenantId, principal.tenantId))),
    bumpVersion(deps.db, row.tenantId, row.collectionId),
  ]);
  await deps.blobs.delete(blobKey(row.tenantId, row.id));
}

/** Shard counts are powers of two up to this (SEARCH_SHARD_MAX_COUNT's maximum). */
const HOME_SPAN = 1_024;

/**
 * A new document id homed with `id` under every shard layout (the same hash modulo 1,024), so
 * every version of an external id lives in one shard and replacing it is one shard write.
 */
export function siblingId(id: string): string {
  const home = documentHash(id) % HOME_SPAN;
  for (;;) {
    const candidate = newId("doc");
    if (documentHash(candidate) % HOME_SPAN === home) {
      return candidate;
    }
  }
}

/**
 * The versions of an external id, newest first (pending ones included), and the current one, once
 * the collection is known to be the caller's (both read at once, each scoped by tenant).
 */
async function externalVersions(db: Db, principal: KeyPrincipal, collectionId: string, externalId: string) {
  const [, versions] = await Promise.all([
    getCollection(db, principal, collectionId),
    db
      .select()
      .from(documents)
      .where(
        and(
          eq(documents.tenantId, principal.tenantId),
          eq(documents.collectionId, collectionId),
          eq(documents.externalId, externalId),
        ),
      )
      .orderBy(desc(documents.version)),
  ]);
  return { versions, current: versions.find((v) => v.replaces === null) };
}

/** Tries of one PUT that lost a race for its version number to a concurrent one (a unique index). */
const MAX_UPSERT_ATTEMPTS = 5;

const sameMetadata = (a: Record<string, unknown> | null, b: Record<string, unknown> | null) =>
  JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * `PUT …/documents/external/{external_id}`: the caller's id names the document. New → version 1
 * (201). The same bytes, title and metadata as the latest version → 200, unchanged (unless that
 * version failed: then it is tried again as a new one). Otherwise a
 * new version (202) is stored and queued beside the current one, which keeps answering until the
 * new one is processed and replaces it in its shard in one write; the earlier rows, chunks,
 * vectors and originals are removed then (ingest/commit.ts). Concurrent PUTs: versions are
 * numbered in D1 in the order they arrive and the shard keeps the highest, so the last writer's
 * content stays and the others are dropped.
 */
export async function upsertDocument(
  deps: DocumentDeps,
  principal: KeyPrincipal,
  collectionId: string,
  externalId: string,
  upload: Upload,
  attempt = 0,
): Promise<{ document: DocumentView; status: 200 | 201 | 202 }> {
  const { versions, current } = await externalVersions(deps.db, principal, collectionId, externalId);
  const { kind, sha256 } = await checkUpload(deps, principal, upload);
  const latest = versions[0];
  if (principal.filter && versions.some((v) => !matchesFilter(v.metadata, principal.filter as MetadataFilter))) {
    throw new AppError("conflict", "A document with this external id exists outside the key's metadata filter.");
  }
  if (
    latest &&
    latest.status !== "failed" &&
    latest.sha256 === sha256 &&
    latest.title === upload.title &&
    sameMetadata(latest.metadata, upload.metadata)
  ) {
    return { document: toView(latest), status: 200 };
  }
  const clash = await deps.db
    .select({ id: documents.id, externalId: documents.externalId })
    .from(documents)
    .where(
      and(
        eq(documents.tenantId, principal.tenantId),
        eq(documents.collectionId, collectionId),
        eq(documents.sha256, sha256),
        isNull(documents.replaces),
      ),
    )
    .get();
  if (clash && clash.externalId !== externalId) {
    throw new AppError("conflict", `This collection already holds this content as document ${clash.id}.`);
  }
  const now = Date.now();
  const id = current ? siblingId(current.id) : latest ? siblingId(latest.id) : newId("doc");
  const row = queuedRow(
    principal,
    collectionId,
    upload,
    { id, kind, sha256, now },
    {
      externalId,
      replaces: current?.id ?? null,
    },
  );
  await deps.blobs.put(blobKey(row.tenantId, row.id), upload.bytes, { httpMetadata: { contentType: row.mimeType } });
  let version: number;
  try {
    // The version is numbered in the statement that inserts it: concurrent PUTs get 2, 3, … in
    // the order the store runs them. A first version racing another first version fails the
    // unique index of current external ids, and one reading the same MAX(version) as another
    // (PostgreSQL runs them side by side) the unique index of versions: either is tried again.
    const inserted = await deps.db.$client
      .prepare(
        `INSERT INTO documents (id, tenant_id, collection_id, title, mime_type, size_bytes, sha256, status, error,
           chunk_count, priority, attempts, metadata, external_id, version, replaces, created_at, updated_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', NULL, 0, ?8, 0, ?9, ?10,
           COALESCE((SELECT MAX(version) FROM documents WHERE tenant_id = ?2 AND collection_id = ?3 AND external_id = ?10), 0) + 1,
           ?11, ?12, ?12
         RETURNING version`,
      )
      .bind(
        row.id,
        row.tenantId,
        collectionId,
        row.title,
        row.mimeType,
        row.sizeBytes,
        sha256,
        row.priority,
        row.metadata === null ? null : JSON.stringify(row.metadata),
        externalId,
        row.replaces,
        now,
      )
      .first<{ version: number }>();
    version = inserted?.version ?? 1;
  } catch (error) {
    await deps.blobs.delete(blobKey(row.tenantId, row.id));
    if (attempt < MAX_UPSERT_ATTEMPTS - 1 && /UNIQUE/i.test(String(error))) {
      return upsertDocument(deps, principal, collectionId, externalId, upload, attempt + 1);
    }
    throw error;
  }
  try {
    await enqueueDocuments(deps.queues, [row]);
  } catch (cause) {
    await deps.db
      .delete(documents)
      .where(and(eq(documents.id, row.id), eq(documents.tenantId, row.tenantId)))
      .run();
    await deps.blobs.delete(blobKey(row.tenantId, row.id));
    throw new AppError("upstream_unavailable", "The ingestion queue is unavailable; the upload was not kept.", {
      cause,
    });
  }
  return { document: toView({ ...row, version }), status: current ? 202 : 201 };
}

/** The current document of an external id (404 when there is none the caller may read). */
export async function getExternal(
  db: Db,
  principal: KeyPrincipal,
  collectionId: string,
  externalId: string,
): Promise<DocumentRow> {
  return (await readableExternal(db, principal, collectionId, externalId)).current;
}

/** An external id's versions, when the caller may read its current one (404 otherwise). */
async function readableExternal(db: Db, principal: KeyPrincipal, collectionId: string, externalId: string) {
  const { versions, current } = await externalVersions(db, principal, collectionId, externalId);
  if (!current || (principal.filter && !matchesFilter(current.metadata, principal.filter))) {
    throw new AppError("not_found", "No document with this external id.");
  }
  return { versions, current };
}

/** Deletes every version of an external id: rows, chunks, vectors and originals. */
export async function deleteExternal(
  deps: Pick<DocumentDeps, "db" | "blobs"> & { vectors: VectorIndex; shards: ChunkShards },
  principal: KeyPrincipal,
  collectionId: string,
  externalId: string,
): Promise<void> {
  const { versions } = await readableExternal(deps.db, principal, collectionId, externalId);
  const ids = versions.map((v) => v.id);
  const ns = namespaceOf(principal.tenantId, collectionId);
  const chunkIds = await deps.shards.removeDocuments(ns, ids);
  await deps.vectors.delete(ns, chunkIds);
  await deps.db.batch([
    deps.db.delete(documents).where(and(eq(documents.tenantId, principal.tenantId), inList(documents.id, ids))),
    bumpVersion(deps.db, principal.tenantId, collectionId),
  ]);
  await deps.blobs.delete(ids.map((id) => blobKey(principal.tenantId, id)));
}

/** At most this much of a document's text is returned in one read (MCP's get_document, resources). */
export const PASSAGES_MAX_CHARS = 100_000;

/**
 * A document's text as its chunks hold it, in order, up to `maxChars` (whole chunks; `truncated`
 * when some were left out). Only a ready document has chunks; others read as no passages.
 */
export async function documentPassages(
  deps: { db: Db; shards: ChunkShards },
  principal: KeyPrincipal,
  id: string,
  maxChars = PASSAGES_MAX_CHARS,
) {
  const row = await getDocument(deps.db, principal, id);
  const chunks = (await deps.shards.ofDocument(namespaceOf(row.tenantId, row.collectionId), row.id)).sort(
    (a, b) => a.ordinal - b.ordinal,
  );
  const passages: Array<{ chunk_id: string; heading: string | null; page: number | null; text: string }> = [];
  let chars = 0;
  for (const chunk of chunks) {
    if (passages.length > 0 && chars + chunk.text.length > maxChars) {
      break;
    }
    passages.push({
      chunk_id: chunk.id,
      heading: chunk.heading,
      page: chunk.page,
      text: chunk.text.slice(0, maxChars),
    });
    chars += chunk.text.length;
  }
  return { document: toView(row), passages, truncated: passages.length < chunks.length };
}

/** The capability routes call as `services.documents.<verb>(principal, input)`. */
export function documentService(deps: DocumentDeps & { vectors: VectorIndex; shards: ChunkShards }) {
  return {
    upload: (principal: KeyPrincipal, collectionId: string, upload: Upload) =>
      uploadDocument(deps, principal, collectionId, upload),
    uploadMany: (principal: KeyPrincipal, collectionId: string, uploads: Upload[]) =>
      uploadDocuments(deps, principal, collectionId, uploads),
    get: async (principal: KeyPrincipal, id: string) => toView(await getDocument(deps.db, principal, id)),
    passages: (principal: KeyPrincipal, id: string) => documentPassages(deps, principal, id),
    list: (principal: KeyPrincipal, collectionId: string, page: { cursor?: string | undefined; limit: number }) =>
      listDocuments(deps.db, principal, collectionId, page),
    delete: (principal: KeyPrincipal, id: string) => deleteDocument(deps, principal, id),
    upsert: (principal: KeyPrincipal, collectionId: string, externalId: string, upload: Upload) =>
      upsertDocument(deps, principal, collectionId, externalId, upload),
    getExternal: async (principal: KeyPrincipal, collectionId: string, externalId: string) =>
      toView(await getExternal(deps.db, principal, collectionId, externalId)),
    deleteExternal: (principal: KeyPrincipal, collectionId: string, externalId: string) =>
      deleteExternal(deps, principal, collectionId, externalId),
  };
}
export type DocumentService = ReturnType<typeof documentService>;

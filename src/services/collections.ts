/**
 * Collections: a tenant's named sets of documents. Every query is scoped by tenant id, and a key
 * restricted to collections sees only those: anything else is indistinguishable from missing (404).
 */
import { and, count, desc, eq, sql } from "drizzle-orm";
import { type Db, inList } from "../adapters/db/client";
import { type CollectionRow, collections, documents } from "../adapters/db/schema";
import type { ChunkShards } from "../adapters/shards/interface";
import { namespaceOf, type VectorIndex } from "../adapters/vector/interface";
import { AppError } from "../errors";
import { blobKey, newId } from "../lib/ids";
import { SwrCache } from "../lib/swr";
import type { CollectionView } from "../schemas/collections";
import { iso } from "../schemas/common";
import { ownedRow } from "./owned";
import { afterCursor, toPage } from "./paging";
import { canAccessCollection, type KeyPrincipal } from "./principal";

export const MAX_COLLECTIONS_PER_TENANT = 1_000;

export function toView(row: CollectionRow): CollectionView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    version: row.version,
    embedding_model: row.embeddingModel,
    embedding_dimensions: row.embeddingDimensions,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
  };
}

export async function createCollection(
  db: Db,
  principal: KeyPrincipal,
  input: { name: string; description?: string | undefined },
): Promise<CollectionView> {
  if (principal.collectionIds !== null) {
    throw new AppError("forbidden", "A key restricted to collections cannot create collections.");
  }
  const [{ total } = { total: 0 }] = await db
    .select({ total: count() })
    .from(collections)
    .where(eq(collections.tenantId, principal.tenantId));
  if (total >= MAX_COLLECTIONS_PER_TENANT) {
    throw new AppError("conflict", `A tenant may hold at most ${MAX_COLLECTIONS_PER_TENANT} collections.`);
  }
  const now = Date.now();
  const row: CollectionRow = {
    id: newId("col"),
    tenantId: principal.tenantId,
    name: input.name,
    description: input.description ?? null,
    version: 0,
    embeddingModel: null,
    embeddingDimensions: null,
    createdAt: now,
    updatedAt: now,
  };
  const inserted = await db.insert(collections).values(row).onConflictDoNothing().returning({ id: collections.id });
  if (inserted.length === 0) {
    throw new AppError("conflict", `A collection named "${input.name}" already exists.`);
  }
  return toView(row);
}

export async function listCollections(
  db: Db,
  principal: KeyPrincipal,
  page: { cursor?: string | undefined; limit: number },
): Promise<{ items: CollectionView[]; next_cursor: string | null }> {
  const after = afterCursor(page.cursor, { createdAt: collections.createdAt, id: collections.id });
  const rows = await db
    .select()
    .from(collections)
    .where(
      and(
        eq(collections.tenantId, principal.tenantId),
        principal.collectionIds === null ? undefined : inList(collections.id, principal.collectionIds),
        after,
      ),
    )
    .orderBy(desc(collections.createdAt), desc(collections.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit, toView);
}

/**
 * The collection: 404 if the tenant has none by that id (another tenant's included), 403 if it is
 * the tenant's but the key is restricted to other collections.
 */
export async function getCollection(db: Db, principal: KeyPrincipal, id: string): Promise<CollectionRow> {
  const row = await ownedRow(db, collections, id, principal.tenantId, "collection");
  if (!canAccessCollection(principal, id)) {
    throw new AppError("forbidden", "This API key is restricted to other collections.");
  }
  return row;
}

/** Deletes the collection with its documents, chunks (and FTS rows, by cascade) and originals in R2. */
export async function deleteCollection(
  deps: { db: Db; blobs: R2Bucket; vectors: VectorIndex; shards: ChunkShards },
  principal: KeyPrincipal,
  id: string,
): Promise<void> {
  const { db } = deps;
  await getCollection(db, principal, id);
  const docs = await db
    .select({ id: documents.id })
    .from(documents)
    .where(and(eq(documents.collectionId, id), eq(documents.tenantId, principal.tenantId)));
  const ns = namespaceOf(principal.tenantId, id);
  // Up to 50,000 ids: read only for an index that deletes by id.
  const chunkIds = deps.vectors.dropNeedsIds ? await deps.shards.ids(ns) : [];
  await db
    .delete(collections)
    .where(and(eq(collections.id, id), eq(collections.tenantId, principal.tenantId)))
    .run();
  versionCache.invalidate(versionKey(principal.tenantId, id));
  await deps.vectors.drop(ns, chunkIds);
  await deps.shards.drop(ns);
  // R2 deletes up to 1,000 keys per call.
  const keys = docs.map((doc) => blobKey(principal.tenantId, doc.id));
  for (let i = 0; i < keys.length; i += 1_000) {
    await deps.blobs.delete(keys.slice(i, i + 1_000));
  }
}

/**
 * 404 unless every collection is the tenant's; 403 if the key is restricted to others. Returns
 * each collection's content version (answer cache keys include them).
 */
/**
 * Collection versions per isolate (the answer cache's keys), with a staleness bound of
 * COLLECTION_VERSION_MAX_AGE_MS (2 s): fresh for half of it, then served while one background read
 * refreshes them, never older. A version read before a change is gone by the bound, so an answer
 * computed before an ingest or delete is never served after it. Unknown ids are never cached (a
 * collection created elsewhere is found at once); this isolate's own changes invalidate at once.
 */
const versionCache = new SwrCache<number>(20_000);
const versionKey = (tenantId: string, collectionId: string) => `${tenantId}:${collectionId}`;

/** What the versions cache needs from the invocation; without it, D1 is read every time. */
export interface VersionReads {
  maxAgeMs: number;
  defer: (work: Promise<unknown>) => void;
}

async function readVersions(db: Db, tenantId: string, ids: string[]): Promise<Map<string, number>> {
  const found = await db
    .select({ id: collections.id, version: collections.version })
    .from(collections)
    .where(and(eq(collections.tenantId, tenantId), inList(collections.id, ids)));
  return new Map(found.map((row) => [row.id, row.version]));
}

async function collectionVersions(
  db: Db,
  tenantId: string,
  ids: string[],
  reads: VersionReads | undefined,
): Promise<Map<string, number>> {
  if (!reads || reads.maxAgeMs <= 0) {
    return readVersions(db, tenantId, ids);
  }
  const times = { freshMs: reads.maxAgeMs / 2, maxAgeMs: reads.maxAgeMs };
  const known = new Map<string, number>();
  const missing: string[] = [];
  const stale: Array<{ id: string; prior: { value: number; loadedAt: number } }> = [];
  for (const id of ids) {
    const cached = versionCache.peek(versionKey(tenantId, id), times);
    if (!cached) {
      missing.push(id);
      continue;
    }
    known.set(id, cached.entry.value);
    if (cached.refresh) {
      stale.push({ id, prior: cached.entry });
    }
  }
  if (stale.length > 0) {
    const started = Date.now();
    reads.defer(
      readVersions(
        db,
        tenantId,
        stale.map((s) => s.id),
      ).then(
        (fresh) => {
          for (const { id, prior } of stale) {
            const version = fresh.get(id);
            if (version === undefined) {
              // Deleted meanwhile: forget it, so the next request reads D1 and answers 404.
              versionCache.release(versionKey(tenantId, id));
              versionCache.invalidate(versionKey(tenantId, id));
            } else {
              versionCache.refreshed(versionKey(tenantId, id), prior, version, started, times);
            }
          }
        },
        () => {
          for (const { id } of stale) {
            versionCache.release(versionKey(tenantId, id));
          }
        },
      ),
    );
  }
  if (missing.length > 0) {
    const started = Date.now();
    for (const [id, version] of await readVersions(db, tenantId, missing)) {
      known.set(id, version);
      versionCache.put(versionKey(tenantId, id), version, started, times);
    }
  }
  return known;
}

/**
 * The collections' current versions, after checking that each exists for the tenant (404) and
 * that the key may read it (403). With `reads`, from the isolate's bounded-staleness cache.
 */
export async function assertReadable(
  db: Db,
  principal: KeyPrincipal,
  collectionIds: string[],
  reads?: VersionReads,
): Promise<Map<string, number>> {
  const known = await collectionVersions(db, principal.tenantId, collectionIds, reads);
  const missing = collectionIds.filter((id) => !known.has(id));
  if (missing.length > 0) {
    throw new AppError("not_found", `No such collection: ${missing.join(", ")}.`);
  }
  const denied = collectionIds.filter((id) => !canAccessCollection(principal, id));
  if (denied.length > 0) {
    throw new AppError("forbidden", `This API key may not read: ${denied.join(", ")}.`);
  }
  return known;
}

/** Marks a collection's content as changed (cache keys include the version); scoped by tenant in SQL. */
export function bumpVersion(db: Db, tenantId: string, collectionId: string, now = Date.now()) {
  // This isolate sees its own change at once; others within the staleness bound.
  versionCache.invalidate(versionKey(tenantId, collectionId));
  return db
    .update(collections)
    .set({ version: sql`${collections.version} + 1`, updatedAt: now })
    .where(and(eq(collections.id, collectionId), eq(collections.tenantId, tenantId)));
}

/** The capability routes call as `services.collections.<verb>(principal, input)`. */
export function collectionService(deps: { db: Db; blobs: R2Bucket; vectors: VectorIndex; shards: ChunkShards }) {
  return {
    create: (principal: KeyPrincipal, input: { name: string; description?: string | undefined }) =>
      createCollection(deps.db, principal, input),
    list: (principal: KeyPrincipal, page: { cursor?: string | undefined; limit: number }) =>
      listCollections(deps.db, principal, page),
    get: async (principal: KeyPrincipal, id: string) => toView(await getCollection(deps.db, principal, id)),
    delete: (principal: KeyPrincipal, id: string) => deleteCollection(deps, principal, id),
  };
}
export type CollectionService = ReturnType<typeof collectionService>;

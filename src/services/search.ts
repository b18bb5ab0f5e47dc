/**
 * Search over a tenant's collections, fanned out to each collection's search shard. `keyword`:
 * FTS5 bm25 over chunk title, heading and text, with the collection's own statistics, from a
 * query whose terms are quoted (user text never becomes FTS syntax). `vector`: the query's
 * embedding against each collection's vector index. `hybrid` (default): both in parallel, fused
 * by Reciprocal Rank Fusion. Results are limited to collections the key may read.
 */

import type { Db } from "../adapters/db/client";
import type { Embedder } from "../adapters/embed/interface";
import { type ChunkShards, type ShardChunk, sumStats, type TermStats } from "../adapters/shards/interface";
import { namespaceOf, type VectorIndex } from "../adapters/vector/interface";
import type { Config } from "../config";
import { AppError } from "../errors";
import { roundMs as ms } from "../lib/async";
import { Lru } from "../lib/lru";
import { indexedFields, type MetadataFilter } from "../lib/metadata-filter";
import { queryTerms } from "../lib/terms";
import type { SearchInput, SearchResults } from "../schemas/search";
import { assertReadable } from "./collections";
import { effectiveFilter, type KeyPrincipal } from "./principal";
import { embedQueries, type QueryVectorDeps } from "./query/vectors";

/** bm25 column weights: document title, section heading, chunk text. */
export const BM25_WEIGHTS = { title: 1.5, heading: 1.2, text: 1.0 };

export interface ChunkHit {
  chunk_id: string;
  document_id: string;
  collection_id: string;
  title: string;
  heading: string | null;
  text: string;
  page: number | null;
  /** Higher is better. */
  score: number;
}

/**
 * bm25 over title, heading and text (weighted) in each collection's search shard, in parallel,
 * each with its own collection's statistics (so nothing outside a collection moves its scores);
 * the best `limit` over all of them. Terms too common in a collection to be worth scoring are left
 * out there (`commonTermRatio`, see `ChunkStore.informative`). Also returns the collections'
 * statistics for the terms (chunk counts and frequencies, summed), which weigh an answer's evidence.
 */
export async function keywordSearch(
  shards: ChunkShards,
  tenantId: string,
  options: {
    terms: string[];
    collectionIds: string[];
    documentIds?: string[] | undefined;
    metadata?: MetadataFilter | undefined;
    limit: number;
    commonTermRatio: number;
  },
): Promise<{ hits: ChunkHit[]; stats: TermStats }> {
  const perCollection = await Promise.all(
    options.collectionIds.map(async (collectionId) => {
      const { hits, stats } = await shards.keyword(namespaceOf(tenantId, collectionId), {
        terms: options.terms,
        documentIds: options.documentIds,
        filter: options.metadata,
        limit: options.limit,
        commonTermRatio: options.commonTermRatio,
        pruneFromChunks: PRUNE_FROM_CHUNKS,
        weights: BM25_WEIGHTS,
      });
      return { hits: hits.map((hit) => toHit(hit, collectionId, hit.score)), stats };
    }),
  );
  const hits = perCollection
    .flatMap((c) => c.hits)
    .sort((a, b) => b.score - a.score || a.chunk_id.localeCompare(b.chunk_id))
    .slice(0, options.limit);
  return { hits, stats: sumStats(perCollection.map((c) => c.stats)) };
}

function toHit(chunk: ShardChunk, collectionId: string, score: number): ChunkHit {
  return {
    chunk_id: chunk.id,
    document_id: chunk.document_id,
    collection_id: collectionId,
    title: chunk.title,
    heading: chunk.heading,
    text: chunk.text,
    page: chunk.page,
    score,
  };
}

/** Below this many chunks scoring every term is cheap, and pruning is not worth its round trip. */
const PRUNE_FROM_CHUNKS = 2_000;

/** Fusion settings: SEARCH_RRF_K, and the vector list weighted by SEARCH_VECTOR_WEIGHT or the embedder's own. */
/** The query's searchable terms, or `422` for a query of only stop words or punctuation. */
export function searchableTerms(query: string): string[] {
  const terms = queryTerms(query);
  if (terms.length === 0) {
    throw new AppError("validation_failed", "The query has no searchable words.", {
      errors: [{ path: "query", message: "only stop words or punctuation" }],
    });
  }
  return terms;
}

export function fusionOf(config: Pick<Config, "rrfK" | "vectorWeight">, embedder: Embedder): FusionOptions {
  return { k: config.rrfK, weights: { keyword: 1, vector: config.vectorWeight ?? embedder.fusionWeight } };
}

/** Reciprocal Rank Fusion (Cormack et al., 2009): each list adds weight / (k + rank). */
export interface FusionOptions {
  k: number;
  weights: { keyword: number; vector: number };
}

export interface SearchDeps extends QueryVectorDeps {
  db: Db;
  vectors: VectorIndex;
  shards: ChunkShards;
}

/** Embeds the query and asks each collection's index; the best `limit` over all of them. */
export async function vectorSearch(
  deps: SearchDeps,
  tenantId: string,
  options: {
    query: string;
    collectionIds: string[];
    documentIds?: string[] | undefined;
    metadata?: MetadataFilter | undefined;
    limit: number;
    embeddingCacheTtlSeconds: number;
  },
): Promise<{ hits: ChunkHit[]; embedMs: number; partial: boolean }> {
  const started = performance.now();
  // The same query vectors as answers use: L1, L2 for remote embedders, then the embedder.
  const [vector] = await embedQueries(deps, tenantId, [options.query], options.embeddingCacheTtlSeconds);
  const embedMs = performance.now() - started;
  const nearest = vector ? await nearestChunks(deps, tenantId, vector, options) : { hits: [], partial: false };
  return { ...nearest, embedMs };
}

/**
 * Documents a metadata filter may name to a vector index that cannot evaluate it, per collection:
 * their ids go in the query (Vectorize's `$in`, Upstash's `IN`). A filter matching more is not
 * sent as ids; that collection's vector list is left out (`partial`), never post-filtered.
 */
export const MAX_VECTOR_FILTER_DOCUMENTS = 1_000;

/** The chunks nearest to an embedded query, over each collection's index; the best `limit`. */
export async function nearestChunks(
  deps: Pick<SearchDeps, "vectors" | "shards">,
  tenantId: string,
  vector: Float32Array,
  options: {
    collectionIds: string[];
    documentIds?: string[] | undefined;
    metadata?: MetadataFilter | undefined;
    limit: number;
  },
): Promise<{ hits: ChunkHit[]; partial: boolean }> {
  let partial = false;
  const perCollection = await Promise.all(
    options.collectionIds.map(async (collectionId) => {
      const ns = namespaceOf(tenantId, collectionId);
      let documentIds = options.documentIds;
      if (options.metadata && !deps.vectors.filtersMetadata) {
        const matching = await deps.shards.matching(ns, options.metadata, MAX_VECTOR_FILTER_DOCUMENTS);
        if (matching.more) {
          partial = true;
          return [];
        }
        const only = documentIds ? new Set(documentIds) : undefined;
        documentIds = only ? matching.ids.filter((id) => only.has(id)) : matching.ids;
        if (documentIds.length === 0) {
          return [];
        }
      }
      const filter =
        documentIds || options.metadata
          ? { documentIds, metadata: deps.vectors.filtersMetadata ? options.metadata : undefined }
          : undefined;
      const matches = await deps.vectors.query(ns, vector, options.limit, filter);
      // A score of 0 or less means nothing in common at all: not a match.
      return matches.filter((m) => m.score > 0).map((m) => ({ ...m, collectionId }));
    }),
  );
  const best = perCollection
    .flat()
    .sort((a, b) => b.score - a.score)
    .slice(0, options.limit);
  // The chunks themselves from their shards (a vector whose chunk is gone is dropped).
  const rows = new Map<string, ShardChunk>();
  await Promise.all(
    options.collectionIds.map(async (collectionId) => {
      const ids = best.filter((m) => m.collectionId === collectionId).map((m) => m.id);
      for (const chunk of await deps.shards.get(namespaceOf(tenantId, collectionId), ids)) {
        rows.set(chunk.id, chunk);
      }
    }),
  );
  const hits = best.flatMap((m) => {
    const row = rows.get(m.id);
    return row ? [toHit(row, m.collectionId, m.score)] : [];
  });
  return { hits, partial };
}

/** Namespaces whose shards know every document's metadata (as of when this isolate checked). */
const filterable = new Lru<true>(10_000);
/** Documents' metadata recorded per round when a shard written before filters existed is first filtered. */
const BACKFILL_BATCH = 500;
const BACKFILL_ROUNDS = 20;

/**
 * Before a collection is first filtered by metadata: documents its shards hold without their
 * metadata (written before metadata filters existed) get it from D1, a batch at a time, so a
 * filter never misses them. Once a namespace is complete this isolate remembers it: new writes
 * always carry their metadata. Read by tenant, like every query.
 */
export async function ensureFilterable(
  deps: { db: Db; shards: ChunkShards },
  tenantId: string,
  collectionIds: string[],
): Promise<void> {
  await Promise.all(
    collectionIds.map(async (collectionId) => {
      const ns = namespaceOf(tenantId, collectionId);
      if (filterable.get(ns)) {
        return;
      }
      for (let round = 0; round < BACKFILL_ROUNDS; round++) {
        const missing = await deps.shards.unindexed(ns, BACKFILL_BATCH);
        if (missing.length === 0) {
          filterable.set(ns, true);
          return;
        }
        const rows = await deps.db.$client
          .prepare(
            "SELECT id, metadata FROM documents WHERE tenant_id = ? AND collection_id = ? AND id IN (SELECT value FROM json_each(?))",
          )
          .bind(tenantId, collectionId, JSON.stringify(missing))
          .all<{ id: string; metadata: string | null }>();
        const byId = new Map(rows.results.map((r) => [r.id, r.metadata ? (JSON.parse(r.metadata) as object) : null]));
        await deps.shards.setFields(
          ns,
          Object.fromEntries(missing.map((id) => [id, indexedFields(byId.get(id) as Record<string, unknown> | null)])),
        );
      }
      throw new AppError(
        "upstream_unavailable",
        "This collection's documents are still being indexed for metadata filters; try again shortly.",
      );
    }),
  );
}

export interface Fused extends ChunkHit {
  ranks: { keyword?: number; vector?: number };
}

/**
 * Reciprocal Rank Fusion (Cormack et al., 2009) over any number of weighted lists: each adds
 * weight / (k + rank); one entry per chunk, best first. A list with a `strategy` also records
 * each chunk's rank in it.
 */
export function fuseLists(
  lists: Array<{ hits: ChunkHit[]; weight: number; strategy?: keyof Fused["ranks"] }>,
  k: number,
): Fused[] {
  const byId = new Map<string, Fused>();
  for (const { hits, weight, strategy } of lists) {
    hits.forEach((hit, index) => {
      const entry = byId.get(hit.chunk_id) ?? { ...hit, score: 0, ranks: {} };
      if (strategy) {
        entry.ranks[strategy] = index + 1;
      }
      entry.score += weight / (k + index + 1);
      byId.set(hit.chunk_id, entry);
    });
  }
  return [...byId.values()].sort((a, b) => b.score - a.score);
}

/** Hybrid search's fusion: the keyword and vector lists at their configured weights. */
export function fuse(lists: { keyword: ChunkHit[]; vector: ChunkHit[] }, limit: number, rrf: FusionOptions): Fused[] {
  return fuseLists(
    (["keyword", "vector"] as const).map((strategy) => ({
      hits: lists[strategy],
      weight: rrf.weights[strategy],
      strategy,
    })),
    rrf.k,
  ).slice(0, limit);
}

export async function search(
  deps: SearchDeps,
  principal: KeyPrincipal,
  input: SearchInput,
  limits: {
    maxTopK: number;
    rrf: FusionOptions;
    commonTermRatio: number;
    embeddingCacheTtlSeconds: number;
    versionMaxAgeMs?: number;
  },
): Promise<SearchResults> {
  const { maxTopK } = limits;
  const started = performance.now();
  if (input.top_k > maxTopK) {
    throw new AppError("validation_failed", `top_k is at most ${maxTopK}.`, {
      errors: [{ path: "top_k", message: `must be at most ${maxTopK}` }],
    });
  }
  await assertReadable(deps.db, principal, input.collection_ids, {
    maxAgeMs: limits.versionMaxAgeMs ?? 0,
    defer: deps.defer,
  });
  const terms = searchableTerms(input.query);
  const documentIds = input.filter?.document_ids;
  const metadata = effectiveFilter(principal, input.filter?.metadata);
  if (metadata) {
    await ensureFilterable(deps, principal.tenantId, input.collection_ids);
  }
  // Fusion needs more than top_k candidates from each side to be worth doing.
  const pool = input.strategy === "hybrid" ? Math.max(input.top_k * 4, 40) : input.top_k;
  const timings: Record<string, number> = {};
  const degraded: string[] = [];
  const keyword = async () => {
    const t = performance.now();
    const { hits } = await keywordSearch(deps.shards, principal.tenantId, {
      terms,
      collectionIds: input.collection_ids,
      documentIds,
      metadata,
      limit: pool,
      commonTermRatio: limits.commonTermRatio,
    });
    timings.keyword_ms = ms(performance.now() - t);
    return hits;
  };
  const vector = async () => {
    const t = performance.now();
    const { hits, embedMs, partial } = await vectorSearch(deps, principal.tenantId, {
      query: input.query,
      collectionIds: input.collection_ids,
      documentIds,
      metadata,
      limit: pool,
      embeddingCacheTtlSeconds: limits.embeddingCacheTtlSeconds,
    });
    timings.embed_ms = ms(embedMs);
    timings.vector_ms = ms(performance.now() - t - embedMs);
    if (partial) {
      degraded.push("vector_filter_too_broad");
    }
    return hits;
  };
  let results: Fused[];
  if (input.strategy === "keyword") {
    results = (await keyword()).map((hit, i) => ({ ...hit, ranks: { keyword: i + 1 } }));
  } else if (input.strategy === "vector") {
    results = (await vector()).map((hit, i) => ({ ...hit, ranks: { vector: i + 1 } }));
  } else {
    const [k, v] = await Promise.all([keyword(), vector()]);
    const t = performance.now();
    results = fuse({ keyword: k, vector: v }, input.top_k, limits.rrf);
    timings.fuse_ms = ms(performance.now() - t);
  }
  timings.total_ms = ms(performance.now() - started);
  return degraded.length > 0 ? { results, timings, degraded } : { results, timings };
}

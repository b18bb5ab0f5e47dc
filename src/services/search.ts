/**
 * Search over a tenant's collections. `keyword`: FTS5 bm25 over chunk title, heading and text,
 * from a query whose terms are quoted (user text never becomes FTS syntax). `vector`: the query's
 * embedding against each collection's vector index. `hybrid` (default): both in parallel, fused
 * by Reciprocal Rank Fusion. Results are limited to collections the key may read.
 */

import { and, eq, sql } from "drizzle-orm";
import { type Db, inList } from "../adapters/db/client";
import { chunks } from "../adapters/db/schema";
import type { Embedder } from "../adapters/embed/interface";
import { namespaceOf, type VectorIndex } from "../adapters/vector/interface";
import type { Config } from "../config";
import { AppError } from "../errors";
import { roundMs as ms } from "../lib/async";
import { Lru } from "../lib/lru";
import { ftsQuery, porter, queryTerms } from "../lib/terms";
import type { SearchInput, SearchResults } from "../schemas/search";
import { assertReadable } from "./collections";
import type { KeyPrincipal } from "./principal";
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
 * FTS5 bm25 over title, heading and text (weighted), restricted to the collections inside FTS5
 * itself (the indexed `collection_id` column), so only their matches are ranked and only the best
 * `limit` are joined to their rows — where the exact collection check is applied again. With a
 * document filter, every match of the collections is joined and filtered instead.
 */
export async function keywordSearch(
  db: Db,
  tenantId: string,
  options: { terms: string[]; collectionIds: string[]; documentIds?: string[] | undefined; limit: number },
): Promise<ChunkHit[]> {
  const { title, heading, text } = BM25_WEIGHTS;
  const inCollections = sql`c.tenant_id = ${tenantId}
    AND c.collection_id IN (SELECT value FROM json_each(${JSON.stringify(options.collectionIds)}))`;
  const match = `{title heading text} : (${ftsQuery(options.terms)}) AND collection_id : (${ftsQuery(options.collectionIds)})`;
  const columns = sql`c.id AS chunk_id, c.document_id, c.collection_id, c.title, c.heading, c.text, c.page`;
  const rows =
    options.documentIds && options.documentIds.length > 0
      ? await db.all<Omit<ChunkHit, "score"> & { rank: number }>(sql`
          SELECT ${columns}, bm25(chunks_fts, ${title}, ${heading}, ${text}, 0) AS rank
          FROM chunks_fts JOIN chunks c ON c.seq = chunks_fts.rowid
          WHERE chunks_fts MATCH ${match} AND ${inCollections}
            AND c.document_id IN (SELECT value FROM json_each(${JSON.stringify(options.documentIds)}))
          ORDER BY rank
          LIMIT ${options.limit}`)
      : await db.all<Omit<ChunkHit, "score"> & { rank: number }>(sql`
          SELECT ${columns}, f.rank AS rank
          FROM (
            SELECT rowid, bm25(chunks_fts, ${title}, ${heading}, ${text}, 0) AS rank
            FROM chunks_fts WHERE chunks_fts MATCH ${match}
            ORDER BY rank LIMIT ${options.limit}
          ) AS f JOIN chunks c ON c.seq = f.rowid
          WHERE ${inCollections}
          ORDER BY f.rank`);
  // bm25() is lower-is-better; expose higher-is-better scores.
  return rows.map(({ rank, ...hit }) => ({ ...hit, score: -rank }));
}

/** Chunks in the whole index, re-counted at most once a minute per isolate. */
let indexSize = { chunks: 0, expires: 0 };
/**
 * L1: keyword parses (a query's terms → the informative ones) of this isolate. They rest on
 * index-wide counts that a few documents more or less hardly move, so they live as long as the
 * cached index size; a repeated query then costs no vocabulary round trip.
 */
const keywordParses = new Lru<string[]>(5_000);
const INDEX_STATS_TTL_MS = 60_000;

/**
 * The query terms worth scoring: a term found in more than `ratio` of all indexed chunks ("cell",
 * "increase" in a biomedical corpus) adds little to bm25 yet makes FTS5 score most of the index,
 * so it is left out — unless every term is that common. Document frequencies come from FTS5's
 * own vocabulary (`chunks_fts_vocab`), looked up by the same Porter stems the index uses. The
 * counts are index-wide, as bm25's own statistics are. Tuned on SciFact train (see README).
 */
export async function informativeTerms(
  db: Db,
  terms: string[],
  ratio: number,
  minChunks = PRUNE_FROM_CHUNKS,
): Promise<string[]> {
  if (ratio >= 1 || terms.length < 2) {
    return terms;
  }
  const key = `${ratio}:${minChunks}:${terms.join(" ")}`;
  const known = keywordParses.get(key);
  if (known) {
    return known;
  }
  const now = Date.now();
  const stems = terms.map(porter);
  const [frequencies, total] = await Promise.all([
    db.all<{ term: string; doc: number }>(
      sql`SELECT term, doc FROM chunks_fts_vocab WHERE term IN (SELECT value FROM json_each(${JSON.stringify(stems)}))`,
    ),
    indexSize.expires > now
      ? indexSize.chunks
      : db.get<{ n: number }>(sql`SELECT COUNT(*) AS n FROM chunks`).then((row) => row?.n ?? 0),
  ]);
  indexSize = { chunks: total, expires: indexSize.expires > now ? indexSize.expires : now + INDEX_STATS_TTL_MS };
  if (total < minChunks) {
    return terms;
  }
  const df = new Map(frequencies.map((f) => [f.term, f.doc]));
  const kept = terms.filter((_, i) => (df.get(stems[i] ?? "") ?? 0) <= ratio * total);
  // Only terms that occur at all can find anything; without one, keep the query as it was.
  const informative = kept.some((_, i) => (df.get(porter(kept[i] ?? "")) ?? 0) > 0) ? kept : terms;
  keywordParses.set(key, informative, INDEX_STATS_TTL_MS);
  return informative;
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
}

async function chunksByIds(db: Db, tenantId: string, ids: string[]): Promise<Map<string, Omit<ChunkHit, "score">>> {
  const out = new Map<string, Omit<ChunkHit, "score">>();
  const rows = await db
    .select({
      chunk_id: chunks.id,
      document_id: chunks.documentId,
      collection_id: chunks.collectionId,
      title: chunks.title,
      heading: chunks.heading,
      text: chunks.text,
      page: chunks.page,
    })
    .from(chunks)
    .where(and(eq(chunks.tenantId, tenantId), inList(chunks.id, ids)));
  for (const row of rows) {
    out.set(row.chunk_id, row);
  }

  return out;
}

/** Embeds the query and asks each collection's index; the best `limit` over all of them. */
export async function vectorSearch(
  deps: SearchDeps,
  tenantId: string,
  options: {
    query: string;
    collectionIds: string[];
    documentIds?: string[] | undefined;
    limit: number;
    embeddingCacheTtlSeconds: number;
  },
): Promise<{ hits: ChunkHit[]; embedMs: number }> {
  const started = performance.now();
  // The same query vectors as answers use: L1, L2 for remote embedders, then the embedder.
  const [vector] = await embedQueries(deps, tenantId, [options.query], options.embeddingCacheTtlSeconds);
  const embedMs = performance.now() - started;
  return { hits: vector ? await nearestChunks(deps, tenantId, vector, options) : [], embedMs };
}

/** The chunks nearest to an embedded query, over each collection's index; the best `limit`. */
export async function nearestChunks(
  deps: Pick<SearchDeps, "db" | "vectors">,
  tenantId: string,
  vector: Float32Array,
  options: { collectionIds: string[]; documentIds?: string[] | undefined; limit: number },
): Promise<ChunkHit[]> {
  const filter = options.documentIds ? { documentIds: options.documentIds } : undefined;
  const perCollection = await Promise.all(
    options.collectionIds.map((id) => deps.vectors.query(namespaceOf(tenantId, id), vector, options.limit, filter)),
  );
  // A score of 0 or less means nothing in common at all: not a match.
  const matches = perCollection
    .flat()
    .filter((m) => m.score > 0)
    .sort((a, b) => b.score - a.score)
    .slice(0, options.limit);
  const rows = await chunksByIds(
    deps.db,
    tenantId,
    matches.map((m) => m.id),
  );
  return matches.flatMap((m) => {
    const row = rows.get(m.id);
    return row ? [{ ...row, score: m.score }] : [];
  });
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
  // Fusion needs more than top_k candidates from each side to be worth doing.
  const pool = input.strategy === "hybrid" ? Math.max(input.top_k * 4, 40) : input.top_k;
  const timings: Record<string, number> = {};
  const keyword = async () => {
    const t = performance.now();
    const scored = await informativeTerms(deps.db, terms, limits.commonTermRatio);
    const hits = await keywordSearch(deps.db, principal.tenantId, {
      terms: scored,
      collectionIds: input.collection_ids,
      documentIds,
      limit: pool,
    });
    timings.keyword_ms = ms(performance.now() - t);
    return hits;
  };
  const vector = async () => {
    const t = performance.now();
    const { hits, embedMs } = await vectorSearch(deps, principal.tenantId, {
      query: input.query,
      collectionIds: input.collection_ids,
      documentIds,
      limit: pool,
      embeddingCacheTtlSeconds: limits.embeddingCacheTtlSeconds,
    });
    timings.embed_ms = ms(embedMs);
    timings.vector_ms = ms(performance.now() - t - embedMs);
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
  return { results, timings };
}

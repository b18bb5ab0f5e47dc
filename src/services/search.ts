/**
 * Search over a tenant's collections. `keyword`: FTS5 bm25 over chunk title, heading and text,
 * from a query whose terms are quoted (user text never becomes FTS syntax). Results are limited
 * to collections the key may read.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../adapters/db/client";
import { collections } from "../adapters/db/schema";
import { AppError } from "../errors";
import { ftsQuery, queryTerms } from "../lib/terms";
import type { SearchInput, SearchResults } from "../schemas/search";
import { canAccessCollection, type KeyPrincipal } from "./principal";

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

/** 404 unless every collection is the tenant's; 403 if the key is restricted to others. */
export async function assertReadable(db: Db, principal: KeyPrincipal, collectionIds: string[]): Promise<void> {
  const found = await db
    .select({ id: collections.id })
    .from(collections)
    .where(and(eq(collections.tenantId, principal.tenantId), inArray(collections.id, collectionIds)));
  const known = new Set(found.map((row) => row.id));
  const missing = collectionIds.filter((id) => !known.has(id));
  if (missing.length > 0) {
    throw new AppError("not_found", `No such collection: ${missing.join(", ")}.`);
  }
  const denied = collectionIds.filter((id) => !canAccessCollection(principal, id));
  if (denied.length > 0) {
    throw new AppError("forbidden", `This API key may not read: ${denied.join(", ")}.`);
  }
}

export async function keywordSearch(
  db: Db,
  options: { terms: string[]; collectionIds: string[]; documentIds?: string[] | undefined; limit: number },
): Promise<ChunkHit[]> {
  const { title, heading, text } = BM25_WEIGHTS;
  const documentFilter =
    options.documentIds && options.documentIds.length > 0
      ? sql`AND c.document_id IN (${sql.join(
          options.documentIds.map((id) => sql`${id}`),
          sql`, `,
        )})`
      : sql``;
  const rows = await db.all<Omit<ChunkHit, "score"> & { rank: number }>(sql`
    SELECT c.id AS chunk_id, c.document_id, c.collection_id, c.title, c.heading, c.text, c.page,
           bm25(chunks_fts, ${title}, ${heading}, ${text}) AS rank
    FROM chunks_fts JOIN chunks c ON c.seq = chunks_fts.rowid
    WHERE chunks_fts MATCH ${ftsQuery(options.terms)}
      AND c.collection_id IN (${sql.join(
        options.collectionIds.map((id) => sql`${id}`),
        sql`, `,
      )})
      ${documentFilter}
    ORDER BY rank
    LIMIT ${options.limit}`);
  // bm25() is lower-is-better; expose higher-is-better scores.
  return rows.map(({ rank, ...hit }) => ({ ...hit, score: -rank }));
}

export async function search(db: Db, principal: KeyPrincipal, input: SearchInput): Promise<SearchResults> {
  const started = performance.now();
  await assertReadable(db, principal, input.collection_ids);
  const terms = queryTerms(input.query);
  if (terms.length === 0) {
    throw new AppError("validation_failed", "The query has no searchable words.", {
      errors: [{ path: "query", message: "only stop words or punctuation" }],
    });
  }
  const keywordStarted = performance.now();
  const hits = await keywordSearch(db, {
    terms,
    collectionIds: input.collection_ids,
    documentIds: input.filter?.document_ids,
    limit: input.top_k,
  });
  const done = performance.now();
  return {
    results: hits.map((hit, i) => ({ ...hit, ranks: { keyword: i + 1 } })),
    timings: {
      keyword_ms: Math.round((done - keywordStarted) * 10) / 10,
      total_ms: Math.round((done - started) * 10) / 10,
    },
  };
}

/**
 * Answers a question from a tenant's collections in one of three modes, stage by stage:
 * normalize → cache_lookup → embed_query → retrieve → rerank → generate → cite (→ log, by the
 * caller). Every stage is timed. Each mode has a deadline budget measured from the start of the
 * request; an optional stage that would overrun is skipped and named in `degraded`, and a failing
 * generator falls back to the extractive one, so an answer is always on time and says how it was made.
 */

import type { EdgeCache } from "../../adapters/cache/interface";
import type { Db } from "../../adapters/db/client";
import type { Embedder } from "../../adapters/embed/interface";
import type { Generator } from "../../adapters/generate/interface";
import { NO_ANSWER } from "../../adapters/generate/prompt";
import type { Reranker } from "../../adapters/rerank/interface";
import type { ChunkShards, TermStats } from "../../adapters/shards/interface";
import type { VectorIndex } from "../../adapters/vector/interface";
import { AppError } from "../../errors";
import { roundMs as ms } from "../../lib/async";
import { sha256Hex } from "../../lib/crypto";
import { EVIDENCE_PASSAGES, judgeEvidence, mentionsOwnWords } from "../../lib/evidence";
import type { Logger } from "../../lib/log";
import type { Lru } from "../../lib/lru";
import { filterKey } from "../../lib/metadata-filter";
import { normalizeQuery, queryTerms } from "../../lib/terms";
import type { Citation, Mode, QueryInput, QueryResult, Source } from "../../schemas/query";
import { stageClock } from "../../telemetry/trace";
import { assertReadable, type VersionReads } from "../collections";
import { effectiveFilter, type KeyPrincipal } from "../principal";
import {
  type ChunkHit,
  ensureFilterable,
  type FusionOptions,
  fuseLists,
  keywordSearch,
  nearestChunks,
  searchableTerms,
} from "../search";
import { quoteFor, supportedOnly, validateMarkers } from "./citations";
import { feedbackTerms, subQuestions } from "./expansion";
import { cacheGet, cachePut, embedQueries } from "./vectors";

export interface AnswerDeps {
  db: Db;
  embedder: Embedder;
  vectors: VectorIndex;
  /** Each collection's search shard: its chunks and keyword index. */
  shards: ChunkShards;
  reranker: Reranker;
  generator: Generator;
  /** What answers when `generator` fails or runs out of time (the extractive one). */
  fallbackGenerator: Generator;
  /** L2: answers, and query embeddings of a remote embedder (a failing cache is a miss). */
  cache: EdgeCache;
  /** L1: query embeddings by model + normalized text, in this isolate. */
  queryEmbeddings: Lru<Float32Array>;
  /** L1: complete answers of this isolate, under the same key as in L2 (versions included). */
  answers?: Lru<CachedAnswer>;
  /** Background work that must outlive the response (`ctx.waitUntil`). */
  defer: (work: Promise<unknown>) => void;
  logger: Pick<Logger, "warn" | "error">;
}

export interface AnswerOptions {
  /** `performance.now()` at the start of the request: budgets count from there. */
  startedAt: number;
  budgets: Record<Mode, number>;
  rrf: FusionOptions;
  commonTermRatio: number;
  cacheTtlSeconds: number;
  embeddingCacheTtlSeconds: number;
  signal?: AbortSignal | undefined;
  /**
   * A follow-up as asked, when `input.query` is its rewrite: the answer's sentences are chosen for
   * what it asks, the words carried from the conversation weighing less.
   */
  focus?: string | undefined;
}

/** What a streaming client is told as the pipeline goes. */
export interface AnswerEvents {
  retrieval?(sources: Source[]): void;
  token?(delta: string): void;
  citation?(citation: Citation): void;
}

interface Profile {
  /** Candidates taken from each retriever. */
  pool: number;
  /** Candidates the reranker reads (0: no rerank). */
  rerank: number;
  /** Query expansion: pseudo-relevance feedback and sub-questions. */
  expand: boolean;
  /** Sources handed to the generator, and its answer length. */
  context: number;
  maxTokens: number;
  /** Sentences an answer says at most, and (extractive) how close to the best a further one must score. */
  sentences: number;
  followRatio: number;
}

/**
 * What the modes trade: candidates, reranking and expansion for time, and the answer's length.
 * A typical answer is one sentence in every mode; balanced and deep add supporting sentences only
 * where they score close to the best (tuned on the development sets: docs/benchmarks.md "Answers").
 */
export const PROFILES: Record<Mode, Profile> = {
  fast: { pool: 20, rerank: 0, expand: false, context: 3, maxTokens: 80, sentences: 1, followRatio: 1 },
  balanced: { pool: 40, rerank: 30, expand: false, context: 5, maxTokens: 200, sentences: 3, followRatio: 0.7 },
  deep: { pool: 60, rerank: 50, expand: true, context: 8, maxTokens: 350, sentences: 4, followRatio: 0.55 },
};

export { NO_ANSWER };

/** The cached part of an answer: everything but how this request obtained it. */
export type CachedAnswer = Omit<QueryResult, "cache" | "timings">;

/** A query checked and normalized, its collections readable, with their content versions. */
export interface PreparedQuery {
  normalized: string;
  terms: string[];
  versions: Map<string, number>;
}

/**
 * The checks that can refuse a query (no searchable words 422, unknown collection 404, key
 * restricted 403), done before anything is streamed so that they still get their status code.
 */
export async function prepareQuery(
  db: Db,
  principal: KeyPrincipal,
  input: QueryInput,
  reads?: VersionReads,
): Promise<PreparedQuery> {
  const normalized = normalizeQuery(input.query);
  const terms = searchableTerms(normalized);
  const versions = await assertReadable(db, principal, input.collection_ids, reads);
  return { normalized, terms, versions };
}

export async function answer(
  deps: AnswerDeps,
  principal: KeyPrincipal,
  input: QueryInput,
  prepared: PreparedQuery,
  options: AnswerOptions,
  events: AnswerEvents = {},
): Promise<QueryResult> {
  const profile = PROFILES[input.mode];
  const deadline = options.startedAt + options.budgets[input.mode];
  const remaining = () => deadline - performance.now();
  const timings: Record<string, number> = {};
  const degraded: string[] = [];
  let mark = performance.now();
  // Each stage is also a span (under `query.answer`), with the calls made during it under it.
  const stages = stageClock();
  const lap = (stage: string) => {
    stages.lap(stage);
    const now = performance.now();
    timings[`${stage}_ms`] = ms((timings[`${stage}_ms`] ?? 0) + now - mark);
    mark = now;
  };

  // normalize (done by prepareQuery, timed from the start of the request)
  const { normalized, terms, versions } = prepared;
  const documentIds = input.filter?.document_ids;
  const metadata = effectiveFilter(principal, input.filter?.metadata);
  timings.normalize_ms = ms(mark - options.startedAt);

  // cache_lookup: the key holds every collection's version, so any ingest or delete misses.
  const key = await sha256Hex(
    new TextEncoder().encode(
      JSON.stringify([
        "answer-v2",
        principal.tenantId,
        principal.collectionIds === null ? null : [...principal.collectionIds].sort(),
        [...versions].sort(([a], [b]) => a.localeCompare(b)),
        input.mode,
        input.top_k,
        documentIds ? [...documentIds].sort() : null,
        filterKey(metadata),
        normalized.toLowerCase(),
        deps.embedder.model,
        deps.reranker.name,
        deps.generator.name,
      ]),
    ),
  );
  let cached: CachedAnswer | undefined;
  if (options.cacheTtlSeconds > 0) {
    cached = deps.answers?.get(key);
    if (!cached) {
      cached = await cacheGet<CachedAnswer>(deps, key);
      if (cached) {
        deps.answers?.set(key, cached, options.cacheTtlSeconds * 1000);
      }
    }
  }
  lap("cache_lookup");
  if (cached) {
    events.retrieval?.(cached.sources);
    events.token?.(cached.answer);
    for (const citation of cached.citations) {
      events.citation?.(citation);
    }
    timings.total_ms = ms(performance.now() - options.startedAt);
    return { ...cached, cache: "hit", timings };
  }

  if (metadata) {
    await ensureFilterable(deps, principal.tenantId, input.collection_ids);
  }

  // embed_query (L1 cache by model and text); a failing embedder leaves keyword retrieval.
  const variants = [normalized, ...(profile.expand ? subQuestions(normalized) : [])];
  let vectors: Array<Float32Array | undefined> = [];
  try {
    vectors = await embedQueries(deps, principal.tenantId, variants, options.embeddingCacheTtlSeconds);
  } catch (error) {
    if (!(error instanceof AppError)) {
      throw error;
    }
    degraded.push("vector_skipped");
  }
  lap("embed_query");

  // retrieve: hybrid per variant, fused by RRF; deep adds pseudo-relevance feedback.
  let stats: TermStats | undefined;
  const retrieveOne = async (text: string, vector: Float32Array | undefined, weight: number) => {
    // The vocabulary lookup and the keyword search run while the vector index is asked.
    const scope = { collectionIds: input.collection_ids, documentIds, metadata, limit: profile.pool };
    const [{ hits: keyword, stats: termStats }, nearest] = await Promise.all([
      // The query's own terms were found by prepareQuery; only sub-questions need theirs.
      keywordSearch(deps.shards, principal.tenantId, {
        ...scope,
        terms: text === normalized ? terms : queryTerms(text),
        commonTermRatio: options.commonTermRatio,
      }),
      vector ? nearestChunks(deps, principal.tenantId, vector, scope) : { hits: [], partial: false },
    ]);
    if (text === normalized) {
      stats = termStats;
    }
    if (nearest.partial && !degraded.includes("vector_filter_too_broad")) {
      degraded.push("vector_filter_too_broad");
    }
    return [
      { hits: keyword, weight: weight * options.rrf.weights.keyword },
      { hits: nearest.hits, weight: weight * options.rrf.weights.vector },
    ];
  };
  const lists = (await Promise.all(variants.map((text, i) => retrieveOne(text, vectors[i], i === 0 ? 1 : 0.5)))).flat();
  let candidates = fuseLists(lists, options.rrf.k);
  if (profile.expand) {
    if (remaining() > options.budgets[input.mode] * 0.5) {
      const expansion = feedbackTerms(terms, candidates.slice(0, 5));
      if (expansion.length > 0) {
        const { hits: expanded } = await keywordSearch(deps.shards, principal.tenantId, {
          terms: [...terms, ...expansion],
          collectionIds: input.collection_ids,
          documentIds,
          metadata,
          limit: profile.pool,
          // Feedback terms are chosen from the candidates: every one is scored.
          commonTermRatio: 1,
        });
        candidates = fuseLists(
          [...lists, { hits: expanded, weight: 0.5 * options.rrf.weights.keyword }],
          options.rrf.k,
        );
      }
    } else {
      degraded.push("expansion_skipped");
    }
  }
  lap("retrieve");

  // rerank
  if (profile.rerank > 0 && candidates.length > 1) {
    // Leave at least a quarter of the budget for generation and citing.
    if (remaining() > options.budgets[input.mode] * 0.25) {
      const head = candidates.slice(0, profile.rerank);
      try {
        const scores = await deps.reranker.rerank(normalized, head, { signal: options.signal });
        const reranked = head.map((hit, i) => ({ ...hit, score: scores[i] ?? 0 })).sort((a, b) => b.score - a.score);
        candidates = [...reranked, ...candidates.slice(profile.rerank)];
      } catch (error) {
        // A reranker that is down leaves the first-stage order, which is still a good answer.
        if (!(error instanceof AppError)) {
          throw error;
        }
        degraded.push("rerank_failed");
      }
    } else {
      degraded.push("rerank_skipped");
    }
  }
  lap("rerank");

  const top = candidates.slice(0, input.top_k);
  const sources: Source[] = top.map((hit) => ({
    document_id: hit.document_id,
    chunk_id: hit.chunk_id,
    title: hit.title,
    score: Math.round(hit.score * 1e6) / 1e6,
  }));
  events.retrieval?.(sources);

  // generate, unless the evidence does not answer the question (one rule for every mode).
  const context = top.slice(0, profile.context);
  let abstained =
    context.length === 0 ||
    !judgeEvidence(normalized, stats, context).answers ||
    (options.focus !== undefined && !mentionsOwnWords(options.focus, context.slice(0, EVIDENCE_PASSAGES)));
  let generator = deps.generator;
  let text = "";
  if (!abstained) {
    const request = {
      query: normalized,
      sources: context.map((hit, i) => ({ n: i + 1, title: hit.title, text: hit.text })),
      maxTokens: profile.maxTokens,
      maxSentences: profile.sentences,
      followRatio: profile.followRatio,
      stats,
      ...(options.focus !== undefined ? { focus: normalizeQuery(options.focus) } : {}),
    };
    try {
      const signal = deadlineSignal(remaining(), options.signal);
      text = await collect(generator.generate(request, { signal, tenantId: principal.tenantId }), events);
    } catch (error) {
      if (options.signal?.aborted) {
        throw error;
      }
      // The generator failed or ran out of time: answer extractively rather than not at all.
      degraded.push("generator_fallback");
      generator = deps.fallbackGenerator;
      text = await collect(generator.generate(request, { signal: options.signal }), events);
    }
  }
  lap("generate");

  // cite: every sentence must be supported by a source it cites; markers must name a real source.
  // A model's own abstention, or nothing left that the sources support, is an abstention.
  let citations: Citation[] = [];
  abstained ||= isAbstention(text);
  if (!abstained) {
    const checked = supportedOnly(text, context);
    if (checked.dropped > 0) {
      degraded.push("unsupported_dropped");
    }
    const cited = validateMarkers(checked.text, context.length);
    text = cited.text;
    abstained = cited.numbers.length === 0;
    citations = abstained
      ? []
      : cited.numbers.map((n) => {
          const hit = context[n - 1] as ChunkHit;
          return {
            n,
            document_id: hit.document_id,
            chunk_id: hit.chunk_id,
            title: hit.title,
            quote: quoteFor(text, n, hit),
          };
        });
    for (const citation of citations) {
      events.citation?.(citation);
    }
  }
  if (abstained) {
    if (text === "") {
      events.token?.(NO_ANSWER);
    }
    text = NO_ANSWER;
  }
  lap("cite");

  const result: CachedAnswer = {
    answer: text,
    citations,
    sources,
    mode: input.mode,
    generator: generator.name,
    degraded,
    abstained,
  };
  // An answer made under pressure is not worth keeping for others.
  if (options.cacheTtlSeconds > 0 && degraded.length === 0) {
    deps.answers?.set(key, result, options.cacheTtlSeconds * 1000);
    cachePut(deps, key, result, options.cacheTtlSeconds);
  }
  timings.total_ms = ms(performance.now() - options.startedAt);
  return { ...result, cache: "miss", timings };
}

/** An answer that is the abstention sentence (a model asked to say it may add a marker or a full stop). */
function isAbstention(text: string): boolean {
  const plain = text
    .replace(/\s*\[\d+\]/g, "")
    .trim()
    .toLowerCase();
  return plain === "" || plain.startsWith(NO_ANSWER.toLowerCase().replace(/\.$/, ""));
}

/** An AbortSignal that fires at the deadline or when the client goes away. */
function deadlineSignal(remainingMs: number, client: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(Math.max(1, Math.floor(remainingMs)));
  return client ? AbortSignal.any([timeout, client]) : timeout;
}

async function collect(stream: AsyncIterable<string>, events: AnswerEvents): Promise<string> {
  let text = "";
  for await (const delta of stream) {
    text += delta;
    events.token?.(delta);
  }
  return text;
}

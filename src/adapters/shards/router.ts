/**
 * Finding a collection's search shards (layout in durable-objects/shard-layout.ts).
 *
 * Reads go to every shard, in waves: the shards the last known layout names, then any a shard's
 * answer names besides; while a split runs, the shards documents leave are read before the ones
 * they move to. A split copies a document to its new shard before it deletes the old copy, so a
 * reader that finds a document gone from its old shard finds it in the new one (a chunk seen in
 * both is kept once). Removals follow the same order, which lets a split tell a document deleted
 * in flight from one it moved.
 *
 * Writes go to each document's home under the layout; a shard that no longer holds a document
 * refuses (`moved`, with its view) and the write goes where it says. When a shard holds
 * SEARCH_SHARD_SPLIT_CHUNKS chunks, shard 0 is asked to split the collection.
 */
import {
  byHome,
  FIRST_VIEW,
  homingCount,
  isLater,
  type ShardAnswer,
  type ShardView,
  shardName,
} from "../../durable-objects/shard-layout";
import type { ShardRefusal, VectorShard } from "../../durable-objects/vector-shard";
import { AppError } from "../../errors";
import { Lru } from "../../lib/lru";

type Layout = Pick<ShardView, "count" | "splitTo">;
type Shard = DurableObjectStub<VectorShard>;

export interface SplitPolicy {
  /** A shard holding this many chunks asks for a split. */
  splitAtChunks: number;
  /** Shards a collection may have at most. */
  maxShards: number;
}

/** Retries of a write whose shards said its documents moved (one per split it raced with). */
const MOVED_RETRIES = 4;

/**
 * The last layout seen per collection in this isolate. Layouts only move forward, so an old entry
 * is a first guess that costs one more wave, never a wrong answer; bounded, least recently used out.
 */
const layouts = new Lru<Layout>(20_000);

function learn(ns: string, view: Layout): void {
  const known = layouts.get(ns);
  if (known === undefined || isLater(view, known)) {
    layouts.set(ns, { count: view.count, splitTo: view.splitTo });
  }
}

/** A shard's expected refusal as the API's error: `409` with the shard's own explanation. */
export function refusedError(refusal: ShardRefusal): AppError {
  return new AppError("conflict", refusal.message);
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

export class ShardRouter {
  constructor(
    private readonly namespace: DurableObjectNamespace<VectorShard>,
    private readonly policy: SplitPolicy,
  ) {}

  shard(ns: string, index: number): Shard {
    return this.namespace.get(this.namespace.idFromName(shardName(ns, index)));
  }

  /** The collection's layout as this isolate last saw it. */
  layout(ns: string): Layout {
    return layouts.get(ns) ?? FIRST_VIEW;
  }

  /** `call` on every shard of the collection (see the module comment for the order); the values. */
  async readAll<T>(ns: string, call: (shard: Shard) => Promise<ShardAnswer<T>>): Promise<T[]> {
    let layout = this.layout(ns);
    const done = new Set<number>();
    const values: T[] = [];
    let wave = range(0, layout.count);
    while (wave.length > 0) {
      const answers = await Promise.all(wave.map((index) => call(this.shard(ns, index))));
      wave.forEach((index, i) => {
        const answer = answers[i] as ShardAnswer<T>;
        done.add(index);
        values.push(answer.value);
        if (isLater(answer.view, layout)) {
          layout = answer.view;
        }
      });
      wave = range(0, layout.count).filter((index) => !done.has(index));
      if (wave.length === 0 && layout.splitTo !== null) {
        wave = range(layout.count, layout.splitTo).filter((index) => !done.has(index));
      }
    }
    learn(ns, layout);
    return values;
  }

  /**
   * `call` with each document's home shard and its share of `documentIds`; a `moved` refusal
   * sends those documents where the shard says. Other refusals are `409`s.
   */
  async write<T>(
    ns: string,
    documentIds: string[],
    call: (shard: Shard, documentIds: string[]) => Promise<ShardAnswer<T> | ShardRefusal>,
  ): Promise<T[]> {
    const values: T[] = [];
    let pending = [...new Set(documentIds)];
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > MOVED_RETRIES) {
        throw new AppError("upstream_unavailable", "The collection's shards are being rearranged; try again shortly.");
      }
      const layout = this.layout(ns);
      const entries = [...byHome(pending, homingCount(layout))];
      const results = await Promise.all(entries.map(([index, ids]) => call(this.shard(ns, index), ids)));
      pending = [];
      for (const [i, result] of results.entries()) {
        if ("refused" in result) {
          if (result.refused !== "moved") {
            if (result.refused === "full") {
              await this.split(ns, layout.count);
            }
            throw refusedError(result);
          }
          learn(ns, result.view);
          pending.push(...(entries[i]?.[1] ?? []));
          continue;
        }
        learn(ns, result.view);
        values.push(result.value);
      }
    }
    return values;
  }

  /** After a write: asks for a split if the shard now holds too many chunks. */
  async written(ns: string, chunks: number): Promise<void> {
    if (chunks >= this.policy.splitAtChunks) {
      await this.split(ns, this.layout(ns).count);
    }
  }

  private async split(ns: string, seenCount: number): Promise<void> {
    if (seenCount * 2 <= this.policy.maxShards) {
      learn(ns, await this.shard(ns, 0).requestSplit(ns, seenCount, this.policy.maxShards));
    }
  }
}

/** One entry per id (the best score kept), best first, at most `limit`. */
export function bestById<T extends { id: string; score: number }>(lists: T[][], limit: number): T[] {
  const byId = new Map<string, T>();
  for (const item of lists.flat()) {
    const seen = byId.get(item.id);
    if (!seen || item.score > seen.score) {
      byId.set(item.id, item);
    }
  }
  return [...byId.values()].sort((a, b) => b.score - a.score || a.id.localeCompare(b.id)).slice(0, limit);
}

/** One entry per id (a chunk seen in two shards while it moves). */
export function uniqueById<T extends { id: string }>(lists: T[][]): T[] {
  return [...new Map(lists.flat().map((item) => [item.id, item])).values()];
}

/**
 * How a collection's search shards are laid out. A collection starts as one shard (named by its
 * namespace, `<tenant>/<collection>`); when a shard outgrows SEARCH_SHARD_SPLIT_CHUNKS the
 * collection doubles: `n` shards become `2n`, and each document whose id hashes to `i + n` (mod
 * `2n`) moves from shard `i` to shard `i + n`. Nothing else moves, and a document's home is a pure
 * function of its id and the shard count.
 *
 * Every shard keeps its own view of the layout and returns it with every answer; shard 0 is the
 * authority (it runs the split). Views only move forward: (1) → (1 splitting to 2) → (2) → …
 */

export interface ShardView {
  /** This shard's place among the collection's shards. */
  index: number;
  /** Shards that hold documents for certain. */
  count: number;
  /** While a split runs: the count it is doubling to. Documents are homed by this count. */
  splitTo: number | null;
}

/** The view of a shard that has never been split (and of one never written). */
export const FIRST_VIEW: ShardView = { index: 0, count: 1, splitTo: null };

/** Shard `index`'s Durable Object name: shard 0 keeps the collection's namespace itself. */
export function shardName(ns: string, index: number): string {
  return index === 0 ? ns : `${ns}#${index}`;
}

/** FNV-1a (32 bit) of the document id: cheap, stable, and spreads random ids evenly. */
export function documentHash(documentId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < documentId.length; i++) {
    hash ^= documentId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The shard a document lives in under `count` shards (a power of two). */
export function homeOf(documentId: string, count: number): number {
  return documentHash(documentId) % count;
}

/** `documentIds` grouped by their home shard under `count` shards. */
export function byHome(documentIds: string[], count: number): Map<number, string[]> {
  const groups = new Map<number, string[]>();
  for (const id of documentIds) {
    const home = homeOf(id, count);
    const group = groups.get(home);
    if (group) {
      group.push(id);
    } else {
      groups.set(home, [id]);
    }
  }
  return groups;
}

/** The count documents are homed by: the split's target while one runs. */
export const homingCount = (view: Pick<ShardView, "count" | "splitTo">) => view.splitTo ?? view.count;

/** Whether the shard with `view` is where `documentId` belongs now. */
export function owns(view: ShardView, documentId: string): boolean {
  return homeOf(documentId, homingCount(view)) === view.index;
}

/** Whether layout `a` is later than `b` (views only move forward). */
export function isLater(a: Pick<ShardView, "count" | "splitTo">, b: Pick<ShardView, "count" | "splitTo">): boolean {
  return homingCount(a) !== homingCount(b) ? homingCount(a) > homingCount(b) : a.count > b.count;
}

/** An answer from one shard, with that shard's view of the layout. */
export interface ShardAnswer<T> {
  view: ShardView;
  value: T;
}

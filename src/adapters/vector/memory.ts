import { AppError } from "../../errors";
import type { VectorFilter, VectorIndex, VectorMatch, VectorRecord, VectorStats } from "./interface";

/**
 * An exact in-memory index for unit tests (and a reference for the others): every namespace is
 * a map of id to record, searched by brute-force cosine. Not for production: nothing persists.
 */
export class MemoryVectorIndex implements VectorIndex {
  readonly name = "memory";
  readonly dropNeedsIds = false;
  readonly filtersMetadata = false;
  readonly #spaces = new Map<string, Map<string, VectorRecord>>();

  async upsert(namespace: string, records: VectorRecord[]): Promise<void> {
    const space = this.#spaces.get(namespace) ?? new Map<string, VectorRecord>();
    const dimensions = space.values().next().value?.vector.length ?? records[0]?.vector.length;
    for (const record of records) {
      if (record.vector.length !== dimensions) {
        throw new AppError(
          "conflict",
          `Every vector in this index has ${dimensions} dimensions, not ${record.vector.length}.`,
        );
      }
      space.set(record.id, { ...record, vector: Float32Array.from(record.vector) });
    }
    this.#spaces.set(namespace, space);
  }

  async query(namespace: string, vector: Float32Array, topK: number, filter?: VectorFilter): Promise<VectorMatch[]> {
    const only = filter?.documentIds ? new Set(filter.documentIds) : undefined;
    const matches: VectorMatch[] = [];
    for (const record of this.#spaces.get(namespace)?.values() ?? []) {
      if (only && !only.has(record.documentId)) {
        continue;
      }
      let score = 0;
      for (let i = 0; i < vector.length; i++) {
        score += (vector[i] ?? 0) * (record.vector[i] ?? 0);
      }
      matches.push({ id: record.id, documentId: record.documentId, score });
    }
    return matches.sort((a, b) => b.score - a.score || a.id.localeCompare(b.id)).slice(0, topK);
  }

  async delete(namespace: string, ids: string[]): Promise<void> {
    const space = this.#spaces.get(namespace);
    for (const id of ids) {
      space?.delete(id);
    }
  }

  async stats(namespace: string): Promise<VectorStats> {
    const space = this.#spaces.get(namespace);
    return { vectors: space?.size ?? 0, dimensions: space?.values().next().value?.vector.length ?? null };
  }

  async drop(namespace: string): Promise<void> {
    this.#spaces.delete(namespace);
  }
}

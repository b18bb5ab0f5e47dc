/**
 * A stand-in for a Cloudflare Vectorize (V2) index binding, as the Vectorize API documents it:
 * fixed dimensions and metric per index; vectors `{id, values, namespace?, metadata?}`; ids ≤ 64
 * bytes, namespaces ≤ 64 characters, ≤ 1,000 vectors per upsert; `query` topK ≤ 100 (≤ 50 when
 * values or all metadata are returned); filters only on properties with a metadata index
 * (`$eq $ne $in $nin`); `describe()` counts the whole index. Cosine scores.
 * One difference, stated: real mutations become visible a few seconds after they return a
 * mutationId; here they apply at once.
 */
import type { VectorizeBinding } from "../../../src/adapters/vector/vectorize";
import { cosine } from "./hashed-model";

interface Stored {
  id: string;
  values: number[];
  namespace: string | undefined;
  metadata: Record<string, VectorizeVectorMetadata>;
}

export class VectorizeStandIn implements VectorizeBinding {
  private readonly vectors = new Map<string, Stored>();
  private mutations = 0;

  constructor(
    private readonly dimensions: number,
    private readonly metadataIndexes: string[] = ["documentId"],
  ) {}

  async describe(): Promise<VectorizeIndexInfo> {
    return {
      vectorCount: this.vectors.size,
      dimensions: this.dimensions,
      processedUpToDatetime: Date.now(),
      processedUpToMutation: this.mutations,
    };
  }

  async upsert(vectors: VectorizeVector[]): Promise<VectorizeAsyncMutation> {
    if (vectors.length > 1_000) {
      throw new Error("VECTOR_UPSERT_ERROR (code = 40006): too many vectors in one request (max 1000)");
    }
    for (const v of vectors) {
      if (new TextEncoder().encode(v.id).length > 64) {
        throw new Error(`VECTOR_UPSERT_ERROR (code = 40008): id too long: ${v.id}`);
      }
      if (v.namespace !== undefined && v.namespace.length > 64) {
        throw new Error("VECTOR_UPSERT_ERROR (code = 40009): namespace too long (max 64)");
      }
      if (v.values.length !== this.dimensions) {
        throw new Error(
          `VECTOR_UPSERT_ERROR (code = 40012): invalid vector for id="${v.id}", expected ${this.dimensions} dimensions, and got ${v.values.length} dimensions`,
        );
      }
    }
    for (const v of vectors) {
      this.vectors.set(v.id, {
        id: v.id,
        values: Array.from(v.values),
        namespace: v.namespace,
        metadata: { ...(v.metadata ?? {}) },
      });
    }
    return { mutationId: this.mutation() };
  }

  async deleteByIds(ids: string[]): Promise<VectorizeAsyncMutation> {
    for (const id of ids) {
      this.vectors.delete(id);
    }
    return { mutationId: this.mutation() };
  }

  async query(vector: VectorFloatArray | number[], options: VectorizeQueryOptions = {}): Promise<VectorizeMatches> {
    const topK = options.topK ?? 5;
    const heavy = options.returnValues === true || options.returnMetadata === "all" || options.returnMetadata === true;
    if (topK < 1 || topK > (heavy ? 50 : 100)) {
      throw new Error(`VECTOR_QUERY_ERROR (code = 40025): topK must be between 1 and ${heavy ? 50 : 100}`);
    }
    if (vector.length !== this.dimensions) {
      throw new Error(
        `VECTOR_QUERY_ERROR (code = 40012): query vector has ${vector.length} dimensions, expected ${this.dimensions}`,
      );
    }
    const filter = options.filter ?? {};
    for (const property of Object.keys(filter)) {
      if (!this.metadataIndexes.includes(property)) {
        throw new Error(`VECTOR_QUERY_ERROR (code = 40030): no metadata index for property "${property}"`);
      }
    }
    const q = Array.from(vector);
    const matches = [...this.vectors.values()]
      .filter((v) => v.namespace === options.namespace && matchesFilter(v.metadata, filter))
      .map((v) => ({ v, score: cosine(q, v.values) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, topK)
      .map(({ v, score }) => ({
        id: v.id,
        score,
        ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
        ...(options.returnValues ? { values: v.values } : {}),
        ...(options.returnMetadata === "indexed"
          ? { metadata: pick(v.metadata, this.metadataIndexes) }
          : options.returnMetadata === "all" || options.returnMetadata === true
            ? { metadata: v.metadata }
            : {}),
      }));
    return { matches, count: matches.length };
  }

  private mutation(): string {
    this.mutations += 1;
    return crypto.randomUUID();
  }
}

function pick(metadata: Record<string, VectorizeVectorMetadata>, keys: string[]) {
  return Object.fromEntries(Object.entries(metadata).filter(([key]) => keys.includes(key)));
}

function matchesFilter(metadata: Record<string, VectorizeVectorMetadata>, filter: VectorizeVectorMetadataFilter) {
  return Object.entries(filter).every(([property, condition]) => {
    const value = metadata[property];
    if (condition === null || typeof condition !== "object" || Array.isArray(condition)) {
      return value === condition;
    }
    const ops = condition as Record<string, unknown>;
    return Object.entries(ops).every(([op, operand]) => {
      switch (op) {
        case "$eq":
          return value === operand;
        case "$ne":
          return value !== operand;
        case "$in":
          return Array.isArray(operand) && operand.includes(value);
        case "$nin":
          return Array.isArray(operand) && !operand.includes(value);
        default:
          throw new Error(`VECTOR_QUERY_ERROR (code = 40031): unsupported filter operator ${op}`);
      }
    });
  });
}

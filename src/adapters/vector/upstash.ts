import { Index } from "@upstash/vector/cloudflare";
import { AppError } from "../../errors";
import type { VectorFilter, VectorIndex, VectorMatch, VectorRecord, VectorStats } from "./interface";

/** Vectors per upsert request and ids per delete request. */
const BATCH = 1_000;
/** Upstash Vector returns at most 1,000 matches per query. */
const MAX_TOP_K = 1_000;
/** Only ids we generate can be put in a filter expression. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface UpstashVectorOptions {
  url: string;
  token: string;
  timeoutMs: number;
}

/**
 * Upstash Vector over its REST API (via @upstash/vector): one index created with similarity
 * COSINE and the embedder's dimensions, one Upstash namespace per tenant+collection. Upstash
 * reports COSINE scores as (1 + cos) / 2; we turn them back into cosines so that every index
 * reports the same scale. Upstash indexes asynchronously: counts include pending vectors.
 */
export class UpstashVectorIndex implements VectorIndex {
  readonly name = "upstash-vector";
  readonly dropNeedsIds = false;
  readonly filtersMetadata = false;
  private readonly index: Index;

  constructor(options: UpstashVectorOptions) {
    this.index = new Index({
      url: options.url,
      token: options.token,
      enableTelemetry: false,
      cache: false,
      retry: { retries: 2, backoff: (attempt) => 100 * 2 ** attempt },
      signal: () => AbortSignal.timeout(options.timeoutMs),
    });
  }

  async upsert(namespace: string, records: VectorRecord[]): Promise<void> {
    const ns = this.index.namespace(upstashNamespace(namespace));
    for (let i = 0; i < records.length; i += BATCH) {
      await call(() =>
        ns.upsert(
          records.slice(i, i + BATCH).map((r) => ({
            id: r.id,
            vector: Array.from(r.vector),
            metadata: { documentId: r.documentId },
          })),
        ),
      );
    }
  }

  async query(namespace: string, vector: Float32Array, topK: number, filter?: VectorFilter): Promise<VectorMatch[]> {
    let expression: string | undefined;
    if (filter?.documentIds) {
      const ids = filter.documentIds.filter((id) => SAFE_ID.test(id));
      if (ids.length === 0) {
        return [];
      }
      expression = `documentId IN (${ids.map((id) => `'${id}'`).join(", ")})`;
    }
    const matches = await call(() =>
      this.index.namespace(upstashNamespace(namespace)).query<{ documentId?: string }>({
        vector: Array.from(vector),
        topK: Math.min(topK, MAX_TOP_K),
        includeMetadata: true,
        ...(expression ? { filter: expression } : {}),
      }),
    );
    return matches.map((m) => ({
      id: String(m.id),
      documentId: m.metadata?.documentId ?? "",
      score: 2 * m.score - 1,
    }));
  }

  async delete(namespace: string, ids: string[]): Promise<void> {
    const ns = this.index.namespace(upstashNamespace(namespace));
    for (let i = 0; i < ids.length; i += BATCH) {
      await call(() => ns.delete(ids.slice(i, i + BATCH)));
    }
  }

  async stats(namespace: string): Promise<VectorStats> {
    const info = await call(() => this.index.info());
    const mine = info.namespaces[upstashNamespace(namespace)];
    const vectors = (mine?.vectorCount ?? 0) + (mine?.pendingVectorCount ?? 0);
    return { vectors, dimensions: vectors > 0 ? info.dimension : null };
  }

  async drop(namespace: string, _ids: string[]): Promise<void> {
    try {
      await call(() => this.index.deleteNamespace(upstashNamespace(namespace)));
    } catch (error) {
      // A collection that never had a vector has no namespace to delete.
      if (!/does not exist|not found/i.test((error as Error).message)) {
        throw error;
      }
    }
  }
}

/** Our namespaces are `<tenant id>/<collection id>`; a slash would split the REST path. */
const upstashNamespace = (namespace: string) => namespace.replace("/", "--");

async function call<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (/dimension/i.test(message)) {
      throw new AppError("conflict", `Upstash Vector refused the vectors (dimensions): ${message}`, { cause: error });
    }
    if (/unauthori[sz]ed/i.test(message)) {
      throw new AppError("misconfigured", "Upstash Vector refused the token (UPSTASH_VECTOR_REST_TOKEN).", {
        cause: error,
      });
    }
    if ((error as Error).name === "TimeoutError" || /abort|timed? ?out/i.test(message)) {
      throw new AppError("upstream_timeout", "Upstash Vector did not answer in time.", { cause: error });
    }
    throw new AppError("upstream_unavailable", `Upstash Vector failed: ${message.slice(0, 200)}`, { cause: error });
  }
}

/**
 * Query vectors and the shared cache around them, for search and answers alike: L1 in this
 * isolate, L2 in the shared cache for embedders that leave the isolate, then the embedder.
 */
import type { EdgeCache } from "../../adapters/cache/interface";
import type { Embedder } from "../../adapters/embed/interface";
import { fromBase64, sha256Hex, toBase64 } from "../../lib/crypto";
import type { Logger } from "../../lib/log";
import type { Lru } from "../../lib/lru";

export interface QueryVectorDeps {
  embedder: Embedder;
  /** L1: query vectors of this isolate, keyed by tenant, model and text. */
  queryEmbeddings: Lru<Float32Array>;
  cache: EdgeCache;
  logger: Pick<Logger, "warn">;
  /** Background work (shared-cache writes), handed to the invocation's `waitUntil`. */
  defer: (work: Promise<unknown>) => void;
}

/** A shared-cache read; an unreachable cache is a miss, logged. */
export async function cacheGet<T>(
  deps: Pick<QueryVectorDeps, "cache" | "logger">,
  key: string,
): Promise<T | undefined> {
  try {
    return await deps.cache.get<T>(key);
  } catch (error) {
    deps.logger.warn("shared cache read failed; treated as a miss", { cache: deps.cache.name, error });
    return undefined;
  }
}

/** A shared-cache write, off the hot path; a failure is only logged. */
export function cachePut(
  deps: Pick<QueryVectorDeps, "cache" | "logger" | "defer">,
  key: string,
  value: unknown,
  ttl: number,
) {
  deps.defer(
    deps.cache
      .put(key, value, ttl)
      .catch((error: unknown) => deps.logger.warn("shared cache write failed", { cache: deps.cache.name, error })),
  );
}

/**
 * Query vectors: L1 (this isolate), then — for an embedder that leaves the isolate — L2 (the
 * shared cache, base64 float32), then the embedder. Keys hold the tenant, the model and the
 * lower-cased text; new vectors go back to both levels.
 */
export async function embedQueries(
  deps: QueryVectorDeps,
  tenantId: string,
  texts: string[],
  sharedTtlSeconds: number,
): Promise<Array<Float32Array | undefined>> {
  const keyOf = (text: string) => `${tenantId}:${deps.embedder.model}:${text.toLowerCase()}`;
  const out = texts.map((text) => deps.queryEmbeddings.get(keyOf(text)));
  const shared = deps.embedder.remote && sharedTtlSeconds > 0;
  // L2 keys, hashed once for the lookup and the write-back.
  const sharedKeys = shared ? await Promise.all(texts.map((text) => sha256Hex(`embedding-v1\n${keyOf(text)}`))) : [];
  if (shared) {
    await Promise.all(
      texts.map(async (text, i) => {
        const key = sharedKeys[i];
        if (out[i] === undefined && key) {
          const hit = await cacheGet<unknown>(deps, key);
          const vector = decodeVector(hit, deps.embedder.dimensions);
          if (vector) {
            out[i] = vector;
            deps.queryEmbeddings.set(keyOf(text), vector, L1_EMBEDDING_TTL_MS);
          }
        }
      }),
    );
  }
  const missing = texts.filter((_, i) => out[i] === undefined);
  if (missing.length > 0) {
    const fresh = await deps.embedder.embed(missing, "query", { tenantId });
    let j = 0;
    for (let i = 0; i < texts.length; i++) {
      const text = texts[i] ?? "";
      const vector = out[i] === undefined ? fresh[j++] : undefined;
      if (vector) {
        out[i] = vector;
        deps.queryEmbeddings.set(keyOf(text), vector, L1_EMBEDDING_TTL_MS);
        const key = sharedKeys[i];
        if (key) {
          const bytes = new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);
          cachePut(deps, key, toBase64(bytes), sharedTtlSeconds);
        }
      }
    }
  }
  return out;
}

const L1_EMBEDDING_TTL_MS = 3_600_000;

/** A cached vector, or undefined for anything but base64 float32 of the model's size. */
function decodeVector(value: unknown, dimensions: number): Float32Array | undefined {
  if (typeof value !== "string" || value.length > dimensions * 8) {
    return undefined;
  }
  try {
    const bytes = fromBase64(value);
    return bytes.byteLength === dimensions * 4
      ? new Float32Array(bytes.buffer, bytes.byteOffset, dimensions)
      : undefined;
  } catch {
    return undefined;
  }
}

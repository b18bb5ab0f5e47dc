/**
 * Provider knowledge: which settings each embedder, generator, reranker and vector index needs,
 * the models whose dimensions we know, and the problems a half-configured provider reports.
 */
import { z } from "zod";
import type { Fields, RawEnv } from "./schema";
import type {
  Config,
  ConfigProblem,
  DatabaseConfig,
  EmbeddingsConfig,
  GeneratorConfig,
  RerankWeights,
  VectorIndexConfig,
} from "./types";
import { DEFAULT_RERANK_WEIGHTS } from "./types";

/** Models whose dimensions we know; any other model needs EMBEDDINGS_DIMENSIONS. */
export const KNOWN_EMBEDDING_DIMENSIONS: Record<string, number> = {
  "@cf/baai/bge-small-en-v1.5": 384,
  "@cf/baai/bge-base-en-v1.5": 768,
  "@cf/baai/bge-large-en-v1.5": 1024,
  "@cf/baai/bge-m3": 1024,
  "text-embedding-3-small": 1536,
  "text-embedding-3-large": 3072,
  "text-embedding-ada-002": 1536,
};

const DEFAULT_MODELS = { "workers-ai": "@cf/baai/bge-small-en-v1.5", openai: "text-embedding-3-small" } as const;

const hasMethod = (binding: unknown, method: string) =>
  typeof binding === "object" && binding !== null && typeof (binding as Record<string, unknown>)[method] === "function";

function requireAiBinding(raw: RawEnv, setting: string, problems: ConfigProblem[]): void {
  if (!hasMethod(raw.AI, "run")) {
    problems.push({ setting: "AI", message: `${setting}=workers-ai needs the Workers AI binding \`AI\`` });
  }
}

/**
 * The settings of an OpenAI-compatible endpoint, `<PREFIX>_BASE_URL` (required) and a key from
 * `<PREFIX>_API_KEY` or the tenant secret named by `<PREFIX>_API_KEY_SECRET` (one of them required).
 */
function openAiCompatible(
  f: Fields,
  prefix: "EMBEDDINGS" | "GENERATOR",
  problems: ConfigProblem[],
  /** Other settings this provider cannot do without, reported in this order after the URL. */
  required: Array<[setting: string, value: unknown]> = [],
) {
  const baseUrl = f[`${prefix}_BASE_URL`];
  const apiKey = f[`${prefix}_API_KEY`];
  const apiKeySecret = f[`${prefix}_API_KEY_SECRET`];
  if (baseUrl === undefined) {
    problems.push({ setting: `${prefix}_BASE_URL`, message: `is required when ${prefix}_PROVIDER=openai` });
  }
  for (const [setting, value] of required) {
    if (value === undefined) {
      problems.push({ setting, message: `is required when ${prefix}_PROVIDER=openai` });
    }
  }
  if (apiKey === undefined && apiKeySecret === undefined) {
    problems.push({
      setting: `${prefix}_API_KEY`,
      message: `${prefix}_PROVIDER=openai needs ${prefix}_API_KEY or ${prefix}_API_KEY_SECRET`,
    });
  }
  return { baseUrl: (baseUrl ?? "https://invalid.example").replace(/\/+$/, ""), apiKey, apiKeySecret };
}

export function parseEmbeddings(f: Fields, raw: RawEnv, problems: ConfigProblem[]): EmbeddingsConfig {
  const provider = f.EMBEDDINGS_PROVIDER;
  const timeoutMs = f.EMBEDDINGS_TIMEOUT_MS;
  if (provider === "local") {
    const dimensions = f.EMBEDDINGS_DIMENSIONS ?? 384;
    if (dimensions < 384 || dimensions > 1_024) {
      problems.push({
        setting: "EMBEDDINGS_DIMENSIONS",
        message: "the local embedder supports 384 to 1024 dimensions",
      });
      return { kind: "local", dimensions: 384 };
    }
    return { kind: "local", dimensions };
  }
  const model = f.EMBEDDINGS_MODEL ?? DEFAULT_MODELS[provider];
  const dimensions = f.EMBEDDINGS_DIMENSIONS ?? KNOWN_EMBEDDING_DIMENSIONS[model];
  if (dimensions === undefined) {
    problems.push({ setting: "EMBEDDINGS_DIMENSIONS", message: `is required for model "${model}"` });
  }
  if (provider === "workers-ai") {
    requireAiBinding(raw, "EMBEDDINGS_PROVIDER", problems);
    return { kind: "workers-ai", model, dimensions: dimensions ?? 0, timeoutMs };
  }
  return {
    kind: "openai",
    ...openAiCompatible(f, "EMBEDDINGS", problems),
    model,
    dimensions: dimensions ?? 0,
    sendDimensions: f.EMBEDDINGS_DIMENSIONS !== undefined,
    timeoutMs,
  };
}

export function parseRerankWeights(text: string | undefined, problems: ConfigProblem[]): RerankWeights {
  if (text === undefined) {
    return DEFAULT_RERANK_WEIGHTS;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    problems.push({ setting: "RERANK_WEIGHTS", message: "must be a JSON object" });
    return DEFAULT_RERANK_WEIGHTS;
  }
  const weight = z.number().min(0).max(100);
  const parsed = z
    .object({ coverage: weight, title: weight, proximity: weight, prior: weight })
    .partial()
    .strict()
    .safeParse(json);
  if (!parsed.success) {
    problems.push({ setting: "RERANK_WEIGHTS", message: parsed.error.issues.map((i) => i.message).join("; ") });
    return DEFAULT_RERANK_WEIGHTS;
  }
  return { ...DEFAULT_RERANK_WEIGHTS, ...parsed.data };
}

export function parseReranker(f: Fields, raw: RawEnv, problems: ConfigProblem[]): Config["reranker"] {
  if (f.RERANKER_PROVIDER === "local") {
    return { kind: "local" };
  }
  requireAiBinding(raw, "RERANKER_PROVIDER", problems);
  return { kind: "workers-ai", model: f.RERANKER_MODEL ?? "@cf/baai/bge-reranker-base", timeoutMs: 2_000 };
}

export function parseGenerator(f: Fields, raw: RawEnv, problems: ConfigProblem[]): GeneratorConfig {
  const provider = f.GENERATOR_PROVIDER;
  if (provider === "extractive") {
    return { kind: "extractive" };
  }
  if (provider === "workers-ai") {
    requireAiBinding(raw, "GENERATOR_PROVIDER", problems);
    return { kind: "workers-ai", model: f.GENERATOR_MODEL ?? "@cf/meta/llama-3.1-8b-instruct" };
  }
  return {
    kind: "openai",
    ...openAiCompatible(f, "GENERATOR", problems, [["GENERATOR_MODEL", f.GENERATOR_MODEL]]),
    model: f.GENERATOR_MODEL ?? "unset",
    timeoutMs: f.GENERATOR_TIMEOUT_MS,
  };
}

export function parseDatabase(f: Fields, raw: RawEnv, problems: ConfigProblem[]): DatabaseConfig {
  if (f.DATABASE_PROVIDER === "hyperdrive") {
    const binding = raw.HYPERDRIVE as { connectionString?: unknown } | undefined;
    if (typeof binding?.connectionString !== "string") {
      problems.push({
        setting: "HYPERDRIVE",
        message: "DATABASE_PROVIDER=hyperdrive needs the Hyperdrive binding `HYPERDRIVE` (docs/database.md)",
      });
      // Reported as `misconfigured`; every store call then fails with this message, never a
      // silent fall back to D1 (writes would land in the wrong store).
    }
    return { kind: "hyperdrive", dependency: "postgres" };
  }
  return { kind: "d1", dependency: "d1" };
}

export function parseVectorIndex(f: Fields, raw: RawEnv, problems: ConfigProblem[]): VectorIndexConfig {
  const provider = f.VECTOR_INDEX_PROVIDER;
  if (provider === "vectorize") {
    if (!hasMethod(raw.VECTORIZE, "query")) {
      problems.push({
        setting: "VECTORIZE",
        message: "VECTOR_INDEX_PROVIDER=vectorize needs the Vectorize binding `VECTORIZE`",
      });
    }
    return { kind: "vectorize" };
  }
  if (provider === "upstash") {
    const url = f.UPSTASH_VECTOR_REST_URL;
    const token = f.UPSTASH_VECTOR_REST_TOKEN;
    for (const [setting, value] of [
      ["UPSTASH_VECTOR_REST_URL", url],
      ["UPSTASH_VECTOR_REST_TOKEN", token],
    ] as const) {
      if (value === undefined) {
        problems.push({ setting, message: "is required when VECTOR_INDEX_PROVIDER=upstash" });
      }
    }
    if (url === undefined || token === undefined) {
      return { kind: "durable-object" };
    }
    return { kind: "upstash", url, token, timeoutMs: f.VECTOR_INDEX_TIMEOUT_MS };
  }
  return { kind: "durable-object" };
}

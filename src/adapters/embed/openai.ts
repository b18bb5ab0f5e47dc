import { AppError } from "../../errors";
import { inBatches } from "../../lib/async";
import { postJson } from "../http";
import type { Embedder, EmbedKind, EmbedOptions } from "./interface";
import { toUnitVector } from "./vectors";

/** Texts per request (OpenAI accepts up to 2,048; compatible servers are often stricter). */
const BATCH = 128;

export interface OpenAiEmbedderOptions {
  baseUrl: string;
  model: string;
  dimensions: number;
  sendDimensions: boolean;
  timeoutMs: number;
  /** The API key for a tenant (its own secret, else the operator's); undefined when there is none. */
  apiKey: (tenantId: string | undefined) => Promise<string | undefined>;
}

/** Any OpenAI-compatible `POST <base>/embeddings` endpoint (OpenAI, Azure-style proxies, vLLM, Ollama …). */
export class OpenAiEmbedder implements Embedder {
  readonly model: string;
  readonly dimensions: number;
  readonly fusionWeight = 1;
  readonly remote = true;

  constructor(private readonly options: OpenAiEmbedderOptions) {
    this.model = `openai/${options.model}@${options.dimensions}`;
    this.dimensions = options.dimensions;
  }

  async embed(texts: string[], _kind: EmbedKind, embedOptions: EmbedOptions = {}): Promise<Float32Array[]> {
    if (texts.length === 0) {
      return [];
    }
    const apiKey = await this.options.apiKey(embedOptions.tenantId);
    if (!apiKey) {
      throw new AppError("misconfigured", "No API key for the embeddings provider (EMBEDDINGS_API_KEY).");
    }
    return inBatches(texts, BATCH, async (slice) => {
      const response = await postJson({
        provider: "The embeddings provider",
        url: `${this.options.baseUrl}/embeddings`,
        apiKey,
        timeoutMs: this.options.timeoutMs,
        body: {
          model: this.options.model,
          input: slice,
          encoding_format: "float",
          ...(this.options.sendDimensions ? { dimensions: this.options.dimensions } : {}),
        },
      });
      const json = (await response.json().catch(() => null)) as {
        data?: Array<{ index?: number; embedding?: unknown }>;
      } | null;
      const data = json?.data;
      if (!Array.isArray(data) || data.length !== slice.length) {
        throw new AppError(
          "upstream_unavailable",
          `The embeddings provider returned no embeddings for ${slice.length} texts.`,
        );
      }
      const ordered = [...data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
      return ordered.map((item) => toUnitVector(item.embedding, this.dimensions, "The embeddings provider"));
    });
  }
}

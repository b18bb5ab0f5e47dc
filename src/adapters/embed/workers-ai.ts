import { AppError } from "../../errors";
import { inBatches, raceTimeout } from "../../lib/async";
import type { Embedder, EmbedKind } from "./interface";
import { toUnitVector } from "./vectors";

/** The part of the Workers AI binding (`env.AI`) this adapter uses. */
export interface AiBinding {
  run(model: string, inputs: Record<string, unknown>): Promise<unknown>;
}

/**
 * One Workers AI call, bounded by `timeoutMs`; the binding's own errors (capacity, bad input)
 * become `upstream_unavailable`, silence `upstream_timeout`.
 */
export async function runModel(
  ai: AiBinding,
  model: string,
  inputs: Record<string, unknown>,
  timeoutMs: number,
): Promise<unknown> {
  try {
    return await raceTimeout(
      ai.run(model, inputs),
      timeoutMs,
      () => new AppError("upstream_timeout", `Workers AI did not answer within ${timeoutMs} ms.`),
    );
  } catch (error) {
    if (error instanceof AppError) {
      throw error;
    }
    throw new AppError("upstream_unavailable", `Workers AI failed: ${(error as Error).message}`, { cause: error });
  }
}

/** bge models were trained to embed short queries with this instruction in front. */
export const BGE_QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: ";

/** Texts per call: the bge text-embedding models accept at most 100. */
const BATCH = 100;

/**
 * Workers AI text embeddings (`@cf/baai/bge-*-en-v1.5` by default), with `cls` pooling, which is
 * more accurate on passages than the default `mean` pooling (and not compatible with it: a
 * collection records which pooling its vectors came from through the model id).
 */
export class WorkersAiEmbedder implements Embedder {
  readonly model: string;
  readonly fusionWeight = 1;
  readonly remote = true;

  constructor(
    private readonly ai: AiBinding,
    private readonly modelName: string,
    readonly dimensions: number,
    private readonly timeoutMs: number,
  ) {
    this.model = `workers-ai/${modelName}#cls`;
  }

  embed(texts: string[], kind: EmbedKind): Promise<Float32Array[]> {
    const prefix = kind === "query" && this.modelName.includes("/bge-") ? BGE_QUERY_INSTRUCTION : "";
    return inBatches(texts, BATCH, async (slice) => {
      const output = await runModel(
        this.ai,
        this.modelName,
        { text: slice.map((t) => prefix + t), pooling: "cls" },
        this.timeoutMs,
      );
      const data = (output as { data?: unknown } | null)?.data;
      if (!Array.isArray(data) || data.length !== slice.length) {
        throw new AppError("upstream_unavailable", `Workers AI returned no embeddings for ${slice.length} texts.`);
      }
      return data.map((values) => toUnitVector(values, this.dimensions, "Workers AI"));
    });
  }
}

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

/** The English bge v1.5 models: `cls` pooling and a query instruction apply to them only. */
const BGE_EN = /\/bge-(?:small|base|large)-en-v1\.5$/;

/**
 * Workers AI text embeddings. The English bge v1.5 models (`@cf/baai/bge-small-en-v1.5` is the
 * provider's default) get `cls` pooling, which is more accurate on passages than the default
 * `mean` pooling (and not compatible with it: a collection records which pooling its vectors came
 * from through the model id), and their query instruction. Other models, such as the multilingual
 * `@cf/baai/bge-m3` that `npm run deploy` chooses, take the text as it is (their input schema has
 * no pooling), truncated to the model's window rather than refused.
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
    this.model = BGE_EN.test(modelName) ? `workers-ai/${modelName}#cls` : `workers-ai/${modelName}`;
  }

  embed(texts: string[], kind: EmbedKind): Promise<Float32Array[]> {
    const english = BGE_EN.test(this.modelName);
    const prefix = kind === "query" && english ? BGE_QUERY_INSTRUCTION : "";
    return inBatches(texts, BATCH, async (slice) => {
      const text = slice.map((t) => prefix + t);
      const output = await runModel(
        this.ai,
        this.modelName,
        english ? { text, pooling: "cls" } : { text, truncate_inputs: true },
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

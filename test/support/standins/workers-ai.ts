/**
 * A stand-in for the Workers AI binding (`env.AI.run`) as its text-embedding models behave:
 * input `{ text: string | string[], pooling?: "mean" | "cls" }`, at most 100 texts, output
 * `{ shape: [n, dims], data: number[][], pooling }`; unknown models and bad input throw, like
 * the binding does. `faults` simulates an outage or a slow model.
 */
import type { AiBinding } from "../../../src/adapters/embed/workers-ai";
import { hashedEmbedding } from "./hashed-model";

const EMBEDDING_MODELS: Record<string, number> = {
  "@cf/baai/bge-small-en-v1.5": 384,
  "@cf/baai/bge-base-en-v1.5": 768,
  "@cf/baai/bge-large-en-v1.5": 1024,
};

export interface AiCall {
  model: string;
  inputs: Record<string, unknown>;
}

export class WorkersAiStandIn implements AiBinding {
  readonly calls: AiCall[] = [];
  /** Set to make the next calls fail (`error`) or answer late (`delayMs`). */
  faults: { error?: Error; delayMs?: number } = {};

  async run(model: string, inputs: Record<string, unknown>): Promise<unknown> {
    this.calls.push({ model, inputs });
    if (this.faults.delayMs) {
      await new Promise((resolve) => setTimeout(resolve, this.faults.delayMs));
    }
    if (this.faults.error) {
      throw this.faults.error;
    }
    const dimensions = EMBEDDING_MODELS[model];
    if (dimensions === undefined) {
      throw new Error(`5007: No such model ${model} or task`);
    }
    const text = inputs.text;
    const texts = typeof text === "string" ? [text] : text;
    if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === "string" && t.length > 0)) {
      throw new Error("5006: Error: required properties at '/' are 'text'");
    }
    if (texts.length > 100) {
      throw new Error("5006: Error: at '/text', array must NOT have more than 100 items");
    }
    const pooling = inputs.pooling ?? "mean";
    if (pooling !== "mean" && pooling !== "cls") {
      throw new Error("5006: Error: at '/pooling', must be equal to one of the allowed values");
    }
    return {
      shape: [texts.length, dimensions],
      data: texts.map((t) => hashedEmbedding(t, dimensions)),
      pooling,
    };
  }
}

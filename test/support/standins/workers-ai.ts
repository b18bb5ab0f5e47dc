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
  // Multilingual; its input schema is `{ text, truncate_inputs? }`, with no pooling.
  "@cf/baai/bge-m3": 1024,
};

const RERANK_MODEL = "@cf/baai/bge-reranker-base";
const TEXT_MODELS = ["@cf/meta/llama-3.1-8b-instruct", "@cf/meta/llama-3.1-8b-instruct-fp8-fast"];

/** `{query, contexts:[{text}]}` → `{response:[{id, score}]}`, best first, by shared words. */
function rerank(inputs: Record<string, unknown>) {
  const contexts = inputs.contexts;
  if (typeof inputs.query !== "string" || !Array.isArray(contexts)) {
    throw new Error("5006: Error: required properties at '/' are 'query', 'contexts'");
  }
  const words = new Set(inputs.query.toLowerCase().match(/[a-z0-9]+/g) ?? []);
  const response = contexts
    .map((c: { text?: string }, id) => {
      const text = (c.text ?? "").toLowerCase().match(/[a-z0-9]+/g) ?? [];
      return { id, score: text.filter((w) => words.has(w)).length / Math.max(1, Math.sqrt(text.length)) };
    })
    .sort((a, b) => b.score - a.score);
  return { response };
}

/**
 * Chat models: `{messages, stream?}`; with `stream: true` a ReadableStream of server-sent events
 * `data: {"response":"…"}` ending with `data: [DONE]`, else `{response}`. The "model" repeats the
 * first sentence of source 1 with a citation of a source that does not exist ([9]).
 */
function generate(inputs: Record<string, unknown>) {
  const messages = inputs.messages;
  if (!Array.isArray(messages)) {
    throw new Error("5006: Error: required properties at '/' are 'messages'");
  }
  const user = String((messages.at(-1) as { content?: unknown })?.content ?? "");
  const followUp = /\nFollow-up: (.*)$/.exec(user)?.[1];
  if (user.startsWith("<conversation>") && followUp) {
    // A rewrite request: the follow-up with the last user turn it leans on.
    const turns = [...user.matchAll(/<turn role="user">([\s\S]*?)<\/turn>/g)];
    return { response: `${followUp.replace(/\?$/, "")}, regarding: ${turns.at(-1)?.[1] ?? ""}` };
  }
  const source = /<source n="1"[^>]*>\n([\s\S]*?)\n<\/source>/.exec(user)?.[1] ?? "";
  const answer = `${source.split(/(?<=[.!?])\s+/)[0] ?? ""} [1][9]`;
  if (inputs.stream !== true) {
    return { response: answer };
  }
  const encoder = new TextEncoder();
  const words = answer.split(/(?<= )/);
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const word = words.shift();
      if (word === undefined) {
        controller.enqueue(encoder.encode("data: [DONE]\n\n"));
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(`data: ${JSON.stringify({ response: word })}\n\n`));
    },
  });
}

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
    if (model === RERANK_MODEL) {
      return rerank(inputs);
    }
    if (TEXT_MODELS.includes(model)) {
      return generate(inputs);
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
    if (model === "@cf/baai/bge-m3" && "pooling" in inputs) {
      throw new Error("5006: Error: must NOT have additional properties 'pooling'");
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

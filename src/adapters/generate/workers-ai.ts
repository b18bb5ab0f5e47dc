import { AppError } from "../../errors";
import type { Turn } from "../../lib/rewrite";
import type { AiBinding } from "../embed/workers-ai";
import type { GenerateOptions, GenerateRequest, Generator } from "./interface";
import { buildMessages, buildRewriteMessages, cleanRewrite } from "./prompt";
import { sseJson } from "./sse";

/**
 * Workers AI text generation (`env.AI.run(model, {messages, stream: true})`): the binding returns
 * a server-sent event stream of `{response: "<text>"}` chunks ending with `[DONE]`. Aborting the
 * caller's signal cancels that stream, which stops the model.
 */
export class WorkersAiGenerator implements Generator {
  readonly name: string;

  constructor(
    private readonly ai: AiBinding,
    private readonly model: string,
  ) {
    this.name = `workers-ai/${model}`;
  }

  async *generate(request: GenerateRequest, options: GenerateOptions = {}): AsyncIterable<string> {
    let output: unknown;
    try {
      output = await this.ai.run(this.model, {
        messages: buildMessages(request),
        max_tokens: request.maxTokens,
        temperature: 0,
        stream: true,
      });
    } catch (error) {
      throw new AppError("upstream_unavailable", `Workers AI failed: ${(error as Error).message}`, { cause: error });
    }
    if (!(output instanceof ReadableStream)) {
      throw new AppError("upstream_unavailable", "Workers AI did not stream its answer.");
    }
    for await (const event of sseJson(output, options.signal)) {
      const text = (event as { response?: unknown }).response;
      if (typeof text === "string" && text !== "") {
        yield text;
      }
    }
  }

  async rewrite(question: string, history: Turn[], _options: GenerateOptions = {}): Promise<string | undefined> {
    let output: unknown;
    try {
      output = await this.ai.run(this.model, {
        messages: buildRewriteMessages(question, history),
        max_tokens: 120,
        temperature: 0,
      });
    } catch (error) {
      throw new AppError("upstream_unavailable", `Workers AI failed: ${(error as Error).message}`, { cause: error });
    }
    const text = (output as { response?: unknown } | null)?.response;
    return typeof text === "string" ? cleanRewrite(text) : undefined;
  }
}

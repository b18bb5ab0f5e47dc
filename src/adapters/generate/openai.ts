import { AppError } from "../../errors";
import type { Turn } from "../../lib/rewrite";
import { postJson } from "../http";
import type { GenerateOptions, GenerateRequest, Generator } from "./interface";
import { buildMessages, buildRewriteMessages, cleanRewrite } from "./prompt";
import { sseJson } from "./sse";

export interface OpenAiGeneratorOptions {
  baseUrl: string;
  model: string;
  timeoutMs: number;
  apiKey: (tenantId: string | undefined) => Promise<string | undefined>;
}

/**
 * Any OpenAI-compatible `POST <base>/chat/completions`, streamed (`stream: true`, server-sent
 * events of `choices[0].delta.content`, ended by `data: [DONE]`). The caller's signal aborts the
 * upstream request, so a client that leaves or a deadline stops the model from generating.
 */
export class OpenAiGenerator implements Generator {
  readonly name: string;

  constructor(private readonly options: OpenAiGeneratorOptions) {
    this.name = `openai/${options.model}`;
  }

  async *generate(request: GenerateRequest, options: GenerateOptions = {}): AsyncIterable<string> {
    const response = await this.chat(
      { messages: buildMessages(request), max_tokens: request.maxTokens, stream: true },
      options,
      1,
    );
    yield* deltas(response, options.signal);
  }

  /** `POST <base>/chat/completions` with the tenant's (or the configured) key, at temperature 0. */
  private async chat(body: Record<string, unknown>, options: GenerateOptions, retries: number): Promise<Response> {
    const apiKey = await this.options.apiKey(options.tenantId);
    if (!apiKey) {
      throw new AppError("misconfigured", "No API key for the generation provider (GENERATOR_API_KEY).");
    }
    return postJson({
      provider: "The generation provider",
      url: `${this.options.baseUrl}/chat/completions`,
      apiKey,
      timeoutMs: this.options.timeoutMs,
      retries,
      signal: options.signal,
      body: { model: this.options.model, temperature: 0, ...body },
    });
  }

  async rewrite(question: string, history: Turn[], options: GenerateOptions = {}): Promise<string | undefined> {
    const response = await this.chat(
      { messages: buildRewriteMessages(question, history), max_tokens: 120 },
      options,
      0,
    );
    const body = (await response.json()) as { choices?: Array<{ message?: { content?: unknown } }> };
    const content = body.choices?.[0]?.message?.content;
    return typeof content === "string" ? cleanRewrite(content) : undefined;
  }
}

/** OpenAI chat-completion chunks: `choices[0].delta.content`, or an `error` object. */
async function* deltas(response: Response, signal?: AbortSignal): AsyncIterable<string> {
  if (!response.body) {
    throw new AppError("upstream_unavailable", "The generation provider sent no body.");
  }
  for await (const event of sseJson(response.body, signal)) {
    const chunk = event as { choices?: Array<{ delta?: { content?: unknown } }>; error?: { message?: string } };
    if (chunk.error) {
      throw new AppError("upstream_unavailable", `The generation provider failed: ${chunk.error.message ?? "error"}`);
    }
    const content = chunk.choices?.[0]?.delta?.content;
    if (typeof content === "string" && content !== "") {
      yield content;
    }
  }
}

import { AppError } from "../../errors";
import { postJson } from "../http";
import type { GenerateOptions, GenerateRequest, Generator } from "./interface";
import { buildMessages } from "./prompt";

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
    const apiKey = await this.options.apiKey(options.tenantId);
    if (!apiKey) {
      throw new AppError("misconfigured", "No API key for the generation provider (GENERATOR_API_KEY).");
    }
    const response = await postJson({
      provider: "The generation provider",
      url: `${this.options.baseUrl}/chat/completions`,
      apiKey,
      timeoutMs: this.options.timeoutMs,
      retries: 1,
      signal: options.signal,
      body: {
        model: this.options.model,
        messages: buildMessages(request),
        max_tokens: request.maxTokens,
        temperature: 0,
        stream: true,
      },
    });
    yield* deltas(response, options.signal);
  }
}

/** Reads an OpenAI-style SSE body: one JSON chunk per `data:` line, `[DONE]` at the end. */
export async function* deltas(response: Response, signal?: AbortSignal): AsyncIterable<string> {
  const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
  if (!reader) {
    throw new AppError("upstream_unavailable", "The generation provider sent no body.");
  }
  let buffer = "";
  try {
    for (;;) {
      if (signal?.aborted) {
        throw signal.reason ?? new Error("aborted");
      }
      const { value, done } = await reader.read();
      if (done) {
        return;
      }
      buffer += value;
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf("\n");
        if (!line.startsWith("data:")) {
          continue;
        }
        const data = line.slice(5).trim();
        if (data === "[DONE]") {
          return;
        }
        let chunk: { choices?: Array<{ delta?: { content?: unknown } }>; error?: { message?: string } };
        try {
          chunk = JSON.parse(data);
        } catch {
          throw new AppError("upstream_unavailable", "The generation provider sent a malformed event.");
        }
        if (chunk.error) {
          throw new AppError(
            "upstream_unavailable",
            `The generation provider failed: ${chunk.error.message ?? "error"}`,
          );
        }
        const content = chunk.choices?.[0]?.delta?.content;
        if (typeof content === "string" && content !== "") {
          yield content;
        }
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

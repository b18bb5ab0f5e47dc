import { EventSourceParserStream } from "eventsource-parser/stream";
import { AppError } from "../../errors";

/**
 * The `data` payloads of a server-sent event stream (parsed by `eventsource-parser`, so multi-line
 * data, comments and CRLF framing are read as the spec says), as JSON, until `[DONE]` or the end.
 * Stops (cancelling the stream, so the provider stops generating) when `signal` aborts.
 */
export async function* sseJson(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncIterable<unknown> {
  const reader = body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => undefined);
  signal?.addEventListener("abort", onAbort);
  try {
    for (;;) {
      if (signal?.aborted) {
        throw signal.reason ?? new Error("aborted");
      }
      const { value, done } = await reader.read();
      if (done) {
        if (signal?.aborted) {
          throw signal.reason ?? new Error("aborted");
        }
        return;
      }
      const data = value.data.trim();
      if (data === "[DONE]") {
        return;
      }
      try {
        yield JSON.parse(data) as unknown;
      } catch (error) {
        if (error instanceof SyntaxError) {
          throw new AppError("upstream_unavailable", "The generation provider sent a malformed event.");
        }
        throw error;
      }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await reader.cancel().catch(() => undefined);
  }
}

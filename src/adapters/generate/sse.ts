import { AppError } from "../../errors";

/**
 * The `data:` payloads of a server-sent event stream, parsed as JSON, until `[DONE]` or the end.
 * Stops (cancelling the stream, so the provider stops generating) when `signal` aborts.
 */
export async function* sseJson(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncIterable<unknown> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => undefined);
  signal?.addEventListener("abort", onAbort);
  let buffer = "";
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
        try {
          yield JSON.parse(data) as unknown;
        } catch (error) {
          if (error instanceof SyntaxError) {
            throw new AppError("upstream_unavailable", "The generation provider sent a malformed event.");
          }
          throw error;
        }
      }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await reader.cancel().catch(() => undefined);
  }
}

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { AppError } from "../errors";

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;

/**
 * For JSON routes: requires a JSON content type (415), and reads the body from the stream with a
 * hard cap (413) whether it is framed by Content-Length or chunked — a declared length is never
 * trusted alone. The bytes read are handed on to the validator.
 */
export function jsonBody(options: { maxBytes?: number; optional?: boolean } = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const limit = options.maxBytes ?? c.var.config.maxJsonBodyBytes;
    const type = c.req.header("content-type") ?? "";
    // A route whose fields are all optional also accepts no body at all, as `{}`.
    if (options.optional && (c.req.raw.body === null || c.req.header("content-length") === "0")) {
      c.req.raw = new Request(c.req.raw, { body: "{}", headers: withJsonType(c.req.raw.headers) });
      return next();
    }
    if (!JSON_TYPE.test(type)) {
      throw new AppError("unsupported_media_type", "Send the body as application/json.");
    }
    const declared = c.req.header("content-length");
    if (declared !== undefined && Number(declared) > limit) {
      throw tooLarge(limit);
    }
    const body = c.req.raw.body;
    if (!body) {
      throw new AppError("bad_request", "A JSON body is required.");
    }
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        throw tooLarge(limit);
      }
      chunks.push(value);
    }
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
    if (size === 0) {
      throw new AppError("bad_request", "A JSON body is required.");
    }
    // Hand the validator the bytes we already hold.
    c.req.raw = new Request(c.req.raw, { body: bytes });
    await next();
  };
}

function withJsonType(headers: Headers): Headers {
  const copy = new Headers(headers);
  copy.set("Content-Type", "application/json");
  copy.delete("Content-Length");
  return copy;
}

function tooLarge(limit: number): AppError {
  return new AppError("payload_too_large", `The body exceeds this route's limit of ${limit} bytes.`);
}

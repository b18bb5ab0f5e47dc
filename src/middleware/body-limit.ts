import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { AppError } from "../errors";

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;
const MULTIPART_TYPE = /^multipart\/form-data\s*;/i;

/**
 * Reads the request body from the stream with a hard cap (413), whether it is framed by
 * Content-Length or chunked — a declared length is never trusted alone — and hands the bytes on
 * (to the validator or the handler) by replacing the request with a buffered copy.
 */
async function buffer(c: Context<AppEnv>, limit: number, emptyMessage: string): Promise<void> {
  const bytes = await readCapped(c.req.raw, limit);
  if (bytes.byteLength === 0) {
    throw new AppError("bad_request", emptyMessage);
  }
  c.req.raw = new Request(c.req.raw, { body: bytes });
}

/** The whole body of a request, or `payload_too_large` as soon as it passes `limit` bytes. */
export async function readCapped(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    throw tooLarge(limit);
  }
  const body = request.body;
  if (!body) {
    return new Uint8Array(0);
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
  return bytes;
}

/** For JSON routes: a JSON content type (415) and a capped body (413). */
export function jsonBody(options: { maxBytes?: number; optional?: boolean } = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // A route whose fields are all optional also accepts no body at all, as `{}`.
    if (options.optional && (c.req.raw.body === null || c.req.header("content-length") === "0")) {
      c.req.raw = new Request(c.req.raw, { body: "{}", headers: withJsonType(c.req.raw.headers) });
      return next();
    }
    if (!JSON_TYPE.test(c.req.header("content-type") ?? "")) {
      throw new AppError("unsupported_media_type", "Send the body as application/json.");
    }
    await buffer(c, options.maxBytes ?? c.var.config.maxJsonBodyBytes, "A JSON body is required.");
    await next();
  };
}

/**
 * For upload routes: multipart/form-data or JSON (415 otherwise), capped at MAX_UPLOAD_BYTES plus
 * room for the multipart envelope; the document's own size is checked again once parsed.
 */
export function uploadBody(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const type = c.req.header("content-type") ?? "";
    if (!JSON_TYPE.test(type) && !MULTIPART_TYPE.test(type)) {
      throw new AppError("unsupported_media_type", "Send the document as multipart/form-data (`file`) or JSON.");
    }
    await buffer(c, c.var.config.maxUploadBytes + 64 * 1024, "A document is required.");
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

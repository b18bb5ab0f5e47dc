import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { AppError } from "../errors";
import { raceTimeout } from "../lib/async";
import { MalformedJson, parse, takeStrings } from "../lib/json-member";
import { parseForm } from "../lib/multipart";

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;
const MULTIPART_TYPE = /^multipart\/form-data\s*;/i;

/**
 * Reads the body with a hard cap and hands it to the route already parsed (Hono's body cache), so
 * it is read, decoded and parsed exactly once: the validator and the handler see the same value.
 * JSON must be valid UTF-8 (RFC 8259 §8.1): a body that is not is `400`, never silently repaired.
 */
async function buffer(
  c: Context<AppEnv>,
  limit: number,
  emptyMessage: string,
  options: { hint?: string; textAt?: string[] } = {},
): Promise<void> {
  const bytes = await readBody(c, limit, options.hint);
  if (bytes.byteLength === 0) {
    throw new AppError("bad_request", emptyMessage);
  }
  const type = c.req.header("content-type") ?? "";
  if (JSON_TYPE.test(type)) {
    const parsed = Promise.resolve(options.textAt ? takeText(c, bytes, options.textAt) : parseJson(bytes));
    c.req.bodyCache.json = parsed;
    // Hono's `json()` reads its *text* cache; given only a parsed value it serialises it and parses
    // it again (+3.5× the body in memory, `npm run bench:upload-memory`). This request's `json()`,
    // which the validator calls, answers with the one parse instead.
    c.req.json = (() => parsed) as typeof c.req.json;
    return;
  }
  // Hono's form validator only calls `forEach(value, key)` on the cached form: a Map serves, and
  // lets a file stay a view of the body instead of a `File` copy.
  const form = parseForm(bytes, type);
  if ("problem" in form) {
    throw new AppError("bad_request", form.problem);
  }
  c.req.bodyCache.formData = form.fields as unknown as FormData;
}

/** Decodes once, strictly: bytes that are not UTF-8 are refused, not repaired to U+FFFD. */
function parseJson(bytes: Uint8Array): unknown {
  return badRequestIfMalformed(() => parse(bytes));
}

/** What the validator sees as `text` when the text itself was taken out as bytes (`uploadedText`). */
const TAKEN = "(kept as bytes)";

/**
 * A JSON upload's body parsed with its documents' texts (at `path`) taken out as UTF-8 bytes, never
 * JS strings (see lib/json-member.ts); the route reads them with `uploadedText`.
 */
function takeText(c: Context<AppEnv>, bytes: Uint8Array, path: string[]): unknown {
  const { rest, values } = badRequestIfMalformed(() => takeStrings(bytes, path, TAKEN));
  c.set("upload_texts", values);
  return rest;
}

/** A JSON upload's text (of the `index`th document of a batch) as UTF-8 bytes, if `uploadBody` took it. */
export function uploadedText(c: Context<AppEnv>, index = 0): Uint8Array | undefined {
  const value = c.get("upload_texts")?.[index];
  return value && value.byteLength > 0 ? value : undefined;
}

function badRequestIfMalformed<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof MalformedJson) {
      throw new AppError("bad_request", error.message);
    }
    throw error;
  }
}

/** `readCapped` on this request, under its deadline: a client still sending when it passes gets 408. */
async function readBody(c: Context<AppEnv>, limit: number, hint: string | undefined): Promise<Uint8Array> {
  const deadline = c.get("deadline");
  if (deadline) {
    deadline.readingBody = true;
  }
  try {
    return await readCapped(c.req.raw, limit, {
      signal: deadline?.signal,
      hint,
      // While an over-limit body drains, the answer is already decided: the deadline gives it.
      onRefused: (error) => {
        if (deadline) {
          deadline.verdict = error;
        }
      },
    });
  } finally {
    if (deadline) {
      deadline.readingBody = false;
    }
  }
}

/**
 * How much of an over-limit body is read and thrown away before its `413` is sent. A runtime cannot
 * read a request body once it has answered, and a connection closed while the client is still
 * sending is reset — its response lost with it: a client that sends its whole body before reading
 * (most do) would see a network error and retry. Draining first makes the 413 arrive, the
 * connection stay usable, and costs one 64 KiB buffer. 100 MiB is the smallest request body
 * Cloudflare's edge lets through to a Worker at all; a body declared larger, one that stalls for
 * DRAIN_IDLE_MS, or the request's deadline, cuts it instead (the 413 is still sent, best effort).
 */
export const DRAIN_MAX_BYTES = 100 * 1024 * 1024;
export const DRAIN_IDLE_MS = 2_000;

interface ReadOptions {
  signal?: AbortSignal | undefined;
  /** Added to the 413's detail. */
  hint?: string | undefined;
  /** Told the 413 before the rest of the body is drained. */
  onRefused?: (error: AppError) => void;
  /** How long a drained body may stall before it is cut (DRAIN_IDLE_MS). */
  drainIdleMs?: number;
}

/**
 * The whole body of a request, or `payload_too_large` once it passes `limit` bytes, whether it is
 * framed by Content-Length or chunked (a declared length is never trusted alone). Past the limit
 * nothing more is kept: the rest is drained (see DRAIN_MAX_BYTES) or, if declared larger than that,
 * cut at once. With `signal`, reading stops (and the stream is cancelled) when it aborts.
 */
export async function readCapped(request: Request, limit: number, options: ReadOptions = {}): Promise<Uint8Array> {
  const { signal, hint } = options;
  const body = request.body;
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (!body) {
    if (declared > limit) {
      throw tooLarge(limit, hint);
    }
    return new Uint8Array(0);
  }
  const byob = byobReader(body);
  const reader = byob ?? body.getReader();
  const onAbort = () => reader.cancel().catch(() => undefined);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    if (declared > limit) {
      return await refuse(reader, byob, 0, declared, tooLarge(limit, hint), options);
    }
    const known = Number.isInteger(declared) && declared >= 0 ? declared : undefined;
    const filled = await fill(reader, byob, limit, known, signal);
    if ("over" in filled) {
      return await refuse(reader, byob, filled.over, declared, tooLarge(limit, hint), options);
    }
    return filled.bytes;
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

type Reader = ReadableStreamBYOBReader | ReadableStreamDefaultReader<Uint8Array>;

/**
 * Reads into one buffer up to `limit` bytes: the body, or `over` (the bytes read) once it has more.
 * With a declared length the runtime writes straight into one buffer of that size (a BYOB read: the
 * body costs about its size in memory, where `arrayBuffer()` costs three times and a default
 * reader's chunks two). Otherwise the buffer doubles as it fills.
 */
async function fill(
  reader: Reader,
  byob: ReadableStreamBYOBReader | undefined,
  limit: number,
  known: number | undefined,
  signal: AbortSignal | undefined,
): Promise<{ bytes: Uint8Array } | { over: number }> {
  let buffer = new ArrayBuffer(known ?? Math.min(limit, 16_384));
  let size = 0;
  for (;;) {
    if (byob && size === buffer.byteLength && (size === known || size === limit)) {
      // Full at its declared length or the limit: the body must end here.
      const probe = await byob.read(new Uint8Array(1));
      throwIfAborted(signal);
      return probe.done ? { bytes: new Uint8Array(buffer, 0, size) } : { over: size + (probe.value?.byteLength ?? 0) };
    }
    if (byob && size === buffer.byteLength) {
      buffer = grow(buffer, size, size + 1, limit);
    }
    const { done, value } = byob
      ? await byob.read(new Uint8Array(buffer, size))
      : await (reader as ReadableStreamDefaultReader<Uint8Array>).read();
    throwIfAborted(signal);
    if (value && byob) {
      buffer = value.buffer as ArrayBuffer; // the read took the buffer over and hands it back
      size += value.byteLength;
    } else if (value) {
      if (size + value.byteLength > limit) {
        return { over: size + value.byteLength };
      }
      buffer = grow(buffer, size, size + value.byteLength, limit);
      new Uint8Array(buffer, size).set(value);
      size += value.byteLength;
    }
    if (done) {
      return { bytes: new Uint8Array(buffer, 0, size) };
    }
  }
}

/** `buffer` with room for `needed` bytes (at most `limit`), its first `size` bytes kept. */
function grow(buffer: ArrayBuffer, size: number, needed: number, limit: number): ArrayBuffer {
  if (needed <= buffer.byteLength) {
    return buffer;
  }
  const grown = new ArrayBuffer(Math.min(limit, Math.max(buffer.byteLength * 2, needed)));
  new Uint8Array(grown).set(new Uint8Array(buffer, 0, size));
  return grown;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw signal.reason instanceof AppError
      ? signal.reason
      : new AppError("request_timeout", "The request body did not arrive in time.");
  }
}

/**
 * Throws `error` (a 413) once the rest of the body is read and discarded — or at once, cutting the
 * body, when it is declared over DRAIN_MAX_BYTES, grows past it, stalls or the request's deadline
 * passes (the caller cancels the stream).
 */
async function refuse(
  reader: Reader,
  byob: ReadableStreamBYOBReader | undefined,
  received: number,
  declared: number,
  error: AppError,
  options: ReadOptions,
): Promise<never> {
  options.onRefused?.(error);
  let total = received;
  let scratch = new ArrayBuffer(65_536);
  while (!(declared > DRAIN_MAX_BYTES) && total <= DRAIN_MAX_BYTES && !options.signal?.aborted) {
    const read = byob ? byob.read(new Uint8Array(scratch)) : (reader as ReadableStreamDefaultReader<Uint8Array>).read();
    const next = await raceTimeout(read, options.drainIdleMs ?? DRAIN_IDLE_MS, () => error).catch(() => undefined);
    if (!next || next.done) {
      break;
    }
    total += next.value.byteLength;
    if (byob) {
      scratch = next.value.buffer as ArrayBuffer;
    }
  }
  throw error;
}

/** A BYOB reader where the runtime offers one (workerd does for request bodies). */
function byobReader(body: ReadableStream<Uint8Array>): ReadableStreamBYOBReader | undefined {
  try {
    return body.getReader({ mode: "byob" });
  } catch {
    return undefined;
  }
}

/** For JSON routes: a JSON content type (415), a capped body (413), valid UTF-8 JSON (400). */
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
 * For upload routes: multipart/form-data or JSON (415 otherwise). A file is capped at
 * MAX_UPLOAD_BYTES plus room for the multipart envelope (the document's own size is checked again
 * once parsed); JSON at MAX_JSON_UPLOAD_BYTES. A JSON document's text (at `textAt`: `["text"]`, or
 * `["documents", "*", "text"]` for a batch) is taken out of the body as UTF-8 bytes, unescaped in
 * place, so that it costs about what a multipart file costs: its body and nothing more
 * (`npm run bench:upload-memory`).
 */
export function uploadBody(options: { textAt: string[] }): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const type = c.req.header("content-type") ?? "";
    const { maxUploadBytes, maxJsonUploadBytes } = c.var.config;
    if (JSON_TYPE.test(type)) {
      await buffer(c, maxJsonUploadBytes, "A document is required.", {
        hint: "; send larger documents as multipart/form-data",
        textAt: options.textAt,
      });
    } else if (MULTIPART_TYPE.test(type)) {
      await buffer(c, maxUploadBytes + 64 * 1024, "A document is required.");
    } else {
      throw new AppError("unsupported_media_type", "Send the document as multipart/form-data (`file`) or JSON.");
    }
    await next();
  };
}

function withJsonType(headers: Headers): Headers {
  const copy = new Headers(headers);
  copy.set("Content-Type", "application/json");
  copy.delete("Content-Length");
  return copy;
}

function tooLarge(limit: number, hint = ""): AppError {
  return new AppError("payload_too_large", `The body exceeds this route's limit of ${limit} bytes${hint}.`);
}

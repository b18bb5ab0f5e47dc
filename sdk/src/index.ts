/**
 * The EdgeRAG client. `edgerag.api` is the whole REST API, typed from the Worker's /openapi.json
 * (openapi-fetch: `api.GET("/v1/collections")`, `api.POST("/v1/search", { body })` …); the
 * methods beside it cover what raw HTTP makes awkward: answers as a stream, uploads from a Blob or
 * a file path, the notification stream with resume, and retries that honour `Retry-After`.
 * Webhook signatures: `verifyWebhook`. Runs on Node ≥ 20, Workers, Deno, Bun and browsers.
 */
import { EventSourceParserStream } from "eventsource-parser/stream";
import createClient, { type Client } from "openapi-fetch";
import { EdgeRAGError } from "./errors.ts";
import { type EdgeRAGEvent, type NotificationOptions, notifications } from "./notifications.ts";
import type { components, paths } from "./openapi.ts";
import { type RetryOptions, retryingFetch } from "./retry.ts";

export { EdgeRAGError, type Problem } from "./errors.ts";
export type { EdgeRAGEvent, NotificationOptions } from "./notifications.ts";
export type { components, paths } from "./openapi.ts";
export { type RetryOptions, retryAfterMs, retryingFetch } from "./retry.ts";
export { verifyWebhook, type WebhookEvent, WebhookVerificationError } from "./webhooks.ts";

type Schemas = components["schemas"];
export type QueryInput = Schemas["Query"];
export type QueryResult = Schemas["QueryResult"];
export type SearchInput = Schemas["Search"];
export type SearchResults = Schemas["SearchResults"];
export type Document = Schemas["Document"];
export type Citation = QueryResult["citations"][number];
export type Source = QueryResult["sources"][number];

/** One event of an answer as it is made (`POST /v1/query` with `stream: true`). */
export type AnswerEvent =
  | { type: "retrieval"; sources: Source[] }
  | { type: "token"; text: string }
  | { type: "citation"; citation: Citation }
  | { type: "done"; result: QueryResult };

export interface EdgeRAGOptions {
  /** The deployment, e.g. `https://edgerag.example.workers.dev` (no trailing `/v1`). */
  baseUrl: string;
  /** An API key (`erk_…`) or an end-user token (`ert_…`). */
  apiKey: string;
  /** Retries on 429 (and 503 for repeatable methods), honouring `Retry-After`. */
  retry?: RetryOptions;
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof fetch;
  /** A WebSocket class for `notifications()` where there is no global one (Node 20: the `ws` package). */
  WebSocket?: typeof WebSocket;
}

/** What to upload: bytes (a Blob or File), text, or (Node) a file path. */
export type UploadSource = { file: Blob; filename?: string } | { text: string } | { path: string };

export interface UploadOptions {
  title?: string;
  metadata?: Record<string, unknown>;
  priority?: "high" | "normal" | "low";
  /** With it, the document is PUT under your own id (created, or replaced once the new one is ready). */
  externalId?: string;
  signal?: AbortSignal;
}

/** The error of an openapi-fetch result, thrown; the data otherwise. */
async function unwrap<T>(result: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await result;
  if (error !== undefined || !response.ok) {
    throw new EdgeRAGError({
      type: "about:blank",
      title: response.statusText,
      status: response.status,
      code: `http_${response.status}`,
      detail: response.statusText,
      ...(typeof error === "object" && error !== null ? error : {}),
    } as EdgeRAGError["problem"]);
  }
  return data as T;
}

export class EdgeRAG {
  /** The whole REST API, typed (openapi-fetch). Errors come back as `{ error }`, not thrown. */
  readonly api: Client<paths>;
  readonly #baseUrl: string;
  readonly #apiKey: string;
  readonly #fetch: typeof fetch;
  readonly #WebSocket: typeof WebSocket | undefined;

  constructor(options: EdgeRAGOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#apiKey = options.apiKey;
    this.#fetch = retryingFetch(options.fetch ?? ((input, init) => fetch(input, init)), options.retry);
    this.#WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
    this.api = createClient<paths>({
      baseUrl: this.#baseUrl,
      headers: { Authorization: `Bearer ${this.#apiKey}` },
      fetch: this.#fetch,
    });
  }

  /** Rank passages for a query (`POST /v1/search`). */
  search(body: SearchInput, signal?: AbortSignal): Promise<SearchResults> {
    return unwrap(this.api.POST("/v1/search", { body, signal }));
  }

  /** An answer with citations (`POST /v1/query`); `abstained` when the documents do not say. */
  ask(body: Omit<QueryInput, "stream">, signal?: AbortSignal): Promise<QueryResult> {
    return unwrap(this.api.POST("/v1/query", { body: { ...body, stream: false } as QueryInput, signal }));
  }

  /**
   * The answer as it is made: `retrieval` (the sources, before any text), `token`s, `citation`s,
   * then `done` with the same result `ask` returns. A failure mid-stream throws an EdgeRAGError.
   * Breaking out of the loop (or `signal`) stops the work on the server too.
   */
  async *stream(body: Omit<QueryInput, "stream">, signal?: AbortSignal): AsyncGenerator<AnswerEvent> {
    const response = await this.#fetch(`${this.#baseUrl}/v1/query`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${this.#apiKey}`,
        "Content-Type": "application/json",
        Accept: "text/event-stream",
      },
      body: JSON.stringify({ ...body, stream: true }),
      signal,
    });
    if (!response.ok || !response.body) {
      throw await EdgeRAGError.from(response);
    }
    const events = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
    const reader = events.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          return;
        }
        const data = JSON.parse(value.data);
        switch (value.event) {
          case "retrieval":
            yield { type: "retrieval", sources: data.sources };
            break;
          case "token":
            yield { type: "token", text: data.text };
            break;
          case "citation":
            yield { type: "citation", citation: data };
            break;
          case "done":
            yield { type: "done", result: data };
            return;
          case "error":
            throw new EdgeRAGError(data);
        }
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }

  /**
   * Uploads a document into a collection: a Blob/File (multipart, up to the server's
   * MAX_UPLOAD_BYTES), text (JSON), or — on Node — a file path (streamed from disk as a Blob).
   * With `externalId` it is a PUT under your own id. Returns the document (202: queued).
   */
  async upload(collectionId: string, source: UploadSource, options: UploadOptions = {}): Promise<Document> {
    const base = `${this.#baseUrl}/v1/collections/${encodeURIComponent(collectionId)}/documents`;
    const url = options.externalId ? `${base}/external/${encodeURIComponent(options.externalId)}` : base;
    let body: BodyInit;
    const headers: Record<string, string> = { Authorization: `Bearer ${this.#apiKey}` };
    if ("text" in source) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify({
        title: options.title ?? "Untitled",
        text: source.text,
        ...(options.metadata ? { metadata: options.metadata } : {}),
        ...(options.priority ? { priority: options.priority } : {}),
      });
    } else {
      const { file, filename } = "path" in source ? await fromPath(source.path) : source;
      const form = new FormData();
      form.set("file", file, filename ?? (file as File).name ?? "document");
      if (options.title) {
        form.set("title", options.title);
      }
      if (options.metadata) {
        form.set("metadata", JSON.stringify(options.metadata));
      }
      if (options.priority) {
        form.set("priority", options.priority);
      }
      body = form;
    }
    const response = await this.#fetch(url, {
      method: options.externalId ? "PUT" : "POST",
      headers,
      body,
      signal: options.signal,
    });
    if (!response.ok) {
      throw await EdgeRAGError.from(response);
    }
    return (await response.json()) as Document;
  }

  /** Waits until a document is `ready` (or throws when it `failed`), polling its status. */
  async waitReady(documentId: string, { timeoutMs = 120_000, intervalMs = 500 } = {}): Promise<Document> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const doc = await unwrap(this.api.GET("/v1/documents/{id}", { params: { path: { id: documentId } } }));
      if (doc.status === "ready") {
        return doc;
      }
      if (doc.status === "failed") {
        throw new Error(`Document ${documentId} failed: ${doc.error ?? "unknown reason"}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`Document ${documentId} is still ${doc.status} after ${timeoutMs} ms.`);
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  /**
   * The tenant's events (needs an `admin` key), live over the WebSocket and resumed after the last
   * one seen when the connection drops: `for await (const event of edgerag.notifications({ after }))`.
   */
  notifications(options: NotificationOptions = {}): AsyncGenerator<EdgeRAGEvent> {
    const WebSocketClass = this.#WebSocket;
    if (!WebSocketClass) {
      throw new Error("No WebSocket here: pass `WebSocket` (Node 20: the `ws` package) to the EdgeRAG constructor.");
    }
    return notifications(
      {
        WebSocket: WebSocketClass,
        ticket: async () =>
          (await unwrap(this.api.POST("/v1/notifications/ticket", { signal: options.signal }))).ticket,
        socketUrl: (ticket, after) => {
          const url = new URL(`${this.#baseUrl}/v1/notifications/ws`);
          url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
          url.searchParams.set("ticket", ticket);
          if (after !== undefined) {
            url.searchParams.set("after", String(after));
          }
          return url.href;
        },
      },
      options,
    );
  }
}

/** A file on disk as a Blob (Node ≥ 20: streamed, not read into memory first). */
async function fromPath(path: string): Promise<{ file: Blob; filename: string }> {
  // A variable specifier: bundlers for browsers leave it alone, and it needs no Node types.
  const specifier = "node:fs";
  const fs = (await import(/* @vite-ignore */ specifier)) as {
    openAsBlob?: (path: string) => Promise<Blob>;
  };
  if (!fs.openAsBlob) {
    throw new Error("Uploading from a path needs Node ≥ 19.8 (fs.openAsBlob).");
  }
  return { file: await fs.openAsBlob(path), filename: path.split(/[\\/]/).pop() ?? "document" };
}

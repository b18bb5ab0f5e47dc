/**
 * Instrumentation at the adapter seam: every call the services make to the outside world (D1, R2,
 * Queues, Durable Objects, the vector index, embedder, reranker, generator, cache, browser, DNS,
 * and any `fetch`) is timed, tallied per dependency and, when the invocation is recorded, a client
 * span. The composition root wraps each adapter once; nothing under it knows.
 */
import { type CallInfo, observe } from "../telemetry/observe";
import { currentTelemetry, traceHeaders } from "../telemetry/trace";

/** The platform's `fetch`, before `instrumentGlobalFetch` wraps it (the OTLP exporter's own calls). */
export const untracedFetch: typeof fetch = globalThis.fetch.bind(globalThis);

let fetchInstrumented = false;

/**
 * Wraps the global `fetch` (once per isolate): a span and a `fetch` tally per call, and the W3C
 * `traceparent`/`tracestate` of the current span on the request unless the caller set its own.
 * Outside an invocation (Durable Objects, test code) it is the platform's fetch.
 */
export function instrumentGlobalFetch(): void {
  if (fetchInstrumented) {
    return;
  }
  fetchInstrumented = true;
  const platform = globalThis.fetch;
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    if (!currentTelemetry()) {
      return platform(input, init);
    }
    const request = new Request(input, init);
    let host = "";
    try {
      host = new URL(request.url).host;
    } catch {
      // Relative or malformed: the platform's fetch reports it.
    }
    return observe(
      "fetch",
      request.method,
      () => {
        // Evaluated inside the call's span, so the next hop's parent is this span.
        for (const [name, value] of Object.entries(traceHeaders())) {
          if (!request.headers.has(name)) {
            request.headers.set(name, value);
          }
        }
        return platform(request);
      },
      (response) => ({ attributes: { "http.response.status_code": response.status } }),
      { "server.address": host, "http.request.method": request.method },
    );
  }) as typeof fetch;
}

/**
 * Every method of `target` that returns a promise becomes an observed call of `dependency`
 * (getters and synchronous helpers pass through). Works on class instances and on bindings.
 */
export function instrument<T extends object>(target: T, dependency: string): T {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, property) {
      const value = Reflect.get(object, property, object) as unknown;
      if (typeof value !== "function" || typeof property !== "string" || property === "constructor") {
        return value;
      }
      let method = wrapped.get(property);
      if (!method) {
        const fn = value as (...args: unknown[]) => unknown;
        method = (...args: unknown[]) => observe(dependency, property, () => fn.apply(object, args));
        wrapped.set(property, method);
      }
      return method;
    },
  });
}

/**
 * A queue whose messages carry the sender's `traceparent`, so the consumer's trace links to the
 * producer's (message bodies are objects of ids; the field is ignored by their schemas).
 */
export function instrumentQueue<Body>(queue: Queue<Body>, name: string): Queue<Body> {
  const stamp = (body: Body): Body => {
    const { traceparent } = traceHeaders();
    return traceparent && body !== null && typeof body === "object" && !Array.isArray(body)
      ? ({ ...body, traceparent } as Body)
      : body;
  };
  return {
    send: (body, options) => observe(`queue:${name}`, "send", () => queue.send(stamp(body), options)),
    sendBatch: (messages, options) =>
      observe(`queue:${name}`, "sendBatch", () =>
        queue.sendBatch(
          [...messages].map((message) => ({ ...message, body: stamp(message.body) })),
          options,
        ),
      ),
  } as Queue<Body>;
}

const VERB = /^\s*(\w+)/;

function d1Info(result: unknown): { rowsRead: number; rowsWritten: number } {
  const meta = (result as { meta?: { rows_read?: number; rows_written?: number } } | null)?.meta;
  return { rowsRead: meta?.rows_read ?? 0, rowsWritten: meta?.rows_written ?? 0 };
}

/** A prepared statement whose executions are observed `d1` calls (the SQL has no values: they are bound). */
class ObservedStatement {
  constructor(
    readonly inner: D1PreparedStatement,
    private readonly sql: string,
    private readonly store: Store,
  ) {}

  private observe<R>(call: () => Promise<R>, info: (result: R) => CallInfo = d1Info): Promise<R> {
    const verb = (VERB.exec(this.sql)?.[1] ?? "query").toUpperCase();
    return observe(this.store, verb, call, info, { "db.system.name": SYSTEM[this.store], "db.query.text": this.sql });
  }

  bind(...values: unknown[]): ObservedStatement {
    return new ObservedStatement(this.inner.bind(...values), this.sql, this.store);
  }

  first<R>(column?: string): Promise<R | null> {
    return this.observe(() => (column === undefined ? this.inner.first<R>() : this.inner.first<R>(column)));
  }

  all<R>(): Promise<D1Result<R>> {
    return this.observe(() => this.inner.all<R>());
  }

  run<R>(): Promise<D1Result<R>> {
    return this.observe(() => this.inner.run<R>());
  }

  raw<R extends unknown[]>(options?: { columnNames?: boolean }): Promise<R[]> {
    // raw() (drizzle's typed selects) returns no `meta`: the rows returned stand in for rows read
    // (a lower bound).
    return this.observe(
      () => this.inner.raw<R>(options as { columnNames: true }) as Promise<R[]>,
      (rows) => ({ rowsRead: rows.length }),
    );
  }
}

/** The relational store's dependency name in metrics and spans, and its OpenTelemetry system name. */
type Store = "d1" | "postgres";
const SYSTEM: Record<Store, string> = { d1: "cloudflare-d1", postgres: "postgresql" };

/**
 * The relational store (D1, or PostgreSQL behind its interface) with every statement and batch
 * observed (rows read and written from each result's `meta`).
 */
export function instrumentD1(db: D1Database, store: Store = "d1"): D1Database {
  const unwrap = (statements: D1PreparedStatement[]) =>
    statements.map((s) => (s instanceof ObservedStatement ? s.inner : s) as D1PreparedStatement);
  const observed = {
    /** What SQL the store speaks: services never ask; the store adapter's helpers (db/client.ts) do. */
    dialect: (db as { dialect?: string }).dialect ?? "sqlite",
    prepare: (sql: string) => new ObservedStatement(db.prepare(sql), sql, store) as unknown as D1PreparedStatement,
    batch: <T>(statements: D1PreparedStatement[]) =>
      observe(
        store,
        "BATCH",
        () => db.batch<T>(unwrap(statements)),
        (results) =>
          results.reduce(
            (sum, result) => {
              const info = d1Info(result);
              return { rowsRead: sum.rowsRead + info.rowsRead, rowsWritten: sum.rowsWritten + info.rowsWritten };
            },
            { rowsRead: 0, rowsWritten: 0 },
          ),
        { "db.system.name": SYSTEM[store], "db.operation.batch.size": statements.length },
      ),
    exec: (sql: string) => observe(store, "EXEC", () => db.exec(sql)),
    withSession: (constraint?: string) => db.withSession(constraint),
    dump: () => db.dump(),
  };
  return observed as unknown as D1Database;
}

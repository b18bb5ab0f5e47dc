/**
 * PostgreSQL behind the `D1Database` interface (DATABASE_PROVIDER=hyperdrive): drizzle's D1
 * driver and the services run on it unchanged, and every statement is translated from SQLite on
 * its way (sqlite-to-pg.ts). node-postgres (`pg`, which Hyperdrive documents for Workers) over the
 * HYPERDRIVE binding's connection string.
 *
 * One connection per instance, opened by the first statement — a request that never touches the
 * store (a warm authenticated call, a cached answer) opens none — and closed after a second with
 * nothing to do (or with the invocation, whichever comes first; a later statement opens another).
 * The composition root builds one per invocation, as Hyperdrive asks: it pools the real
 * connections at the edge, so opening one is cheap. Statements on one instance run one at a
 * time, in order; `batch` runs in one transaction, as D1's does, with nothing interleaved.
 *
 * Values come back as D1 returns them: bigint and numeric as numbers, booleans as 1/0, json and
 * jsonb as their text (drizzle's SQLite JSON columns parse it).
 */
import { Client, type QueryResult, types } from "pg";
import * as pgCloudflare from "pg-cloudflare";
import { toPostgres } from "./sqlite-to-pg";

/** Exported under the `workerd` condition only; the types the package publishes are its Node stub's. */
const { CloudflareSocket } = pgCloudflare as unknown as { CloudflareSocket: new (ssl: boolean) => unknown };

const INT8 = 20;
const NUMERIC = 1700;
const BOOL = 16;
const JSON_OID = 114;
const JSONB = 3802;

const parsers: Record<number, (value: string) => unknown> = {
  [INT8]: Number,
  [NUMERIC]: Number,
  [BOOL]: (value) => (value === "t" ? 1 : 0),
  [JSON_OID]: (value) => value,
  [JSONB]: (value) => value,
};

const typeParsers = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    parsers[oid] ?? types.getTypeParser(oid, format ?? "text")) as typeof types.getTypeParser,
};

/** How long a connection with nothing to do stays open. */
const IDLE_CLOSE_MS = 1_000;

/** Translations by SQLite text: a statement is translated once per isolate. */
const translated = new Map<string, string>();
const MAX_TRANSLATED = 2_000;

function translate(sql: string): string {
  let text = translated.get(sql);
  if (text === undefined) {
    text = toPostgres(sql);
    if (translated.size >= MAX_TRANSLATED) {
      translated.clear();
    }
    translated.set(sql, text);
  }
  return text;
}

/** D1's error shape for the failures services tell apart (a unique key already held). */
function asD1Error(error: unknown): Error {
  const e = error as { code?: string; message?: string; detail?: string; constraint?: string };
  if (e?.code === "23505") {
    return new Error(`D1_ERROR: UNIQUE constraint failed: ${e.constraint ?? ""} (${e.detail ?? e.message})`, {
      cause: error,
    });
  }
  return error instanceof Error ? error : new Error(String(error));
}

type Mode = "objects" | "arrays";

function meta(result: QueryResult, started: number): D1Meta & Record<string, unknown> {
  const changes = result.command === "SELECT" ? 0 : (result.rowCount ?? 0);
  return {
    duration: Date.now() - started,
    size_after: 0,
    rows_read: result.command === "SELECT" ? (result.rowCount ?? result.rows.length) : result.rows.length,
    rows_written: changes,
    last_row_id: 0,
    changed_db: changes > 0,
    changes,
  };
}

class PostgresStatement {
  constructor(
    private readonly db: PostgresD1,
    readonly sql: string,
    readonly values: unknown[] = [],
  ) {}

  bind(...values: unknown[]): PostgresStatement {
    return new PostgresStatement(this.db, this.sql, values);
  }

  /** Runs on `client` (inside a batch's transaction) or on the instance's connection. */
  async execute(mode: Mode, client?: Client): Promise<QueryResult> {
    const config = {
      text: translate(this.sql),
      values: this.values.map(toDriver),
      ...(mode === "arrays" ? { rowMode: "array" as const } : {}),
    };
    try {
      return await (client ? client.query(config) : this.db.query(config));
    } catch (error) {
      throw asD1Error(error);
    }
  }

  async first<T>(column?: string): Promise<T | null> {
    const row = (await this.execute("objects")).rows[0] as Record<string, unknown> | undefined;
    if (!row) {
      return null;
    }
    return (column === undefined ? row : row[column]) as T;
  }

  async all<T>(): Promise<D1Result<T>> {
    const started = Date.now();
    const result = await this.execute("objects");
    return { success: true, results: result.rows as T[], meta: meta(result, started) };
  }

  async run<T>(): Promise<D1Result<T>> {
    return this.all<T>();
  }

  async raw<T extends unknown[]>(options?: { columnNames?: boolean }): Promise<T[]> {
    const result = await this.execute("arrays");
    const rows = result.rows as T[];
    return options?.columnNames ? [result.fields.map((f) => f.name) as T, ...rows] : rows;
  }
}

/** D1 binds numbers, strings, null, booleans (as 1/0) and bytes; `pg` sends text. */
function toDriver(value: unknown): unknown {
  if (typeof value === "boolean") {
    return value ? 1 : 0;
  }
  if (value instanceof ArrayBuffer) {
    return Buffer.from(value);
  }
  return value;
}

export class PostgresD1 {
  readonly dialect = "postgresql";
  private client: Promise<Client> | undefined;
  /** The tail of the queue of work on the connection: one statement or transaction at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Work queued and not finished; the idle timer closes the connection when it reaches 0. */
  private pending = 0;
  private idle: ReturnType<typeof setTimeout> | undefined;

  /** `connectionString` undefined: the binding is missing, and every statement says so. */
  constructor(private readonly connectionString: string | undefined) {}

  private connection(): Promise<Client> {
    if (this.connectionString === undefined) {
      return Promise.reject(
        new Error("DATABASE_PROVIDER=hyperdrive but the HYPERDRIVE binding is missing (docs/database.md)"),
      );
    }
    if (!this.client) {
      // The socket named here rather than left to pg's own `require("pg-cloudflare")`, which only
      // the `workerd` export condition resolves (wrangler's bundle does; a test runner may not).
      const client = new Client({
        connectionString: this.connectionString,
        types: typeParsers,
        stream: (config: { ssl?: unknown }) => new CloudflareSocket(Boolean(config.ssl)),
      } as ConstructorParameters<typeof Client>[0]);
      const connecting: Promise<Client> = client.connect().then(
        () => client,
        (error) => {
          if (this.client === connecting) {
            this.client = undefined;
          }
          throw error;
        },
      );
      // A connection that drops between statements reports here; the next statement reconnects.
      client.on("error", () => {
        if (this.client === connecting) {
          this.client = undefined;
        }
      });
      this.client = connecting;
    }
    return this.client;
  }

  /** Runs `work` when everything queued before it has finished, alone on the connection. */
  private exclusive<T>(work: (client: Client) => Promise<T>): Promise<T> {
    clearTimeout(this.idle);
    this.pending++;
    const start = () => this.connection().then(work);
    const run = this.tail.then(start, start).finally(() => {
      if (--this.pending === 0) {
        this.idle = setTimeout(() => void this.close(), IDLE_CLOSE_MS);
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  query(config: { text: string; values: unknown[]; rowMode?: "array" }): Promise<QueryResult> {
    return this.exclusive((client) => client.query(config));
  }

  prepare(sql: string): PostgresStatement {
    return new PostgresStatement(this, sql);
  }

  /** D1's batch: every statement in one transaction, results in order; nothing else runs between. */
  batch<T>(statements: PostgresStatement[]): Promise<D1Result<T>[]> {
    return this.exclusive(async (client) => {
      await client.query("BEGIN");
      try {
        const results: D1Result<T>[] = [];
        for (const statement of statements) {
          const started = Date.now();
          const result = await statement.execute("objects", client);
          results.push({ success: true, results: result.rows as T[], meta: meta(result, started) });
        }
        await client.query("COMMIT");
        return results;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    });
  }

  /** Statements separated by `;`, without values (migrations, tests). */
  async exec(sql: string): Promise<D1ExecResult> {
    const started = Date.now();
    await this.exclusive((client) => client.query(sql));
    return { count: sql.split(";").filter((s) => s.trim()).length, duration: Date.now() - started };
  }

  withSession(): this {
    return this;
  }

  dump(): Promise<ArrayBuffer> {
    return Promise.reject(new Error("dump() is D1's; use pg_dump on PostgreSQL"));
  }

  /** Closes the connection, if one is open and nothing is queued on it. */
  async close(): Promise<void> {
    const client = this.client;
    if (!client || this.pending > 0) {
      return;
    }
    this.client = undefined;
    await (await client.catch(() => undefined))?.end().catch(() => undefined);
  }
}

/** The facade as drizzle's D1 driver and the instrumentation see it. */
export function postgresD1(
  connectionString: string | undefined,
): D1Database & { dialect: "postgresql"; close(): Promise<void> } {
  return new PostgresD1(connectionString) as unknown as D1Database & { dialect: "postgresql"; close(): Promise<void> };
}

import { env } from "cloudflare:workers";
import { postgresD1 } from "../../src/adapters/db/postgres";

const bindings = env as Env & { DATABASE_PROVIDER?: string; HYPERDRIVE?: Hyperdrive };

/** Whether this run's relational store is PostgreSQL (the `integration-postgres` project). */
export const onPostgres = bindings.DATABASE_PROVIDER === "hyperdrive";

/** The store's dependency name in metrics, spans and `/health/detailed`. */
export const STORE = onPostgres ? "postgres" : "d1";

/**
 * The relational store the Worker under test uses, for tests that read or seed it directly: the
 * D1 binding, or in the `integration-postgres` project the same PostgreSQL database behind D1's
 * interface (a statement's SQLite is translated as the Worker's are).
 */
export function testDb(): D1Database {
  if (onPostgres && bindings.HYPERDRIVE) {
    return postgresD1(bindings.HYPERDRIVE.connectionString);
  }
  return env.DB;
}

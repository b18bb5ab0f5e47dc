/**
 * The PostgreSQL store adapter (src/adapters/db/postgres.ts) where it must behave as D1 does for
 * the services to run unchanged: values as D1 returns them, a batch as one transaction, a unique
 * violation as D1's, a connection that comes back after closing idle, and a missing binding that
 * fails every statement with a clear message instead of falling back. Runs in the
 * `integration-postgres` project (the rest of the suite covers the services on it).
 */
import { describe, expect, it } from "vitest";
import { postgresD1 } from "../../src/adapters/db/postgres";
import { onPostgres, testDb } from "../support/db";

describe.runIf(onPostgres)("the PostgreSQL store behind D1's interface", () => {
  const tenant = () => `ten_pg_${crypto.randomUUID().slice(0, 8)}`;

  it("returns values as D1 does: numbers for bigint and counts, 1/0 for booleans, JSON as text", async () => {
    const db = testDb();
    const id = tenant();
    await db
      .prepare("INSERT INTO tenants (id, name, created_at) VALUES (?, 'pg', ?)")
      .bind(id, 1_796_000_000_123)
      .run();
    await db
      .prepare(
        `INSERT INTO api_keys (id, tenant_id, name, secret_hash, scopes, rate_tier, created_at)
         VALUES (?, ?, 'k', 'h', ?, 'standard', ?)`,
      )
      .bind(`key_${id}`, id, JSON.stringify(["query", "admin"]), 5)
      .run();
    const row = await db
      .prepare(
        `SELECT t.created_at, k.scopes, COUNT(*) AS n, SUM(k.created_at) AS total, k.scopes IS NOT NULL AS has
         FROM tenants t JOIN api_keys k ON k.tenant_id = t.id WHERE t.id = ? GROUP BY t.created_at, k.scopes`,
      )
      .bind(id)
      .first<Record<string, unknown>>();
    expect(row).toEqual({ created_at: 1_796_000_000_123, scopes: '["query", "admin"]', n: 1, total: 5, has: 1 });
    expect(JSON.parse(String(row?.scopes))).toEqual(["query", "admin"]);
    // raw(): arrays in column order, with the names first when asked.
    const raw = await db.prepare("SELECT id, name FROM tenants WHERE id = ?").bind(id).raw({ columnNames: true });
    expect(raw).toEqual([
      ["id", "name"],
      [id, "pg"],
    ]);
  });

  it("runs a batch as one transaction: a failing statement leaves nothing of the others", async () => {
    const db = testDb();
    const id = tenant();
    const insert = db.prepare("INSERT INTO tenants (id, name, created_at) VALUES (?, 'pg', 0)");
    await expect(db.batch([insert.bind(id), insert.bind(id)])).rejects.toThrow(/UNIQUE constraint failed/);
    expect(await db.prepare("SELECT id FROM tenants WHERE id = ?").bind(id).first()).toBeNull();
    const [first, second] = await db.batch([
      insert.bind(id),
      db.prepare("UPDATE tenants SET name = 'renamed' WHERE id = ? RETURNING name").bind(id),
    ]);
    expect(first?.meta.changes).toBe(1);
    expect(second?.results).toEqual([{ name: "renamed" }]);
  });

  it("reports a unique violation as D1 does, so services tell it apart the same way", async () => {
    const db = testDb();
    const id = tenant();
    const insert = db.prepare("INSERT INTO tenants (id, name, created_at) VALUES (?, 'pg', 0)").bind(id);
    await insert.run();
    await expect(insert.run()).rejects.toThrow(/^D1_ERROR: UNIQUE constraint failed/);
  });

  it("opens a connection again after closing it, and keeps statements in order on one", async () => {
    const db = testDb() as D1Database & { close(): Promise<void> };
    const id = tenant();
    await db.prepare("INSERT INTO tenants (id, name, created_at) VALUES (?, 'a', 0)").bind(id).run();
    await db.close();
    // Issued together: they run one after another, in the order given.
    const update = (name: string) => db.prepare("UPDATE tenants SET name = ? WHERE id = ?").bind(name, id).run();
    await Promise.all([update("b"), update("c"), update("d")]);
    expect(await db.prepare("SELECT name FROM tenants WHERE id = ?").bind(id).first("name")).toBe("d");
  });

  it("without a HYPERDRIVE binding, fails every statement saying so (never falls back to D1)", async () => {
    const db = postgresD1(undefined);
    await expect(db.prepare("SELECT 1").first()).rejects.toThrow(/HYPERDRIVE binding is missing/);
  });

  it("refuses SQLite-only SQL it does not translate, by name", async () => {
    await expect(testDb().prepare("INSERT OR IGNORE INTO tenants (id) VALUES (?)").bind("x").run()).rejects.toThrow(
      /not supported on PostgreSQL \(INSERT OR\)/i,
    );
  });
});

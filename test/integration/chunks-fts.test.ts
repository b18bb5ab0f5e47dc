import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { onPostgres, testDb } from "../support/db";

/** The FTS5 index follows the chunks table through inserts, updates and cascading deletes. */
async function seed(suffix: string) {
  const now = Date.now();
  const ids = { tenant: `ten_fts${suffix}`, collection: `col_fts${suffix}`, document: `doc_fts${suffix}` };
  await testDb().batch([
    testDb().prepare("INSERT INTO tenants (id, name, created_at) VALUES (?, 'fts', ?)").bind(ids.tenant, now),
    testDb()
      .prepare(
        "INSERT INTO collections (id, tenant_id, name, version, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)",
      )
      .bind(ids.collection, ids.tenant, `fts-${suffix}`, now, now),
    testDb()
      .prepare(
        "INSERT INTO documents (id, tenant_id, collection_id, title, mime_type, size_bytes, sha256, status, priority, created_at, updated_at) VALUES (?, ?, ?, 'Handbook', 'text/plain', 10, ?, 'ready', 'normal', ?, ?)",
      )
      .bind(ids.document, ids.tenant, ids.collection, `sha-${suffix}`, now, now),
    ...[
      ["Leave", "Employees receive twenty five days of paid leave."],
      ["Pay", "Salaries are paid monthly by bank transfer."],
    ].map(([heading, text], i) =>
      testDb()
        .prepare(
          "INSERT INTO chunks (id, tenant_id, collection_id, document_id, ordinal, title, heading, text, token_estimate, char_start, char_end) VALUES (?, ?, ?, ?, ?, 'Handbook', ?, ?, 10, 0, 10)",
        )
        .bind(`chk_${suffix}_${i}`, ids.tenant, ids.collection, ids.document, i, heading, text),
    ),
  ]);
  return ids;
}

const search = (query: string, collection: string) =>
  testDb()
    .prepare(
      "SELECT c.id, bm25(chunks_fts, 2.0, 1.5, 1.0) AS score FROM chunks_fts JOIN chunks c ON c.seq = chunks_fts.rowid WHERE chunks_fts MATCH ? AND c.collection_id = ? ORDER BY score",
    )
    .bind(query, collection)
    .all<{ id: string; score: number }>();

// SQLite's FTS5 table over D1's legacy `chunks` (the cron moves them into search shards). The
// PostgreSQL schema has no full-text table: its `chunks` only ever holds rows copied from D1 on
// their way to the shards (shards.test.ts covers that move on both stores).
describe.skipIf(onPostgres)("chunks_fts", () => {
  it("finds chunks by stemmed terms and ranks with bm25", async () => {
    const ids = await seed("a");
    const { results } = await search('"salary" OR "paying"', ids.collection);
    expect(results.map((r) => r.id)).toEqual([`chk_a_1`]);
    const leave = await search('"days"', ids.collection);
    expect(leave.results.map((r) => r.id)).toEqual([`chk_a_0`]);
  });

  it("follows updates and cascading deletes of documents and collections", async () => {
    const ids = await seed("b");
    await testDb().prepare("UPDATE chunks SET text = 'Pensions are described elsewhere.' WHERE id = 'chk_b_1'").run();
    expect((await search('"salaries"', ids.collection)).results).toEqual([]);
    expect((await search('"pension"', ids.collection)).results.map((r) => r.id)).toEqual(["chk_b_1"]);
    await testDb().prepare("DELETE FROM documents WHERE id = ?").bind(ids.document).run();
    expect((await search('"pension" OR "leave"', ids.collection)).results).toEqual([]);
    // No index entry is left pointing at a deleted chunk.
    const orphans = await testDb()
      .prepare(
        "SELECT COUNT(*) AS n FROM chunks_fts WHERE chunks_fts MATCH '\"twenty\"' AND rowid NOT IN (SELECT seq FROM chunks)",
      )
      .first<{ n: number }>();
    expect(orphans?.n).toBe(0);

    const again = await seed("c");
    await testDb().prepare("DELETE FROM collections WHERE id = ?").bind(again.collection).run();
    const left = await testDb()
      .prepare("SELECT COUNT(*) AS n FROM chunks WHERE collection_id = ?")
      .bind(again.collection)
      .first<{ n: number }>();
    expect(left?.n).toBe(0);
    expect((await search('"leave"', again.collection)).results).toEqual([]);
  });
});

/**
 * The SQLite → PostgreSQL statement translation (src/adapters/db/sqlite-to-pg.ts), rule by rule.
 * That the translated statements run on a real server is the `integration-postgres` project's
 * job (the whole integration suite on PostgreSQL); this pins each rule and its edges.
 */
import { describe, expect, it } from "vitest";
import { toPostgres } from "../../src/adapters/db/sqlite-to-pg";

describe("toPostgres", () => {
  it("numbers placeholders, keeping explicit numbers and skipping quoted text", () => {
    expect(toPostgres("SELECT * FROM t WHERE a = ? AND b = ? AND c = '?'")).toBe(
      "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = '?'",
    );
    expect(toPostgres("UPDATE t SET a = ?2 WHERE id = ?1 AND b = ?2")).toBe(
      "UPDATE t SET a = $2 WHERE id = $1 AND b = $2",
    );
    expect(toPostgres('SELECT "?" FROM t WHERE a = ?')).toBe('SELECT "?" FROM t WHERE a = $1');
  });

  it("reads a JSON list of strings as text, and of tuples as jsonb", () => {
    expect(toPostgres("SELECT id FROM t WHERE id IN (SELECT value FROM json_each(?))")).toBe(
      "SELECT id FROM t WHERE id IN (SELECT value FROM jsonb_array_elements_text(($1)::jsonb) AS json_each_1(value))",
    );
    expect(toPostgres("SELECT 1 FROM t WHERE (a, b) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))")).toBe(
      "SELECT 1 FROM t WHERE (a, b) IN (SELECT value ->> 0, value ->> 1 FROM jsonb_array_elements(($1)::jsonb) AS json_each_1(value))",
    );
  });

  it("decides per call, so a list of ids and a list of pairs mix in one statement", () => {
    const sql = toPostgres(
      "SELECT 1 FROM t WHERE a IN (SELECT value FROM json_each(?1)) AND (a, b) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?2))",
    );
    expect(sql).toContain("jsonb_array_elements_text(($1)::jsonb) AS json_each_1(value)");
    expect(sql).toContain("jsonb_array_elements(($2)::jsonb) AS json_each_2(value)");
  });

  it("keeps an alias, and reads through it", () => {
    expect(toPostgres("SELECT j.value ->> 2 FROM json_each(?2) AS j WHERE j.value ->> 0 = d.id")).toBe(
      "SELECT j.value ->> 2 FROM jsonb_array_elements(($2)::jsonb) AS j(value) WHERE j.value ->> 0 = d.id",
    );
    expect(toPostgres("SELECT c.value FROM q, json_each(q.ids) c WHERE c.value = 'x'")).toBe(
      "SELECT c.value FROM q, jsonb_array_elements_text((q.ids)::jsonb) AS c(value) WHERE c.value = 'x'",
    );
    // A keyword after the call is not an alias.
    expect(toPostgres("SELECT value FROM json_each(?) WHERE value > 'a'")).toBe(
      "SELECT value FROM jsonb_array_elements_text(($1)::jsonb) AS json_each_1(value) WHERE value > 'a'",
    );
  });

  it("translates JSON paths, array length and append", () => {
    expect(toPostgres("SELECT p -> '$.ids', p ->> '$.a.b' FROM t")).toBe("SELECT p -> 'ids', p #>> '{a,b}' FROM t");
    expect(toPostgres("SELECT json_array_length(t.d) > 0 FROM t")).toBe(
      "SELECT jsonb_array_length((t.d)::jsonb) > 0 FROM t",
    );
    expect(toPostgres("SELECT c.value FROM q, json_each(json_insert(q.p -> '$.ids', '$[#]', '*')) c")).toBe(
      "SELECT c.value FROM q, jsonb_array_elements_text((((q.p -> 'ids')::jsonb || jsonb_build_array('*')))::jsonb) AS c(value)",
    );
  });

  it("turns two-argument MAX and MIN into GREATEST and LEAST, leaving the aggregates", () => {
    expect(toPostgres("SELECT MAX(a, ?), min(b, c), MAX(d) FROM t")).toBe(
      "SELECT GREATEST(a, $1), LEAST(b, c), MAX(d) FROM t",
    );
    expect(toPostgres("UPDATE s SET v = MAX(s.v, excluded.v)")).toBe("UPDATE s SET v = GREATEST(s.v, excluded.v)");
  });

  it("names an upsert's conflict target by bare columns", () => {
    expect(
      toPostgres('insert into "s" ("a", "b") values (?, ?) on conflict ("s"."a", "s"."b") do update set "b" = ?'),
    ).toBe('insert into "s" ("a", "b") values ($1, $2) on conflict ("a", "b") do update set "b" = $3');
  });

  it("leaves function names inside quoted text alone", () => {
    expect(toPostgres("SELECT 'json_each(x)', \"max\" FROM t WHERE a = ?")).toBe(
      "SELECT 'json_each(x)', \"max\" FROM t WHERE a = $1",
    );
  });

  it("refuses SQLite-only SQL it does not translate, naming it", () => {
    for (const sql of [
      "INSERT OR IGNORE INTO t (a) VALUES (?)",
      "SELECT json_extract(p, '$.a') FROM t",
      "SELECT strftime('%s', 'now')",
      "SELECT rowid FROM t",
    ]) {
      expect(() => toPostgres(sql)).toThrow(/not supported on PostgreSQL/);
    }
    expect(() => toPostgres("SELECT json_insert(p, '$.a', 1) FROM t")).toThrow(/only appends/);
    // Inside a string literal it is text, not SQL.
    expect(toPostgres("SELECT 'insert or ignore' FROM t")).toBe("SELECT 'insert or ignore' FROM t");
  });
});

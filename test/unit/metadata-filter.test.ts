import { describe, expect, it } from "vitest";
import {
  compileFilter,
  indexedFields,
  MAX_INDEXED_FIELDS,
  type MetadataFilter,
  matchesFilter,
  parseMetadataFilter,
} from "../../src/lib/metadata-filter";
import { DocumentFilter } from "../../src/schemas/search";

const parse = (input: unknown) => {
  const result = parseMetadataFilter(input);
  if (result.problems) {
    throw new Error(JSON.stringify(result.problems));
  }
  return result.filter;
};
const problems = (input: unknown) => parseMetadataFilter(input).problems ?? [];

describe("metadata filters: parsing", () => {
  it("reads equality, operators and logic into one tree", () => {
    expect(parse({ team: "hr" })).toEqual({ field: "team", test: { op: "eq", value: "hr" } });
    expect(parse({ year: { $gte: 2020, $lt: 2025 } })).toEqual({
      and: [
        { field: "year", test: { op: "gte", value: 2020 } },
        { field: "year", test: { op: "lt", value: 2025 } },
      ],
    });
    expect(parse({ $or: [{ a: true }, { $not: { b: { $in: ["x", 1] } } }] })).toEqual({
      or: [
        { field: "a", test: { op: "eq", value: true } },
        { not: { field: "b", test: { op: "in", values: ["x", 1] } } },
      ],
    });
    expect(parse({})).toEqual({ and: [] });
  });

  it("names the path of every offending clause", () => {
    expect(problems({ year: { $gt: true } })).toEqual([
      { path: ["year", "$gt"], message: "must be a number or a string" },
    ]);
    expect(problems({ $and: [{ a: 1 }, { b: { $regex: "x" } }] })[0]?.path).toEqual(["$and", 1, "b", "$regex"]);
    expect(problems({ $nor: [] })[0]?.path).toEqual(["$nor"]);
    expect(problems({ a: null })[0]?.message).toMatch(/\$exists/);
    expect(problems({ a: [1, 2] })[0]?.message).toMatch(/\$in/);
    expect(problems({ a: { $in: [] } })[0]?.path).toEqual(["a", "$in"]);
    expect(problems({ a: { $in: [1, { b: 2 }] } })[0]?.path).toEqual(["a", "$in", 1]);
    expect(problems({ a: { $exists: "yes" } })[0]?.path).toEqual(["a", "$exists"]);
    expect(problems({ $or: {} })[0]?.path).toEqual(["$or"]);
    expect(problems({ a: {} })[0]?.path).toEqual(["a"]);
    expect(problems({ a: "x".repeat(513) })[0]?.message).toMatch(/512 bytes/);
    // Bytes, not characters: 170 Hangul syllables are 510 bytes, 171 are 513.
    expect(problems({ a: "가".repeat(170) })).toEqual([]);
    expect(problems({ a: "가".repeat(171) })[0]?.message).toMatch(/512 bytes/);
    expect(problems("team = hr")[0]).toEqual({ path: [], message: "must be an object" });
    // Two problems in two branches: both reported.
    expect(problems({ a: { $gt: null }, b: { $foo: 1 } })).toHaveLength(2);
  });

  it("refuses nesting deeper than 4 and more than 64 operators", () => {
    const nest = (depth: number): unknown => (depth === 1 ? { a: 1 } : { $not: nest(depth - 1) });
    expect(problems(nest(4))).toEqual([]);
    expect(problems(nest(5))[0]).toEqual({
      path: ["$not", "$not", "$not", "$not"],
      message: "filters nest at most 4 levels",
    });
    const wide = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, i]));
    expect(problems(wide(64))).toEqual([]);
    expect(problems(wide(65))[0]?.message).toMatch(/at most 64 operators \(this one has 65\)/);
  });

  it("is checked by the request schema with the offending path under filter.metadata", () => {
    const bad = DocumentFilter.safeParse({ metadata: { $and: [{ year: { $gt: [] } }] } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(["metadata", "$and", 0, "year", "$gt"]);
    const good = DocumentFilter.safeParse({ metadata: { year: 2024 } });
    expect(good.data?.metadata).toEqual({ field: "year", test: { op: "eq", value: 2024 } });
  });
});

describe("metadata filters: what is indexed, and the reference semantics", () => {
  it("indexes scalars and string arrays, not nested objects, nulls or over-long strings", () => {
    expect(
      indexedFields({
        a: "x",
        n: 2,
        b: false,
        tags: ["p", "q", "p"],
        nested: { x: 1 },
        none: null,
        long: "y".repeat(600),
      }),
    ).toEqual([
      { field: "a", kind: "s", value: "x" },
      { field: "n", kind: "n", value: 2 },
      { field: "b", kind: "b", value: 0 },
      { field: "tags", kind: "s", value: "p" },
      { field: "tags", kind: "s", value: "q" },
    ]);
    const many = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`f${i}`, i]));
    expect(new Set(indexedFields(many).map((v) => v.field)).size).toBe(MAX_INDEXED_FIELDS);
  });

  it("matches as MongoDB does: any array element, missing fields under $ne/$nin/$not, types apart", () => {
    const doc = { team: "hr", year: 2024, tags: ["policy", "leave"], public: true };
    const m = (f: unknown) => matchesFilter(doc, parse(f));
    expect(m({ tags: "leave" })).toBe(true);
    expect(m({ tags: { $ne: "leave" } })).toBe(false);
    expect(m({ missing: { $ne: "x" } })).toBe(true);
    expect(m({ missing: { $nin: ["x"] } })).toBe(true);
    expect(m({ missing: { $exists: false } })).toBe(true);
    expect(m({ year: "2024" })).toBe(false); // a string is not a number
    expect(m({ year: { $gt: "2000" } })).toBe(false);
    expect(m({ team: { $gte: "h", $lt: "i" } })).toBe(true);
    expect(m({ public: 1 })).toBe(false); // a boolean is not a number
    expect(m({ $or: [{ team: "it" }, { $not: { year: { $lt: 2020 } } }] })).toBe(true);
  });

  it("binds one parameter however large the filter is (Durable Object SQLite allows 100)", () => {
    const filter = parse({
      $or: Array.from({ length: 30 }, (_, i) => ({ [`f${i}`]: { $in: ["a", 1, true] } })),
    }) as MetadataFilter;
    const { sql, params } = compileFilter(filter);
    expect(new Set(sql.match(/\?\d*/g))).toEqual(new Set(["?1"]));
    expect(Array.isArray(JSON.parse(params))).toBe(true);
  });
});

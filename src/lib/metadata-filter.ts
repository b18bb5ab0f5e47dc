/**
 * Metadata filters in the Mongo/Pinecone style, as `filter.metadata` on search and query:
 * `{"field": value}`, `{"field": {"$eq"|"$ne"|"$gt"|"$gte"|"$lt"|"$lte"|"$in"|"$nin"|"$exists": …}}`,
 * combined with `$and`, `$or`, `$not`. Parsed once at the boundary into a small tree
 * (`parseMetadataFilter`, with the path of each offending clause), compiled in each search shard
 * into one SQL set of document ids over its indexed metadata (`compileFilter`), and evaluated in
 * JavaScript by `matchesFilter` — the oracle the shard's SQL is tested against.
 *
 * Semantics, as in MongoDB: a field holding an array matches when any element does; `$ne`, `$nin`
 * and `$not` match documents without the field; a comparison matches values of its operand's type
 * only (numbers with numbers, strings with strings, byte order). Only what `indexedFields` keeps is
 * filterable: strings up to MAX_VALUE_BYTES, finite numbers, booleans, arrays of those strings, on
 * at most MAX_INDEXED_FIELDS fields per document.
 */

export type Scalar = string | number | boolean;

export type FieldTest =
  | { op: "eq" | "ne"; value: Scalar }
  | { op: "gt" | "gte" | "lt" | "lte"; value: string | number }
  | { op: "in" | "nin"; values: Scalar[] }
  | { op: "exists"; value: boolean };

export type MetadataFilter =
  | { and: MetadataFilter[] }
  | { or: MetadataFilter[] }
  | { not: MetadataFilter }
  | { field: string; test: FieldTest };

/** Nesting of `$and`/`$or`/`$not` at most (the top level is 1). */
export const MAX_DEPTH = 4;
/** Operators in one filter at most (each field test and each `$and`/`$or`/`$not`). */
export const MAX_CLAUSES = 64;
/** Values of one `$in`/`$nin` at most. */
export const MAX_IN_VALUES = 100;
/** A string value is compared whole, up to this many UTF-8 bytes (longer ones are not indexed). */
export const MAX_VALUE_BYTES = 512;
/** Fields of one document indexed for filtering at most (in the order the metadata lists them). */
export const MAX_INDEXED_FIELDS = 64;
/** A field name's length at most (as metadata keys). */
export const MAX_FIELD_LENGTH = 64;

export interface FilterProblem {
  path: Array<string | number>;
  message: string;
}

const COMPARISONS = new Set(["$gt", "$gte", "$lt", "$lte"]);
const OPERATORS = new Set(["$eq", "$ne", "$in", "$nin", "$exists", ...COMPARISONS]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const encoder = new TextEncoder();

/**
 * The filter tree, or the problems with the path of each offending clause (relative to the
 * filter). A problem stops the walk of its branch only, so one answer lists what to fix.
 */
export function parseMetadataFilter(
  input: unknown,
): { filter: MetadataFilter; problems?: undefined } | { filter?: undefined; problems: FilterProblem[] } {
  const problems: FilterProblem[] = [];
  let clauses = 0;
  const problem = (path: Array<string | number>, message: string) => {
    problems.push({ path, message });
    return undefined;
  };

  const scalar = (value: unknown, path: Array<string | number>): Scalar | undefined => {
    if (typeof value === "string") {
      return encoder.encode(value).length > MAX_VALUE_BYTES
        ? problem(path, `a value is at most ${MAX_VALUE_BYTES} bytes`)
        : value;
    }
    if (typeof value === "number") {
      return Number.isFinite(value) ? value : problem(path, "must be a finite number");
    }
    if (typeof value === "boolean") {
      return value;
    }
    if (value === null) {
      return problem(path, 'null is not a metadata value; use {"$exists": false} for a missing field');
    }
    return problem(path, "must be a string, number or boolean");
  };

  const fieldTest = (op: string, operand: unknown, path: Array<string | number>): FieldTest | undefined => {
    if (op === "$exists") {
      return typeof operand === "boolean" ? { op: "exists", value: operand } : problem(path, "must be true or false");
    }
    if (op === "$in" || op === "$nin") {
      if (!Array.isArray(operand) || operand.length === 0 || operand.length > MAX_IN_VALUES) {
        return problem(path, `must be an array of 1 to ${MAX_IN_VALUES} values`);
      }
      const values = operand.map((v, i) => scalar(v, [...path, i]));
      return values.every((v) => v !== undefined)
        ? { op: op === "$in" ? "in" : "nin", values: values as Scalar[] }
        : undefined;
    }
    if (COMPARISONS.has(op)) {
      if (typeof operand !== "number" && typeof operand !== "string") {
        return problem(path, "must be a number or a string");
      }
      const value = scalar(operand, path);
      return value === undefined
        ? undefined
        : { op: op.slice(1) as "gt" | "gte" | "lt" | "lte", value: value as string | number };
    }
    const value = scalar(operand, path);
    return value === undefined ? undefined : { op: op === "$ne" ? "ne" : "eq", value };
  };

  const field = (name: string, value: unknown, path: Array<string | number>): MetadataFilter | undefined => {
    if (name.length > MAX_FIELD_LENGTH) {
      return problem(path, `a field name is at most ${MAX_FIELD_LENGTH} characters`);
    }
    if (Array.isArray(value)) {
      return problem(path, 'to match any of several values use {"$in": [...]}');
    }
    if (!isObject(value)) {
      clauses++;
      const test = fieldTest("$eq", value, path);
      return test ? { field: name, test } : undefined;
    }
    const ops = Object.entries(value);
    if (ops.length === 0) {
      return problem(path, "must name at least one operator");
    }
    const tests: MetadataFilter[] = [];
    for (const [op, operand] of ops) {
      if (!OPERATORS.has(op)) {
        problem([...path, op], `unknown operator; use one of ${[...OPERATORS].join(", ")}`);
        continue;
      }
      clauses++;
      const test = fieldTest(op, operand, [...path, op]);
      if (test) {
        tests.push({ field: name, test });
      }
    }
    return tests.length === 1 ? tests[0] : { and: tests };
  };

  const node = (input: unknown, path: Array<string | number>, depth: number): MetadataFilter | undefined => {
    if (!isObject(input)) {
      return problem(path, "must be an object");
    }
    if (depth > MAX_DEPTH) {
      return problem(path, `filters nest at most ${MAX_DEPTH} levels`);
    }
    const parts: MetadataFilter[] = [];
    for (const [key, value] of Object.entries(input)) {
      const at = [...path, key];
      let part: MetadataFilter | undefined;
      if (key === "$and" || key === "$or") {
        clauses++;
        if (!Array.isArray(value) || value.length === 0) {
          problem(at, "must be a non-empty array of filters");
          continue;
        }
        const children = value.map((child, i) => node(child, [...at, i], depth + 1));
        if (children.every((c) => c !== undefined)) {
          part = key === "$and" ? { and: children as MetadataFilter[] } : { or: children as MetadataFilter[] };
        }
      } else if (key === "$not") {
        clauses++;
        const child = node(value, at, depth + 1);
        part = child ? { not: child } : undefined;
      } else if (key.startsWith("$")) {
        problem(at, "unknown operator; use $and, $or or $not here, or a field name");
      } else if (key.length === 0) {
        problem(at, "a field name must not be empty");
      } else {
        part = field(key, value, at);
      }
      if (part) {
        parts.push(part);
      }
    }
    return parts.length === 1 ? parts[0] : { and: parts };
  };

  const filter = node(input, [], 1);
  if (clauses > MAX_CLAUSES) {
    problems.push({ path: [], message: `a filter has at most ${MAX_CLAUSES} operators (this one has ${clauses})` });
  }
  return problems.length > 0 || !filter ? { problems } : { filter };
}

// ---- Indexing ---------------------------------------------------------------------------------

/** A metadata value as a shard indexes it: `s` string, `n` number, `b` boolean (1 or 0). */
export type ValueKind = "s" | "n" | "b";

export interface IndexedValue {
  field: string;
  kind: ValueKind;
  value: string | number;
}

function indexed(value: unknown): { kind: ValueKind; value: string | number } | undefined {
  if (typeof value === "string") {
    return encoder.encode(value).length <= MAX_VALUE_BYTES ? { kind: "s", value } : undefined;
  }
  if (typeof value === "number") {
    return Number.isFinite(value) ? { kind: "n", value } : undefined;
  }
  if (typeof value === "boolean") {
    return { kind: "b", value: value ? 1 : 0 };
  }
  return undefined;
}

/**
 * The values a shard indexes for a document's metadata: each scalar field, and each element of an
 * array field; nested objects, nulls and over-long strings are kept with the document but are not
 * filterable. At most MAX_INDEXED_FIELDS fields.
 */
export function indexedFields(metadata: Record<string, unknown> | null | undefined): IndexedValue[] {
  const out: IndexedValue[] = [];
  let fields = 0;
  for (const [field, raw] of Object.entries(metadata ?? {})) {
    if (field.length === 0 || field.length > MAX_FIELD_LENGTH || field.startsWith("$")) {
      continue;
    }
    const values = (Array.isArray(raw) ? raw : [raw]).map(indexed).filter((v) => v !== undefined);
    if (values.length === 0) {
      continue;
    }
    if (++fields > MAX_INDEXED_FIELDS) {
      break;
    }
    const seen = new Set<string>();
    for (const v of values) {
      const key = `${v.kind}:${v.value}`;
      if (!seen.has(key)) {
        seen.add(key);
        out.push({ field, ...v });
      }
    }
  }
  return out;
}

// ---- Evaluation -------------------------------------------------------------------------------

function kindOf(value: Scalar): ValueKind {
  return typeof value === "string" ? "s" : typeof value === "number" ? "n" : "b";
}

function sqlValue(value: Scalar): string | number {
  return typeof value === "boolean" ? (value ? 1 : 0) : value;
}

function compare(op: "gt" | "gte" | "lt" | "lte", a: string | number, b: string | number): boolean {
  switch (op) {
    case "gt":
      return a > b;
    case "gte":
      return a >= b;
    case "lt":
      return a < b;
    default:
      return a <= b;
  }
}

/**
 * Whether a document's metadata matches, by the values `indexedFields` keeps: the reference the
 * shards' SQL is tested against.
 */
export function matchesFilter(metadata: Record<string, unknown> | null | undefined, filter: MetadataFilter): boolean {
  return matchesIndexed(indexedFields(metadata), filter);
}

export function matchesIndexed(values: IndexedValue[], filter: MetadataFilter): boolean {
  if ("and" in filter) {
    return filter.and.every((f) => matchesIndexed(values, f));
  }
  if ("or" in filter) {
    return filter.or.some((f) => matchesIndexed(values, f));
  }
  if ("not" in filter) {
    return !matchesIndexed(values, filter.not);
  }
  const own = values.filter((v) => v.field === filter.field);
  const test = filter.test;
  const equals = (x: Scalar) => own.some((v) => v.kind === kindOf(x) && v.value === sqlValue(x));
  switch (test.op) {
    case "exists":
      return own.length > 0 === test.value;
    case "eq":
      return equals(test.value);
    case "ne":
      return !equals(test.value);
    case "in":
      return test.values.some(equals);
    case "nin":
      return !test.values.some(equals);
    default: {
      const kind = kindOf(test.value);
      // SQLite compares TEXT by its bytes (BINARY collation): UTF-8 order, as Buffer.compare.
      return own.some((v) =>
        v.kind !== kind
          ? false
          : kind === "s"
            ? compare(test.op as "gt", utf8Order(v.value as string, test.value as string), 0)
            : compare(test.op as "gt", v.value, test.value),
      );
    }
  }
}

/** -1, 0 or 1: `a` against `b` in UTF-8 byte order (which UTF-16 code unit order is not, past U+FFFF). */
function utf8Order(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) {
      return (x[i] as number) < (y[i] as number) ? -1 : 1;
    }
  }
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
}

// ---- SQL --------------------------------------------------------------------------------------

/**
 * The filter as one SQL query selecting `document_id` over a shard's `doc_fields` (field, kind,
 * value per indexed value) and `shard_docs` (every document, for `$ne`, `$nin`, `$not` and
 * missing fields). Every value travels in one JSON parameter (`?1`, read with `json_extract`,
 * constant per statement), so a filter of 64 clauses binds 1 parameter, not hundreds: Durable
 * Object SQLite allows 100. Each leaf is an index range on `doc_fields (field, kind, value)`.
 */
export function compileFilter(filter: MetadataFilter): { sql: string; params: string } {
  const values: Array<string | number> = [];
  const param = (value: string | number) => {
    values.push(value);
    return `json_extract(?1, '$[${values.length - 1}]')`;
  };
  const all = "SELECT document_id FROM shard_docs";
  const wrap = (sql: string) => `SELECT document_id FROM (${sql})`;
  const leaf = (field: string, condition: string) =>
    `SELECT document_id FROM doc_fields WHERE field = ${param(field)} AND ${condition}`;
  const anyOf = (field: string, list: Scalar[]) => {
    const byKind = new Map<ValueKind, Array<string | number>>();
    for (const v of list) {
      byKind.set(kindOf(v), [...(byKind.get(kindOf(v)) ?? []), sqlValue(v)]);
    }
    return [...byKind]
      .map(([kind, vs]) =>
        wrap(
          leaf(
            field,
            `kind = '${kind}' AND value IN (SELECT value FROM json_each(json_extract(?1, '$[${values.push(vs as unknown as string) - 1}]')))`,
          ),
        ),
      )
      .join(" UNION ");
  };
  const set = (f: MetadataFilter): string => {
    if ("and" in f) {
      return f.and.length === 0 ? all : f.and.map((c) => wrap(set(c))).join(" INTERSECT ");
    }
    if ("or" in f) {
      return f.or.map((c) => wrap(set(c))).join(" UNION ");
    }
    if ("not" in f) {
      return `${all} EXCEPT ${wrap(set(f.not))}`;
    }
    const t = f.test;
    switch (t.op) {
      case "exists":
        return t.value ? leaf(f.field, "1") : `${all} EXCEPT ${wrap(leaf(f.field, "1"))}`;
      case "eq":
        return leaf(f.field, `kind = '${kindOf(t.value)}' AND value = ${param(sqlValue(t.value))}`);
      case "ne":
        return `${all} EXCEPT ${wrap(leaf(f.field, `kind = '${kindOf(t.value)}' AND value = ${param(sqlValue(t.value))}`))}`;
      case "in":
        return anyOf(f.field, t.values);
      case "nin":
        return `${all} EXCEPT ${wrap(anyOf(f.field, t.values))}`;
      default: {
        const sign = { gt: ">", gte: ">=", lt: "<", lte: "<=" }[t.op];
        return leaf(f.field, `kind = '${kindOf(t.value)}' AND value ${sign} ${param(t.value)}`);
      }
    }
  };
  const sql = set(filter);
  return { sql, params: JSON.stringify(values) };
}

/** The tree as an expression again (`$and`, `$or`, `$not`, `{field: {$op: value}}`): what parses to it. */
export function toExpression(filter: MetadataFilter): Record<string, unknown> {
  if ("and" in filter) {
    return filter.and.length === 0 ? {} : { $and: filter.and.map(toExpression) };
  }
  if ("or" in filter) {
    return { $or: filter.or.map(toExpression) };
  }
  if ("not" in filter) {
    return { $not: toExpression(filter.not) };
  }
  const t = filter.test;
  return { [filter.field]: { [`$${t.op}`]: "values" in t ? t.values : t.value } };
}

/** A filter's canonical text, for cache keys: the same filter, the same text. */
export function filterKey(filter: MetadataFilter | undefined): string | null {
  return filter === undefined ? null : JSON.stringify(filter);
}

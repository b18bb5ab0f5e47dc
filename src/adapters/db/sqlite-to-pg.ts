/**
 * The SQLite statements the services write (drizzle's SQLite dialect and a few hand-written
 * ones), as PostgreSQL: the one place the two dialects' differences live. Services write
 * SQLite; on DATABASE_PROVIDER=hyperdrive every statement passes through `toPostgres` on its way
 * to the server (cached per text, so a statement is translated once per isolate).
 *
 * What it rewrites, outside string literals and quoted identifiers:
 * - placeholders: `?` and `?NNN` → `$N`;
 * - `json_each(x) [AS] a` → `jsonb_array_elements(x::jsonb) AS a(value)`, or the `_text` form when
 *   the statement never reads `a.value ->`/`value ->` (so `id IN (SELECT value …)` compares text);
 * - `json_array_length(x)` → `jsonb_array_length(x::jsonb)`;
 * - `json_insert(x, '$[#]', y)` (append) → `(x::jsonb || jsonb_build_array(y))`;
 * - JSON paths `-> '$.a'` / `->> '$.a.b'` → `-> 'a'` / `#>> '{a,b}'`;
 * - two-argument `MAX(a, b)` / `MIN(a, b)` → `GREATEST` / `LEAST`;
 * - `ON CONFLICT ("t"."a", "t"."b")` (drizzle's SQLite upsert target) → `ON CONFLICT ("a", "b")`.
 * Anything else SQLite-only that it meets (`INSERT OR …`, `json_extract`, `strftime`, …) is an
 * error naming it, so an unsupported statement fails in the suite, never silently in production.
 */

const UNSUPPORTED =
  /\b(insert\s+or|replace\s+into|json_extract|json_set|json_object|json_group_array|strftime|julianday|unixepoch|datetime|glob|ifnull|iif|group_concat|rowid|last_insert_rowid|changes\s*\()\b/i;

/** Splits `sql` into code and quoted runs (`'…'`, `"…"`); only code is rewritten. */
function segments(sql: string): Array<{ code: boolean; text: string }> {
  const out: Array<{ code: boolean; text: string }> = [];
  let i = 0;
  let start = 0;
  while (i < sql.length) {
    const ch = sql[i];
    if (ch === "'" || ch === '"') {
      if (i > start) {
        out.push({ code: true, text: sql.slice(start, i) });
      }
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === ch) {
          if (sql[j + 1] === ch) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      out.push({ code: false, text: sql.slice(i, j + 1) });
      i = j + 1;
      start = i;
    } else {
      i++;
    }
  }
  if (start < sql.length) {
    out.push({ code: true, text: sql.slice(start) });
  }
  return out;
}

/** Placeholders to `$N`: `?NNN` keeps its number; a bare `?` takes the next after the largest so far. */
function placeholders(sql: string): string {
  let largest = 0;
  return segments(sql)
    .map(({ code, text }) =>
      code
        ? text.replace(/\?(\d*)/g, (_, digits: string) => {
            const n = digits ? Number(digits) : largest + 1;
            largest = Math.max(largest, n);
            return `$${n}`;
          })
        : text,
    )
    .join("");
}

/** The index just past the parenthesis that closes the one at `open`, skipping quoted runs. */
function closing(sql: string, open: number): number {
  let depth = 0;
  for (let i = open; i < sql.length; i++) {
    const ch = sql[i];
    if (ch === "'" || ch === '"') {
      i = sql.indexOf(ch, i + 1);
      if (i < 0) {
        break;
      }
      continue;
    }
    if (ch === "(") {
      depth++;
    } else if (ch === ")" && --depth === 0) {
      return i + 1;
    }
  }
  throw new Error(`unbalanced parentheses in SQL: ${sql}`);
}

/** Top-level comma-separated arguments of the call whose `(` is at `open`. */
function args(sql: string, open: number, end: number): string[] {
  const out: string[] = [];
  let depth = 0;
  let from = open + 1;
  for (let i = open + 1; i < end - 1; i++) {
    const ch = sql[i];
    if (ch === "'" || ch === '"') {
      i = sql.indexOf(ch, i + 1);
      continue;
    }
    if (ch === "(") {
      depth++;
    } else if (ch === ")") {
      depth--;
    } else if (ch === "," && depth === 0) {
      out.push(sql.slice(from, i).trim());
      from = i + 1;
    }
  }
  out.push(sql.slice(from, end - 1).trim());
  return out;
}

/**
 * Every call of `name(…)` in code (innermost first, since arguments are rewritten before their
 * call), replaced by what `rewrite` returns for its arguments and the text after it; `rewrite`
 * answers the replacement and how much of the following text it consumed.
 */
function calls(
  sql: string,
  name: string,
  rewrite: (args: string[], rest: string, before: string) => { text: string; consumed?: number } | undefined,
): string {
  const pattern = new RegExp(`\\b${name}\\s*\\(`, "gi");
  let out = sql;
  let from = 0;
  for (;;) {
    pattern.lastIndex = from;
    let match: RegExpExecArray | null = pattern.exec(out);
    // Skip matches inside quoted runs.
    while (match && insideQuotes(out, match.index)) {
      match = pattern.exec(out);
    }
    if (!match) {
      return out;
    }
    const open = match.index + match[0].length - 1;
    const end = closing(out, open);
    const inner = args(out, open, end).map((arg) => calls(arg, name, rewrite));
    const replaced = rewrite(inner, out.slice(end), out.slice(0, match.index));
    if (!replaced) {
      from = end;
      continue;
    }
    out = out.slice(0, match.index) + replaced.text + out.slice(end + (replaced.consumed ?? 0));
    from = match.index + replaced.text.length;
  }
}

function insideQuotes(sql: string, at: number): boolean {
  let quote: string | undefined;
  for (let i = 0; i < at; i++) {
    const ch = sql[i];
    if (quote) {
      if (ch === quote) {
        quote = undefined;
      }
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    }
  }
  return quote !== undefined;
}

const NOT_AN_ALIAS = new Set([
  "where",
  "on",
  "order",
  "group",
  "limit",
  "join",
  "left",
  "inner",
  "cross",
  "union",
  "having",
  "and",
  "or",
  "returning",
  "window",
]);

function jsonEach(sql: string): string {
  let unnamed = 0;
  return calls(sql, "json_each", ([source = ""], rest, before) => {
    const alias = /^\s+(?:as\s+)?([a-z_][a-z0-9_]*)/i.exec(rest);
    const named = alias?.[1] && !NOT_AN_ALIAS.has(alias[1].toLowerCase()) ? alias[1] : undefined;
    const name = named ?? `json_each_${++unnamed}`;
    // `a.value ->` anywhere in the statement, or a bare `value ->` in the SELECT that reads this
    // call: the elements stay jsonb; otherwise they are text (SQLite's `value` of a string array).
    const select = before.slice(before.toLowerCase().lastIndexOf("select"));
    const readsJson = named
      ? new RegExp(`\\b${named}\\.value\\s*->`, "i").test(sql)
      : /(^|[^.\w])value\s*->/i.test(select);
    const fn = readsJson ? "jsonb_array_elements" : "jsonb_array_elements_text";
    return { text: `${fn}((${source})::jsonb) AS ${name}(value)`, consumed: named ? (alias?.[0].length ?? 0) : 0 };
  });
}

/** `-> '$.a'` → `-> 'a'`; `->> '$.a.b'` → `#>> '{a,b}'` (operates on the whole statement). */
function paths(sql: string): string {
  return sql.replace(/(->>?)\s*'\$\.([a-z0-9_.]+)'/gi, (_, op: string, path: string) => {
    const parts = path.split(".");
    return parts.length === 1 ? `${op} '${path}'` : `${op === "->" ? "#>" : "#>>"} '{${parts.join(",")}}'`;
  });
}

/** One SQLite statement as PostgreSQL (see the module's comment for what changes). */
export function toPostgres(sql: string): string {
  const code = segments(sql)
    .filter((s) => s.code)
    .map((s) => s.text)
    .join(" ");
  const unsupported = UNSUPPORTED.exec(code);
  if (unsupported) {
    throw new Error(`SQL not supported on PostgreSQL (${unsupported[1]}): ${sql}`);
  }
  let out = paths(sql).replace(/\bon\s+conflict\s*\(([^)]*)\)/gi, (target: string) => target.replace(/"[^"]+"\./g, ""));
  out = calls(out, "json_insert", ([target, path, value]) => {
    if (path !== "'$[#]'") {
      throw new Error(`json_insert only appends ('$[#]') on PostgreSQL: ${sql}`);
    }
    return { text: `((${target})::jsonb || jsonb_build_array(${value}))` };
  });
  out = calls(out, "json_array_length", ([target]) => ({ text: `jsonb_array_length((${target})::jsonb)` }));
  out = jsonEach(out);
  for (const [from, to] of [
    ["max", "GREATEST"],
    ["min", "LEAST"],
  ] as const) {
    out = calls(out, from, (list) => (list.length === 2 ? { text: `${to}(${list.join(", ")})` } : undefined));
  }
  return placeholders(out);
}

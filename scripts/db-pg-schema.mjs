#!/usr/bin/env node
// `npm run db:pg-schema`: src/adapters/db/schema.pg.ts, the PostgreSQL dialect of the relational
// schema, generated from the SQLite one (src/adapters/db/schema.ts, the single source of truth) so
// the two cannot drift: sqliteTable → pgTable, integer → bigint (epoch milliseconds outgrow int4),
// an autoincrement key → bigserial, JSON text → jsonb, boolean integers → boolean. Comments, types,
// keys, indexes (partial ones included) and references carry over as written.
// `--check` (CI) fails when the committed file is not what the current schema generates;
// test/unit/db-dialects.test.ts compares the two table by table.
import { readFileSync } from "node:fs";
import path from "node:path";
import { writeOrCheck } from "./lib/generated.mjs";

const root = path.resolve(import.meta.dirname, "..");
const source = path.join(root, "src/adapters/db/schema.ts");
const target = path.join(root, "src/adapters/db/schema.pg.ts");

let text = readFileSync(source, "utf8");
const rules = [
  // The file's own header comment is replaced below.
  [/^\/\*\*[\s\S]*?\*\/\n/, ""],
  [/sqliteTable\(/g, "pgTable("],
  [/integer\("(\w+)"\)\.primaryKey\(\{ autoIncrement: true \}\)/g, 'bigserial("$1", { mode: "number" }).primaryKey()'],
  [/integer\("(\w+)", \{ mode: "boolean" \}\)/g, 'boolean("$1")'],
  [/integer\("(\w+)"\)/g, 'bigint("$1", { mode: "number" })'],
  [/text\("(\w+)", \{ mode: "json" \}\)/g, 'jsonb("$1")'],
];
for (const [pattern, replacement] of rules) {
  text = text.replace(pattern, replacement);
}
const leftover = /\b(integer|sqliteTable|blob|real)\(|mode: "(json|timestamp|timestamp_ms|boolean)"/.exec(text);
if (leftover) {
  throw new Error(`schema.ts uses ${leftover[0]}, which this generator does not translate yet: add a rule`);
}
const builders = ["bigint", "bigserial", "boolean", "index", "jsonb", "pgTable", "primaryKey", "text", "uniqueIndex"];
const used = builders.filter((name) => new RegExp(`\\b${name}\\(`).test(text));
text = text.replace(
  /import \{[^}]*\} from "drizzle-orm\/sqlite-core";/,
  `import { ${used.join(", ")} } from "drizzle-orm/pg-core";`,
);
const header = `/**
 * The PostgreSQL dialect of the relational schema (DATABASE_PROVIDER=hyperdrive), generated from
 * schema.ts by \`npm run db:pg-schema\`: do not edit; change schema.ts and regenerate. Migrations for
 * it are in migrations-pg/ (\`npm run db:generate\`). Times are epoch milliseconds in bigint columns.
 */
`;
const generated = header + text;

writeOrCheck(target, generated, "npm run db:pg-schema");

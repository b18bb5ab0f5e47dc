// Generated files that are committed (the SDK's types, the PostgreSQL schema): written by their
// command, and checked by it in CI with `--check`, which fails when the file is stale.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..", "..");

/** Writes `content` to `file`, or with `--check` exits 1 when the file differs; `command` regenerates it. */
export function writeOrCheck(file, content, command) {
  const name = path.relative(root, file);
  if (!process.argv.includes("--check")) {
    writeFileSync(file, content);
    console.log(`wrote ${name}`);
    return;
  }
  let current = "";
  try {
    current = readFileSync(file, "utf8");
  } catch {}
  if (current !== content) {
    console.error(`${name} is stale: run \`${command}\` and commit it.`);
    process.exit(1);
  }
  console.log(`${name} is current`);
}

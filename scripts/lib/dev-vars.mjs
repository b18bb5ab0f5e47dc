// The settings `npm run dev` runs with: .dev.vars.example, overridden by .dev.vars when it exists.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..", "..");

/** A setting's value as `npm run dev` sees it (.dev.vars wins), or undefined. */
export function devVar(name) {
  let value;
  for (const file of [".dev.vars.example", ".dev.vars"]) {
    const full = path.join(root, file);
    if (existsSync(full)) {
      value = new RegExp(`^${name}=(.+)$`, "m").exec(readFileSync(full, "utf8"))?.[1]?.trim() ?? value;
    }
  }
  return value;
}

#!/usr/bin/env node
// `npm run lint:openapi`: serves the built Worker, takes the OpenAPI document it serves (the one
// clients and SDK generators read, generated from the zod schemas) and lints it with Redocly's
// recommended rules (redocly.yaml). Fails on any error or warning; deliberate exceptions are listed,
// with why, in .redocly.lint-ignore.yaml.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { servedOpenApi } from "./lib/serve.mjs";

const root = path.resolve(import.meta.dirname, "..");
const document = await servedOpenApi();
const dir = path.join(root, ".wrangler", "openapi");
mkdirSync(dir, { recursive: true });
const file = path.join(dir, "openapi.json");
writeFileSync(file, JSON.stringify(JSON.parse(document), null, 2));
const lint = spawnSync(
  "redocly",
  ["lint", file, "--config", path.join(root, "redocly.yaml"), "--max-problems", "200", "--format", "stylish"],
  {
    encoding: "utf8",
    // Offline machines: no telemetry, no update check.
    env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
  },
);
process.stdout.write(lint.stdout ?? "");
process.stderr.write(lint.stderr ?? "");
// Redocly exits 0 on warnings; a warning here is a defect of the document all the same.
const warnings = `${lint.stdout}${lint.stderr}`.split("\n").filter((line) => /^\s+\d+:\d+\s+warning\s/.test(line));
if (lint.status === 0 && warnings.length > 0) {
  console.error(
    `lint:openapi: ${warnings.length} warning(s); fix them or list them in .redocly.lint-ignore.yaml with why.`,
  );
  process.exit(1);
}
process.exit(lint.status ?? 1);

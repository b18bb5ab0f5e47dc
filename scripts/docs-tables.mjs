#!/usr/bin/env node
// `npm run docs:tables` writes the tables of docs/ that mirror code, between
// `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`; `npm run docs:check` (CI) fails when
// one is stale. Their source is the built Worker itself: the routes from /openapi.json (method,
// path, the scopes its guard admits, summary) and the error codes from /docs/errors as JSON.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildWorker, serveWorker } from "./lib/serve.mjs";

const root = path.resolve(import.meta.dirname, "..");
const check = process.argv.includes("--check");

const cell = (text) => String(text).replaceAll("|", "\\|").replaceAll("\n", " ");

function routesTable(spec) {
  const rows = [];
  for (const [route, operations] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const auth = (op.security ?? [])
        .map((requirement) => {
          const [[scheme, roles] = []] = Object.entries(requirement);
          if (scheme === undefined) {
            return "";
          }
          if (scheme === "operator") {
            return "operator token";
          }
          return roles.length > 0 ? `key: ${roles.join(" or ")}` : "key";
        })
        .filter(Boolean);
      if ((op.security ?? []).some((r) => Object.keys(r).length === 0)) {
        auth.push("or a ticket");
      }
      rows.push(
        `| \`${method.toUpperCase()} ${route}\` | ${auth.length > 0 ? auth.join(", ") : "—"} | ${cell(op.summary ?? "")} |`,
      );
    }
  }
  return ["| Route | Auth | What it does |", "|---|---|---|", ...rows].join("\n");
}

function errorsTable(catalogue) {
  const rows = catalogue.items.map((e) => `| \`${e.code}\` | ${e.status} | ${cell(e.meaning)} | ${cell(e.action)} |`);
  return ["| Code | Status | What it means | What to do |", "|---|---|---|---|", ...rows].join("\n");
}

const { url, mf } = await serveWorker({ scriptPath: buildWorker() });
const stale = [];
try {
  const spec = await (await fetch(`${url}/openapi.json`)).json();
  const catalogue = await (await fetch(`${url}/docs/errors`, { headers: { accept: "application/json" } })).json();
  const tables = { routes: routesTable(spec), errors: errorsTable(catalogue) };
  const file = path.join(root, "docs", "api.md");
  const text = readFileSync(file, "utf8");
  let next = text;
  for (const [name, table] of Object.entries(tables)) {
    const pattern = new RegExp(`(<!-- generated:${name} -->)[\\s\\S]*?(<!-- /generated:${name} -->)`);
    if (!pattern.test(next)) {
      throw new Error(`docs/api.md has no <!-- generated:${name} --> … <!-- /generated:${name} --> block`);
    }
    next = next.replace(pattern, (_, open, close) => `${open}\n${table}\n${close}`);
    if (!text.includes(`<!-- generated:${name} -->\n${table}\n<!-- /generated:${name} -->`)) {
      stale.push(name);
    }
  }
  if (check) {
    if (stale.length > 0) {
      console.error(
        `docs: the ${stale.join(" and ")} table of docs/api.md no longer matches the code; run npm run docs:tables`,
      );
      process.exitCode = 1;
    } else {
      console.log("docs: generated tables match the code");
    }
  } else {
    writeFileSync(file, next);
    console.log(stale.length > 0 ? `docs: rewrote ${stale.join(", ")} in docs/api.md` : "docs: tables already current");
  }
} finally {
  await mf.dispose();
}

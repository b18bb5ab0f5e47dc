#!/usr/bin/env node
// `npm run dev [-- wrangler dev flags]`: applies local D1 migrations, then serves the Worker on
// http://localhost:8787 with local D1 and Durable Objects. Settings come from .dev.vars.example,
// overridden by .dev.vars when you create one; no account and no file of your own are needed.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local"], { stdio: "inherit" });
if (migrate.status !== 0) {
  process.exit(migrate.status ?? 1);
}
const envFiles = [".dev.vars.example", ".dev.vars"].filter((f) => existsSync(f)).flatMap((f) => ["--env-file", f]);
const dev = spawn("wrangler", ["dev", ...envFiles, ...process.argv.slice(2)], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => dev.kill(signal));
}
dev.on("exit", (code) => process.exit(code ?? 0));

#!/usr/bin/env node
// Points Miniflare's Browser Rendering at Debian's Chromium, offline. Miniflare launches the Chrome
// it downloads into the wrangler cache (`<cache>/.wrangler/chrome/linux-<version>/chrome-linux64/
// chrome`); here the download fails, so this puts a wrapper there that execs /usr/bin/chromium
// (with --no-sandbox, needed as root), plus the install-complete marker without which Miniflare
// would delete it. The version is read from each installed miniflare package, never hard-coded.
// Nothing is downloaded and no browser is committed.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!existsSync(chromium)) {
  console.error(`setup:browser: ${chromium} is missing; run: sudo npm run setup:local -- chromium`);
  process.exit(1);
}

/** Every miniflare package under node_modules, nested ones included (the vitest plugin has its own). */
function miniflares(modules = path.join(root, "node_modules"), depth = 0) {
  if (!existsSync(modules) || depth > 3) {
    return [];
  }
  const found = [];
  for (const name of readdirSync(modules)) {
    const packages = name.startsWith("@")
      ? readdirSync(path.join(modules, name)).map((n) => path.join(modules, name, n))
      : [path.join(modules, name)];
    for (const pkg of packages) {
      if (path.basename(pkg) === "miniflare" && existsSync(path.join(pkg, "dist", "src", "index.js"))) {
        found.push(pkg);
      }
      found.push(...miniflares(path.join(pkg, "node_modules"), depth + 1));
    }
  }
  return found;
}

const versions = new Set();
for (const dir of miniflares()) {
  const match = /BROWSER_VERSION = "([\d.]+)"/.exec(readFileSync(path.join(dir, "dist", "src", "index.js"), "utf8"));
  if (match) {
    versions.add(match[1]);
  }
}
if (versions.size === 0) {
  console.error("setup:browser: no miniflare with Browser Rendering found under node_modules (run npm install)");
  process.exit(1);
}
const cache = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), ".wrangler", "chrome");
for (const version of versions) {
  const installDir = path.join(cache, `linux-${version}`);
  const bin = path.join(installDir, "chrome-linux64");
  mkdirSync(bin, { recursive: true });
  writeFileSync(path.join(bin, "chrome"), `#!/bin/sh\nexec ${chromium} --no-sandbox "$@"\n`);
  chmodSync(path.join(bin, "chrome"), 0o755);
  writeFileSync(path.join(installDir, ".miniflare-install-complete"), "");
  console.log(`setup:browser: Chrome ${version} for Miniflare → ${chromium} (${installDir})`);
}

// The Debian programs and packages a command needs, installed with the project's setup script
// (apt-get) when missing and this user can (root, or passwordless sudo); otherwise it says the one
// command to run. Used by `npm test`, `npm run dev` and the benchmarks that need wrk or hey.
import { spawnSync } from "node:child_process";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..", "..");

export const has = (program) => spawnSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" }).status === 0;

const installed = (pkg) =>
  spawnSync("sh", ["-c", `dpkg-query -W -f='\${Status}' ${pkg} 2>/dev/null | grep -q 'ok installed'`]).status === 0;

/** What of `programs` (on the PATH) and `packages` (dpkg) this machine lacks. */
export function missingOf({ programs = [], packages = [] }) {
  return [...programs.filter((program) => !has(program)), ...packages.filter((pkg) => !installed(pkg))];
}

/**
 * Installs `missing` with scripts/setup-local.sh when this user can. Returns true when installed,
 * false (with the command to run printed) when it cannot.
 */
export function install(missing, who) {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const sudo = !isRoot && spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0;
  if (!has("apt-get") || !(isRoot || sudo)) {
    console.error(
      `${who}: this machine lacks ${missing.join(", ")}, and this user cannot install it.\n` +
        `  Run: sudo npm run setup:local -- ${missing.join(" ")}`,
    );
    return false;
  }
  console.log(`${who}: installing ${missing.join(", ")} with scripts/setup-local.sh (apt-get) first.`);
  return (
    spawnSync("bash", [path.join(root, "scripts", "setup-local.sh"), ...missing], { stdio: "inherit" }).status === 0
  );
}

/** Exits (2) unless `programs` are on the PATH, installing them first when this user can. */
export function ensurePrograms(programs, who) {
  const missing = missingOf({ programs });
  if (missing.length > 0 && !install(missing, who)) {
    process.exit(2);
  }
}

/** Points Miniflare's Browser Rendering at Debian's chromium (idempotent, quick once done). */
export function prepareBrowser({ quiet = false } = {}) {
  if (!has("chromium")) {
    return false;
  }
  const result = spawnSync("node", [path.join(root, "scripts", "setup-browser.mjs")], {
    cwd: root,
    stdio: quiet ? "pipe" : "inherit",
    encoding: "utf8",
  });
  if (result.status !== 0 && quiet) {
    process.stderr.write(result.stderr ?? "");
  }
  return result.status === 0;
}

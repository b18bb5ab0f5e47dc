#!/usr/bin/env bash
# `npm run setup:local [-- PACKAGE …]`: installs the Debian programs the test suite and the
# benchmarks use, when they are missing. With no arguments: everything (redis-server for the
# Upstash limiter tests; chromium, poppler-utils and the Noto CJK and emoji fonts for the console's
# browser test and PDF exports; wrk and hey for the benchmarks; postgresql for the PostgreSQL
# dialect, with pgbouncer standing in for Hyperdrive's pool: scripts/setup-postgres.sh). With chromium present it then
# points Miniflare's Browser Rendering at it (scripts/setup-browser.mjs).
# Needs root or sudo; runs apt-get
# update once, only when something is missing.
set -euo pipefail

packages=("$@")
if [ ${#packages[@]} -eq 0 ]; then
  packages=(redis-server chromium poppler-utils fonts-noto-cjk fonts-noto-color-emoji wrk hey postgresql pgbouncer)
fi

missing=()
for pkg in "${packages[@]}"; do
  # Installed as a Debian package, or (for programs) found on the PATH some other way.
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || command -v "$pkg" >/dev/null 2>&1 ||
    missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup:local: ${packages[*]} already installed"
else
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
  fi
  echo "setup:local: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Browser Rendering for local exports: Miniflare's Chrome is Debian's chromium (no download). Also
# when chromium was already there: this step is what `npm run dev` and exports need.
if command -v chromium >/dev/null 2>&1 && command -v node >/dev/null 2>&1 && [ -d "$(dirname "$0")/../node_modules/miniflare" ]; then
  node "$(dirname "$0")/setup-browser.mjs"
fi

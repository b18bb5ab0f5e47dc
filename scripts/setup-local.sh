#!/usr/bin/env bash
# `npm run setup:local [-- PACKAGE …]`: installs the Debian programs the test suite and the
# benchmarks use, when they are missing. With no arguments: everything (redis-server for the
# Upstash limiter tests; chromium for the console's browser test; wrk and hey for the benchmarks).
# Needs root or sudo; runs apt-get
# update once, only when something is missing.
set -euo pipefail

packages=("$@")
if [ ${#packages[@]} -eq 0 ]; then
  packages=(redis-server chromium wrk hey)
fi

missing=()
for pkg in "${packages[@]}"; do
  # The package name is also the program name for everything we install here.
  command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup:local: ${packages[*]} already installed"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi
echo "setup:local: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

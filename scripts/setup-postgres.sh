#!/usr/bin/env bash
# `npm run setup:postgres`: a local PostgreSQL for DATABASE_PROVIDER=hyperdrive — Debian's
# `postgresql` installed if missing (scripts/setup-local.sh), its cluster started, and a login role
# and database `edgerag` (password `edgerag`) on 127.0.0.1:5432. Idempotent, and quick when all of
# that is already so. Prints the connection string last. Needs root or sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-local.sh postgresql >/dev/null

as_postgres=(runuser -u postgres --)
if [ "$(id -u)" -ne 0 ]; then
  as_postgres=(sudo -u postgres)
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
  "${sudo[@]}" pg_createcluster "$version" main >/dev/null
fi
# Locally every Worker connection is a server connection (Hyperdrive pools them in production), and
# the test suite runs two workers of concurrent requests: more than Debian's default of 100.
conf="/etc/postgresql/$version/main/conf.d/edgerag.conf"
if [ ! -f "$conf" ]; then
  echo "max_connections = 400" | "${sudo[@]}" tee "$conf" >/dev/null
  if pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
    "${sudo[@]}" pg_ctlcluster "$version" main restart
  fi
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
  "${sudo[@]}" pg_ctlcluster "$version" main start
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')

psql_as_postgres() {
  "${as_postgres[@]}" psql -p "$port" -qtAX "$@"
}
for _ in $(seq 1 50); do
  psql_as_postgres -c "SELECT 1" >/dev/null 2>&1 && break
  sleep 0.2
done
if [ "$(psql_as_postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'edgerag'")" != "1" ]; then
  # CREATEDB: the tests make a database per run and drop it afterwards.
  psql_as_postgres -c "CREATE ROLE edgerag LOGIN CREATEDB PASSWORD 'edgerag'"
fi
if [ "$(psql_as_postgres -c "SELECT 1 FROM pg_database WHERE datname = 'edgerag'")" != "1" ]; then
  psql_as_postgres -c "CREATE DATABASE edgerag OWNER edgerag"
fi
echo "postgres://edgerag:edgerag@127.0.0.1:${port}/edgerag"

#!/usr/bin/env bash
# `npm run setup:postgres`: a local PostgreSQL for DATABASE_PROVIDER=hyperdrive — Debian's
# `postgresql` installed if missing (scripts/setup-local.sh), its cluster started, and a login role
# and database `edgerag` (password `edgerag`) on 127.0.0.1:5432, with PgBouncer on 6432 standing in
# for Hyperdrive's pool (below). Idempotent, and quick when all of that is already so. Prints the
# connection string last. Needs root or sudo.
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
# Room for PgBouncer's pools (20 server connections per database; the test run and each benchmark
# has its own database) beside the direct connections of migrations and tools: Debian's default
# of 100 ran out when Workers connected directly.
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
# Tests and benchmarks drop their throwaway databases WITH (FORCE); autovacuum may be working in
# one just then, and ending its worker takes pg_signal_backend (a failure seen in CI).
if [ "$(psql_as_postgres -c "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = 'pg_signal_backend' AND u.rolname = 'edgerag'")" != "1" ]; then
  psql_as_postgres -c "GRANT pg_signal_backend TO edgerag"
fi
if [ "$(psql_as_postgres -c "SELECT 1 FROM pg_database WHERE datname = 'edgerag'")" != "1" ]; then
  psql_as_postgres -c "CREATE DATABASE edgerag OWNER edgerag"
fi
# A local stand-in for Hyperdrive's pool: PgBouncer in transaction mode on 127.0.0.1:6432, in front
# of the cluster. Hyperdrive keeps connections to the database open and hands each Worker
# connection one per transaction; without a pool every Worker connection would fork a server
# backend (~30 ms here), which is the cost Hyperdrive removes. Workers connect through it (tests,
# `npm run dev`, benchmarks); migrations and tools connect to the cluster directly, as they would.
bash scripts/setup-local.sh pgbouncer >/dev/null
pgb_dir=/etc/pgbouncer
if [ ! -f "$pgb_dir/edgerag.ini" ]; then
  "${sudo[@]}" tee "$pgb_dir/edgerag.ini" >/dev/null <<EOF
[databases]
* = host=127.0.0.1 port=$port

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = 6432
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $pgb_dir/edgerag-users.txt
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
pidfile = /run/postgresql/pgbouncer-edgerag.pid
logfile = /var/log/postgresql/pgbouncer-edgerag.log
EOF
  echo '"edgerag" "edgerag"' | "${sudo[@]}" tee "$pgb_dir/edgerag-users.txt" >/dev/null
  "${sudo[@]}" chown postgres "$pgb_dir/edgerag.ini" "$pgb_dir/edgerag-users.txt"
  "${sudo[@]}" chmod 600 "$pgb_dir/edgerag-users.txt"
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/6432) 2>/dev/null; then
  "${as_postgres[@]}" pgbouncer -d -q "$pgb_dir/edgerag.ini"
  for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/6432) 2>/dev/null && break
    sleep 0.1
  done
fi

echo "postgres://edgerag:edgerag@127.0.0.1:${port}/edgerag"

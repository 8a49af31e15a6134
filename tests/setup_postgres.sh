#!/usr/bin/env bash
# Prepares the PostgreSQL server the store tests need, when missing: the Debian postgresql package,
# a cluster started by hand (no systemd), and a role that may create one database per test.
# Prints the role's SQLAlchemy URL on stdout (tests read it from EVOLVE_TEST_POSTGRES_URL).
# Idempotent: an installed package, an existing or running cluster and an existing role are kept.
# Run by tests/run.sh as root on Debian (CI); elsewhere it only says so and prints nothing.
# Usage: URL=$(bash tests/setup_postgres.sh)
set -euo pipefail
ROLE=${EVOLVE_TEST_POSTGRES_ROLE:-evolve_test}
PASSWORD=${EVOLVE_TEST_POSTGRES_PASSWORD:-evolve_test}
say() { echo "setup_postgres: $*" >&2; }
# Stdout carries the URL and nothing else: every tool's chatter (pg_ctlcluster prints
# "Removed stale pid file." after an unclean stop) goes to stderr.
exec 3>&1 1>&2  # fd 3: the URL; closed (3>&-) for anything that may leave a daemon behind

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  say "not root on Debian: skipping set-up (PostgreSQL tests skip unless EVOLVE_TEST_POSTGRES_URL is set)"
  exit 0
fi

if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  say "installing postgresql"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 3>&-
fi

# The newest installed server version; its first cluster, created if the package made none
# (installing in a container without systemd may skip it, or a purge may have removed it).
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
cluster=$(pg_lsclusters -h | awk -v v="$version" '$1 == v {print $2; exit}')
if [ -z "$cluster" ]; then
  cluster=main
  say "creating cluster $version/$cluster"
  pg_createcluster "$version" "$cluster" >/dev/null 3>&-
fi
if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $4}' | grep -q online; then
  say "starting cluster $version/$cluster"
  # pg_ctlcluster runs pg_ctl directly when systemd is not PID 1 (containers, CI).
  # One retry: a server killed a moment ago can leave a socket lock that names a pid still exiting.
  pg_ctlcluster "$version" "$cluster" start 3>&- || { sleep 3; pg_ctlcluster "$version" "$cluster" start 3>&-; }
fi
port=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $3}')
for _ in $(seq 1 30); do pg_isready -q -h localhost -p "$port" && break; sleep 1; done
pg_isready -q -h localhost -p "$port" || { say "server on port $port does not answer"; exit 1; }

psql_admin() { (cd / && su postgres -c "psql -q -v ON_ERROR_STOP=1 -p $port -d postgres $*"); }
exists=$(psql_admin "-Atc \"SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'\"")
verb=$([ "$exists" = 1 ] && echo ALTER || echo CREATE)
# CREATEDB: each test makes (and drops) its own database, so tests never see each other's runs.
psql_admin "-c \"$verb ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'\""
if [ -z "$(psql_admin "-Atc \"SELECT 1 FROM pg_database WHERE datname = '$ROLE'\"")" ]; then
  psql_admin "-c \"CREATE DATABASE $ROLE OWNER $ROLE\""
fi
say "ready (PostgreSQL $version on port $port, role $ROLE)"
echo "postgresql+psycopg://$ROLE:$PASSWORD@localhost:$port/$ROLE" >&3

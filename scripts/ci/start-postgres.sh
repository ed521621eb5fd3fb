#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on 127.0.0.1:$PG_PORT for the store's tests (and for
# trying `HARNESS_DB_URL=postgresql+psycopg://...` on a laptop), with its data under $PG_BASE.
# Idempotent: installs the server if missing, initdb's once, starts only if not running,
# creates role + database if missing. Run as root (the server itself runs as user postgres).
# The store tests read $HARNESS_TEST_PG_URL (default: the URL printed below) and create one
# throw-away database per test, hence CREATEDB on the role.
#
#   PG_BASE=${TMPDIR:-/tmp}/harness-pg  PG_PORT=55432  PG_USER=app  PG_PASSWORD=app  PG_DB=appdb
# Prints the SQLAlchemy URL at the end:
#   postgresql+psycopg://app:app@127.0.0.1:55432/appdb
set -euo pipefail
PG_BASE=${PG_BASE:-${TMPDIR:-/tmp}/harness-pg}
PG_PORT=${PG_PORT:-55432}
PG_USER=${PG_USER:-app}
PG_PASSWORD=${PG_PASSWORD:-app}
PG_DB=${PG_DB:-appdb}
log() { echo "[start-postgres $(date +%T)] $*"; }

# ---------------------------------------------------------------- packages
# policy-rc.d on this image (exit 101) keeps apt from starting the packaged 'main' cluster on 5432.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "apt-get install postgresql"
  [ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
DATA=$PG_BASE/data
SOCK=$PG_BASE/run

as_pg() { runuser -u postgres -- "$@"; }

mkdir -p "$PG_BASE" "$SOCK"
chown postgres:postgres "$PG_BASE" "$SOCK"

if [ ! -s "$DATA/PG_VERSION" ]; then
  log "initdb $DATA"
  rm -rf "$DATA"
  as_pg "$PGBIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=trust --auth-host=scram-sha-256 >"$PG_BASE/initdb.log"
  cat >> "$DATA/postgresql.conf" <<EOF
# --- start-postgres.sh ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$SOCK'
fsync = off                 # throw-away test server: speed over durability
synchronous_commit = off
full_page_writes = off
max_connections = 100     # the 32-process concurrent-ingest test, plus pools
shared_buffers = 128MB
EOF
fi

if as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  log "already running"
else
  log "starting postgres on 127.0.0.1:$PG_PORT"
  as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$PG_BASE/server.log" -w -t 60 start >/dev/null
fi

psql_pg() { as_pg "$PGBIN/psql" -h "$SOCK" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
if [ "$(psql_pg -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'")" != 1 ]; then
  psql_pg -d postgres -c "CREATE ROLE \"$PG_USER\" LOGIN PASSWORD '$PG_PASSWORD' CREATEDB"
fi
if [ "$(psql_pg -d postgres -c "SELECT 1 FROM pg_database WHERE datname='$PG_DB'")" != 1 ]; then
  psql_pg -d postgres -c "CREATE DATABASE \"$PG_DB\" OWNER \"$PG_USER\""
fi
log "ready: postgresql+psycopg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"

#!/usr/bin/env bash
# Stop the server started by scripts/ci/start-postgres.sh (pg_ctl stop = SIGINT to the postmaster PID in
# $DATA/postmaster.pid). --clean also deletes $PG_BASE.
set -uo pipefail
PG_BASE=${PG_BASE:-${TMPDIR:-/tmp}/harness-pg}
DATA=$PG_BASE/data
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -n "$PGBIN" ] && [ -s "$DATA/postmaster.pid" ]; then
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop || true
fi
if [ "${1:-}" = "--clean" ]; then rm -rf "$PG_BASE"; fi
echo "[stop-postgres] done"

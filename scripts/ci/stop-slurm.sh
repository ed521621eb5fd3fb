#!/usr/bin/env bash
# Stop the single-node SLURM cluster started by scripts/ci/start-slurm.sh, by PID (pidfiles),
# never by name.
#   stop-slurm.sh          stop daemons, keep state (jobs, accounting DB)
#   stop-slurm.sh --clean  also delete $SLURM_BASE (state, spool, logs, MariaDB data)
#   STOP_MUNGE=0           leave munged running (default: stop it too)
set -uo pipefail
BASE=${SLURM_BASE:-${TMPDIR:-/tmp}/harness-slurm}
DB_DIR=${SLURM_DB_DIR:-$BASE/mariadb}
export SLURM_CONF=$BASE/etc/slurm.conf
log() { echo "[stop-slurm $(date +%T)] $*"; }

# stop_pid PIDFILE NAME : SIGTERM the pid if its comm starts with NAME, wait up to 15 s, then SIGKILL
stop_pid() {
  local f=$1 name=$2 pid i
  [ -s "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null)
  if [ -z "$pid" ] || [ ! -r "/proc/$pid/comm" ] || [[ "$(cat /proc/$pid/comm)" != "$name"* ]]; then
    rm -f "$f"; return 0
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 75); do
    [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' /proc/$pid/stat 2>/dev/null)" != Z ] || break
    sleep 0.2
  done
  if [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' /proc/$pid/stat 2>/dev/null)" != Z ]; then log "$name did not exit, SIGKILL"; kill -KILL "$pid" 2>/dev/null; fi
  rm -f "$f"
}

# cancel jobs first so no slurmstepd/job processes are left behind
if [ -f "$SLURM_CONF" ] && scontrol ping 2>/dev/null | grep -q UP; then
  if [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
    log "cancelling jobs: $(squeue -h -o %i | tr '\n' ' ')"
    scancel --partition=debug 2>/dev/null || true
    for i in $(seq 1 50); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.2; done
  fi
fi

stop_pid "$BASE/run/slurmd.pid" slurmd
stop_pid "$BASE/run/slurmctld.pid" slurmctld
stop_pid "$BASE/run/slurmdbd.pid" slurmdbd
stop_pid "$DB_DIR/mysqld.pid" mariadbd
if [ "${STOP_MUNGE:-1}" = 1 ]; then stop_pid /run/munge/munged.pid munged; fi

# leftover slurmstepd processes (should be none after scancel): find them by PID via /proc
for p in /proc/[0-9]*; do
  c=$(cat "$p/comm" 2>/dev/null) || continue
  if [ "$c" = slurmstepd ]; then log "killing leftover slurmstepd ${p#/proc/}"; kill -KILL "${p#/proc/}" 2>/dev/null; fi
done

if [ "${1:-}" = "--clean" ]; then
  log "removing $BASE"
  [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$SLURM_CONF" ] && rm -f /etc/slurm/slurm.conf
  rm -rf "$BASE"
fi
log "done"

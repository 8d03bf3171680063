#!/usr/bin/env bash
# Stops exactly what deploy/up.sh started (the names in run/up, by their recorded pids), newest first:
# nginx, the workers and app instances (SIGTERM to the process group, SIGKILL after a grace period),
# the PostgreSQL replica and primary (pg_ctl stop -m fast), Redis. The data stays for the next up.sh;
# remove the state directory to start afresh. Exit 1 if anything it started still runs.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${ALLIANCE_DEPLOY_DIR:-$PWD/.deploy-local}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)}
PG_OWNER=${PG_OWNER:-postgres}
GRACE=${DOWN_GRACE_SECONDS:-20}

say() { printf 'down: %s\n' "$*" >&2; }

if [ ! -f "$STATE/run/up" ]; then
  say "nothing is up in $STATE"
  exit 0
fi

group_alive() {  # a process of the group (or the process) that has not exited (zombies waiting to be reaped have)
  ps -eo pid=,pgid=,stat= | awk -v id="$1" '($1 == id || $2 == id) && $3 !~ /^Z/ { found = 1 } END { exit !found }'
}

stop_group() {  # name pid: the process and its group (its own session: setsid), TERM then KILL
  local name=$1 pid=$2 since=$SECONDS
  group_alive "$pid" || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  for _ in $(seq $((GRACE * 10))); do
    group_alive "$pid" || { say "$name stopped ($((SECONDS - since)) s)"; return 0; }
    sleep 0.1
  done
  say "$name did not stop within $GRACE s; killing it"
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
  sleep 0.2
}

stop_postgres() {  # name data-directory pid
  local name=$1 data=$2 pid=$3
  kill -0 "$pid" 2>/dev/null || return 0
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$PG_OWNER" -- "$PG_BIN/pg_ctl" stop -w -t "$GRACE" -m fast -D "$data" >/dev/null 2>&1
  else
    "$PG_BIN/pg_ctl" stop -w -t "$GRACE" -m fast -D "$data" >/dev/null 2>&1
  fi
  for _ in $(seq 50); do  # the postmaster removes its pid file just before it exits
    kill -0 "$pid" 2>/dev/null || return 0
    [ "$(ps -o stat= -p "$pid" 2>/dev/null)" = Z ] && return 0
    sleep 0.1
  done
  say "$name did not stop; killing it"
  kill -KILL "$pid" 2>/dev/null
  sleep 0.5
  return 0
}

names=$(cat "$STATE/run/up")
reversed=$(printf '%s\n' $names | tac)
for name in $reversed; do
  pidfile="$STATE/run/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  case $name in
    pg-primary) stop_postgres "$name" "$STATE/pg-primary" "$pid" ;;
    pg-replica) stop_postgres "$name" "$STATE/pg-replica" "$pid" ;;
    *) stop_group "$name" "$pid" ;;
  esac
done

left=()
for name in $names; do
  pidfile="$STATE/run/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if group_alive "$pid"; then left+=("$name:$pid"); else rm -f "$pidfile"; fi
done
if [ ${#left[@]} -gt 0 ]; then
  say "still running: ${left[*]}"
  exit 1
fi
rm -f "$STATE/run/up"
say "stopped: $names"
: "$ROOT"

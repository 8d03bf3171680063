#!/usr/bin/env bash
# Prove the latest backup restores: a scratch PostgreSQL cluster (initdb in a temporary directory, on a
# free port on 127.0.0.1), the dump restored into it, the ledger reconciliation run on it, everything
# removed afterwards. Exit status 0 only when the restore worked and the books reconcile.
#
#   BACKUP_DIR=/var/backups/alliance deploy/restore-check.sh            # the newest alliance-*.dump
#   deploy/restore-check.sh /path/to/alliance-20261206T020000Z.dump     # a given dump
#
# Settings (environment): BACKUP_DIR; PG_BINDIR (the PostgreSQL server binaries; default: pg_config's, else
# the newest /usr/lib/postgresql/*/bin); RESTORE_SCHEMA (the schema the tables are in, when the dump was
# made with BACKUP_SCHEMA); ALLIANCE_SERVER (the command, default alliance-server) and the settings it
# needs (ALLIANCE_ENV and keys, as on an app host). PostgreSQL will not run as root: as root the scratch
# cluster runs as the postgres user.
set -euo pipefail

dump=${1:-}
if [ -z "$dump" ]; then
  dump=$(ls -1t "${BACKUP_DIR:-/var/backups/alliance}"/alliance-*.dump 2>/dev/null | head -n1 || true)
fi
[ -n "$dump" ] && [ -r "$dump" ] || { echo "restore-check: no dump to restore" >&2; exit 2; }

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ] && command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
  bindir=$(pg_config --bindir)
fi
[ -n "$bindir" ] || bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/alliance-restore-check.XXXXXX")
as_postgres=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$scratch"
  as_postgres=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
  "${as_postgres[@]}" "$bindir/pg_ctl" -D "$scratch/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT

started=$(date +%s)
"${as_postgres[@]}" "$bindir/initdb" -D "$scratch/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
"${as_postgres[@]}" "$bindir/pg_ctl" -D "$scratch/data" -l "$scratch/server.log" -w -s \
  -o "-p $port -k $scratch -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" start
"$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres alliance
"$bindir/pg_restore" -h 127.0.0.1 -p "$port" -U postgres -d alliance --no-owner --no-privileges \
  --exit-on-error "$dump"

url="postgresql://postgres@127.0.0.1:$port/alliance"
if [ -n "${RESTORE_SCHEMA:-}" ]; then
  url="$url?options=-csearch_path%3D$RESTORE_SCHEMA"
fi
counts=$(psql "$url" -Atc "SELECT (SELECT count(*) FROM sales) || ' sales, ' || (SELECT count(*) FROM ledger_entries)
  || ' points ledger entries, ' || (SELECT count(*) FROM money_entries) || ' money ledger entries'")
echo "restore-check: restored $(basename "$dump"): $counts"
DATABASE_URL="$url" ${ALLIANCE_SERVER:-alliance-server} settlement reconcile
echo "restore-check: OK in $(( $(date +%s) - started )) s"

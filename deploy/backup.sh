#!/usr/bin/env bash
# Backups of the AllianceCard database (docs/operations.md, "Backups"). Run by cron on the database host
# (or any host that reaches it) as a user that may read the whole database:
#
#   deploy/backup.sh dump   # nightly: a logical dump, pg_dump's custom format, kept BACKUP_KEEP_DAYS days
#   deploy/backup.sh base   # weekly: a base backup (pg_basebackup, tar, compressed) for point-in-time
#                           # recovery with the WAL archive (deploy/postgresql-backup.conf)
#
# Settings (environment): DATABASE_URL (libpq or SQLAlchemy form), BACKUP_DIR (default
# /var/backups/alliance), BACKUP_KEEP_DAYS (default 14), BACKUP_SCHEMA (dump only this schema; default all).
# Prints the path of what it wrote. A dump is written under a temporary name and renamed when complete,
# so deploy/restore-check.sh never picks up a half-written file.
set -euo pipefail

mode=${1:-dump}
: "${DATABASE_URL:?set DATABASE_URL}"
url=${DATABASE_URL/postgresql+psycopg:/postgresql:}  # SQLAlchemy's driver prefix is not libpq's
url=${url/postgres:/postgresql:}
backup_dir=${BACKUP_DIR:-/var/backups/alliance}
keep_days=${BACKUP_KEEP_DAYS:-14}
stamp=$(date -u +%Y%m%dT%H%M%SZ)

case "$mode" in
  dump)
    mkdir -p "$backup_dir"
    partial="$backup_dir/.alliance-$stamp.dump.partial"
    trap 'rm -f "$partial"' EXIT
    pg_dump --format=custom --no-owner --no-privileges ${BACKUP_SCHEMA:+--schema="$BACKUP_SCHEMA"} \
      --file="$partial" "$url"
    mv "$partial" "$backup_dir/alliance-$stamp.dump"
    find "$backup_dir" -maxdepth 1 -name 'alliance-*.dump' -mtime +"$keep_days" -delete
    echo "$backup_dir/alliance-$stamp.dump"
    ;;
  base)
    target="$backup_dir/base/$stamp"
    mkdir -p "$target"
    # -X fetch: the WAL needed to make this backup consistent goes into it; later WAL comes from the archive
    pg_basebackup --dbname="$url" --pgdata="$target" --format=tar --gzip --wal-method=fetch \
      --checkpoint=fast --label="alliance-$stamp"
    find "$backup_dir/base" -mindepth 1 -maxdepth 1 -type d -mtime +"$keep_days" -exec rm -rf {} +
    echo "$target"
    ;;
  *)
    echo "usage: $0 dump|base" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Restore drill (docs/production.md#backups): restore a dump into a fresh database and check that it is
# usable: every migration applied, every gift card ledger balanced (the reconciliation report has no
# mismatch) and, when the dump is taken here, every table holding as many rows as the source.
#
#   DATABASE_URL=postgres://user@host:5432/promo ops/restore_drill.sh              # dump now, restore, check
#   DATABASE_URL=postgres://user@host:5432/promo ops/restore_drill.sh --dump FILE  # restore a backup (pg_dump -Fc)
#
# The fresh database (promo_drill_<time>) is made on the same server with the same credentials (the role
# needs CREATEDB) and dropped at the end unless --keep. Needs pg_dump, pg_restore, psql of the server's
# major version, and the project's Python (PYTHON, default .venv/bin/python). Exit 0 only on success.
set -euo pipefail
cd "$(dirname "$0")/.."

DUMP="" KEEP=0 COMPARE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --dump) DUMP="$2"; COMPARE=0; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --no-count-check) COMPARE=0; shift ;;  # dumping a database that is being written to
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

PYTHON="${PYTHON:-.venv/bin/python}"
: "${DATABASE_URL:?set DATABASE_URL to the source database (postgres://...)}"
case "$DATABASE_URL" in postgres://*|postgresql://*) ;; *) echo "DATABASE_URL must be a PostgreSQL URL" >&2; exit 2 ;; esac

SOURCE_URL="$DATABASE_URL"
SERVER_URL="${SOURCE_URL%/*}"           # postgres://user:pass@host:port
SOURCE_DB="${SOURCE_URL##*/}"; SOURCE_DB="${SOURCE_DB%%\?*}"
DRILL_DB="promo_drill_$(date -u +%Y%m%d%H%M%S)_$$"
DRILL_URL="$SERVER_URL/$DRILL_DB"
WORK="$(mktemp -d)"
STARTED=$(date +%s)

verdict() {
  local status=$?
  if [ "$KEEP" = 0 ]; then
    psql -q "$SERVER_URL/postgres" -c "DROP DATABASE IF EXISTS \"$DRILL_DB\"" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  if [ "$status" -eq 0 ]; then
    echo "RESTORE DRILL PASSED: $SOURCE_DB restored into $DRILL_DB in $(( $(date +%s) - STARTED ))s; ledgers balance"
  else
    echo "RESTORE DRILL FAILED (exit $status): see the step above" >&2
  fi
  exit "$status"
}
trap verdict EXIT

step() { printf '\n--- %s\n' "$*"; }

if [ "$COMPARE" = 1 ]; then
  step "Source $SOURCE_DB: ledgers and row counts"
  DATABASE_URL="$SOURCE_URL" "$PYTHON" manage.py check_ledgers --counts-out "$WORK/source-counts.json"
fi

if [ -z "$DUMP" ]; then
  DUMP="$WORK/source.dump"
  step "pg_dump $SOURCE_DB (custom format)"
  pg_dump --format=custom --no-owner --no-privileges --file="$DUMP" "$SOURCE_URL"
fi
[ -s "$DUMP" ] || { echo "dump $DUMP is missing or empty" >&2; exit 1; }
echo "dump: $(du -h "$DUMP" | cut -f1)"

step "Restore into a fresh database $DRILL_DB"
psql -q "$SERVER_URL/postgres" -c "CREATE DATABASE \"$DRILL_DB\""
pg_restore --no-owner --no-privileges --exit-on-error --jobs=2 --dbname="$DRILL_URL" "$DUMP"
psql -q "$DRILL_URL" -c "ANALYZE" >/dev/null

step "Restored database: migrations, ledgers$([ "$COMPARE" = 1 ] && echo ', row counts')"
DATABASE_URL="$DRILL_URL" "$PYTHON" manage.py migrate --check --noinput
if [ "$COMPARE" = 1 ]; then
  DATABASE_URL="$DRILL_URL" "$PYTHON" manage.py check_ledgers --expect-counts "$WORK/source-counts.json"
else
  DATABASE_URL="$DRILL_URL" "$PYTHON" manage.py check_ledgers
fi

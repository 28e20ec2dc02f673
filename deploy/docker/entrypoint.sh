#!/bin/sh
# Ferry's container entrypoint: one image, one role per container.
#
#   web            migrate, then gunicorn on FERRY_BIND (0.0.0.0:8000)
#   worker         an RQ worker (runs the cycles, payments and mail)
#   scheduler      rq-scheduler with Ferry's periodic jobs
#   backup         a backup every day at FERRY_BACKUP_AT (UTC, 02:30) into
#                  FERRY_BACKUP_DIR (/backups), keeping FERRY_BACKUP_KEEP (14)
#   backup-once    one such backup now
#   flask ARGS     any `flask --app app` command (version, check, restore, create-admin…)
#
# Each exits non-zero with a sentence when it cannot run; the compose file restarts it.
set -eu
cd "$(dirname "$0")/../.."

if [ -z "${FERRY_SECRET_KEY:-}" ]; then
    echo "FERRY_SECRET_KEY is not set. Put one in the compose folder's .env (make it with:" \
         "python3 -c \"import secrets; print(secrets.token_urlsafe(48))\") and keep a copy" \
         "apart from the backups." >&2
    exit 1
fi

backup_once() {
    flask --app app backup --keep "${FERRY_BACKUP_KEEP:-14}" "${FERRY_BACKUP_DIR:-/backups}"
}

role="${1:-web}"
[ "$#" -gt 0 ] && shift
case "$role" in
    web)
        flask --app app db upgrade
        exec gunicorn --config deploy/gunicorn.conf.py --bind "${FERRY_BIND:-0.0.0.0:8000}" \
            "app:create_app()"
        ;;
    worker)
        exec flask --app app worker
        ;;
    scheduler)
        exec flask --app app scheduler
        ;;
    backup-once)
        backup_once
        ;;
    backup)
        at="${FERRY_BACKUP_AT:-02:30}"
        while :; do
            now=$(date -u +%s)
            next=$(date -u -d "today $at" +%s) || { echo "FERRY_BACKUP_AT=$at is not a time of day (HH:MM)." >&2; exit 1; }
            [ "$next" -le "$now" ] && next=$((next + 86400))
            echo "Next backup at $(date -u -d "@$next" +%Y-%m-%dT%H:%M:%SZ) into ${FERRY_BACKUP_DIR:-/backups}."
            sleep $((next - now))
            # A failed backup says why in the log and is tried again the next day.
            backup_once || echo "The backup failed; see the lines above." >&2
        done
        ;;
    flask)
        exec flask --app app "$@"
        ;;
    *)
        echo "Unknown role '$role': web, worker, scheduler, backup, backup-once or flask ARGS." >&2
        exit 2
        ;;
esac

#!/bin/sh
# The image's entry point: `web` (migrate when MIGRATE_ON_START=1, demo data when SEED_DEMO=1, then
# gunicorn), `worker` (Celery worker), `beat` (Celery beat), or any other command as given.
set -eu

if [ -z "${SECRET_KEY:-}" ]; then
  # No SECRET_KEY given: one random key made on first start and kept in the shared data volume, so the
  # web, the worker and beat sign with the same key and sessions survive a restart.
  KEY_FILE="${DATA_DIR:-/data}/secret_key"
  if [ ! -s "$KEY_FILE" ]; then
    python -c "import secrets; print(secrets.token_urlsafe(50))" > "$KEY_FILE.tmp" && mv "$KEY_FILE.tmp" "$KEY_FILE"
  fi
  SECRET_KEY="$(cat "$KEY_FILE")"
  export SECRET_KEY
fi
mkdir -p "${PROMETHEUS_MULTIPROC_DIR:-/data/metrics}"

case "${1:-web}" in
  web)
    if [ "${MIGRATE_ON_START:-1}" = "1" ]; then
      python manage.py migrate --noinput
    fi
    if [ "${SEED_DEMO:-0}" = "1" ]; then
      python manage.py seed_demo
    fi
    exec gunicorn promoengine.wsgi
    ;;
  worker)
    exec celery -A promoengine worker --loglevel "${LOG_LEVEL:-INFO}" --concurrency "${WORKER_CONCURRENCY:-2}"
    ;;
  beat)
    # The schedule lives in the database (django_celery_beat); no state file is written.
    exec celery -A promoengine beat --loglevel "${LOG_LEVEL:-INFO}"
    ;;
  *)
    exec "$@"
    ;;
esac

# The promotion engine's image: gunicorn for the web, the same image for the Celery worker and beat
# (compose.yaml; docs/production.md#containers). Runs as an unprivileged user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data MEDIA_ROOT=/data/media PROMETHEUS_MULTIPROC_DIR=/data/metrics PORT=8000

# pg_dump / pg_restore for backups and the restore drill; every Python dependency ships a wheel.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first (pinned by requirements/constraints.txt), so a code change reuses this layer.
COPY pyproject.toml ./
COPY requirements/constraints.txt requirements/constraints.txt
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -c requirements/constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
# Static files with their hashed names (DEBUG off serves them through whitenoise); the key is a build-time dummy.
RUN DEBUG=0 SECRET_KEY=build-only-not-a-secret-0123456789-0123456789-0123456789 \
        python manage.py collectstatic --noinput -v0 \
    && useradd --create-home --uid 10001 promo \
    && mkdir -p /data/media /data/metrics \
    && chown -R promo:promo /data

USER promo
VOLUME ["/data"]
EXPOSE 8000
ENTRYPOINT ["/app/ops/docker-entrypoint.sh"]
CMD ["web"]

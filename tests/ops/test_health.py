"""/healthz and /readyz: answered before the rest of the stack, JSON, 200 or 503 with the failing check."""

import pytest
from django.db.migrations.recorder import MigrationRecorder

from core import brokers, health

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


@pytest.fixture(autouse=True)
def _fresh_answers():
    health.forget_migrations_answer()
    brokers._redis.cache_clear()
    yield
    health.forget_migrations_answer()


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")  # no django_db mark: a query would raise
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_cache_and_migrations(client, settings):
    settings.CELERY_BROKER_URL = ""  # no broker: tasks run inline, nothing to check
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "migrations": "ok"}}


@pytest.mark.django_db
def test_readyz_is_unavailable_while_a_migration_is_unapplied(client):
    MigrationRecorder.Migration.objects.filter(app="promo").order_by("-id")[:1].get().delete()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "error: unapplied migrations"
    assert response.json()["status"] == "unavailable"


@pytest.mark.django_db
def test_readyz_keeps_the_migrations_answer_for_a_few_seconds(client, django_assert_max_num_queries, settings):
    settings.READYZ_MIGRATIONS_CACHE_SECONDS = 60
    client.get("/readyz")
    with django_assert_max_num_queries(1):  # SELECT 1 only: the migration graph is not read again
        assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_readyz_reports_a_cache_that_does_not_answer(client, settings):
    from django.core.cache import caches

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": CLOSED_PORT_REDIS}}
    try:
        response = client.get("/readyz")
    finally:
        caches["default"].close()
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "error: ConnectionError"


@pytest.mark.django_db
def test_readyz_checks_the_broker_when_one_is_configured(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/7"
    assert client.get("/readyz").json()["checks"]["broker"] == "ok"
    settings.CELERY_BROKER_URL = CLOSED_PORT_REDIS
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "error: ConnectionError"


@pytest.mark.django_db
def test_probes_ignore_the_host_header_and_the_https_redirect(client, settings):
    """A load balancer calls by IP over plain HTTP: no DisallowedHost, no redirect to https."""
    settings.SECURE_SSL_REDIRECT = True
    for path in ("/healthz", "/readyz"):
        assert client.get(path, HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/admin/login/", HTTP_HOST="10.1.2.3:8000").status_code == 400


def test_probes_refuse_other_methods(client):
    assert client.post("/healthz").status_code == 405


def test_v1_health_still_answers(client):
    assert client.get("/v1/health").json() == {"status": "ok"}


def test_readyz_answer_does_not_leak_connection_details():
    assert health._check(lambda: (_ for _ in ()).throw(OSError("password=secret host=db"))) == "error: OSError"

"""Liveness and readiness for load balancers and orchestrators (docs/production.md).

`/healthz`: the process answers (no database). `/readyz`: the database, the cache and the Celery broker
(when one is configured) answer, and every migration is applied. Both are answered by
core.middleware.OpsEndpointsMiddleware before the rest of the stack: no session, no authentication, no
Host check (a load balancer calls by IP) and no HTTPS redirect, so a call costs well under a millisecond
plus one database round trip and one cache round trip.
"""

import threading
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse

from core import brokers

_migrations_lock = threading.Lock()
_migrations_checked: tuple[float, bool] | None = None  # (monotonic time, all applied)


def healthz(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request) -> JsonResponse:
    checks = {"database": _check(_database), "cache": _check(_cache), "migrations": _check(_migrations)}
    if settings.CELERY_BROKER_URL:
        checks["broker"] = _check(brokers.ping)
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


def _check(probe) -> str:
    """"ok", or the reason in a few words (the exception's class: no host names or credentials)."""
    try:
        problem = probe()
    except Exception as exc:  # any failure of a dependency is an answer here, never a 500
        return f"error: {type(exc).__name__}"
    return problem or "ok"


def _database() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return None


def _cache() -> str | None:
    key, value = "readyz:probe", uuid.uuid4().hex
    cache.set(key, value, timeout=10)
    return None if cache.get(key) == value else "error: value not read back"


def _migrations() -> str | None:
    """Unapplied migrations (a deploy whose `migrate` has not run yet). Reading the migration graph takes
    tens of milliseconds, so the answer is kept READYZ_MIGRATIONS_CACHE_SECONDS per process."""
    global _migrations_checked
    now = time.monotonic()
    checked = _migrations_checked
    if checked is None or now - checked[0] >= settings.READYZ_MIGRATIONS_CACHE_SECONDS:
        with _migrations_lock:
            executor = MigrationExecutor(connection)
            applied = not executor.migration_plan(executor.loader.graph.leaf_nodes())
            checked = _migrations_checked = (now, applied)
    return None if checked[1] else "error: unapplied migrations"


def forget_migrations_answer() -> None:
    """Tests: ask the database again on the next call."""
    global _migrations_checked
    _migrations_checked = None

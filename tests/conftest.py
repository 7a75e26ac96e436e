"""Shared fixtures: API clients through the full Django stack, a live server for the SDK,
spec conformance checks, and the PostgreSQL / Celery gates used by CI."""

import json
import os
import uuid

import pytest
from django.db import connection
from django.test import Client

from core import services

pytest_plugins = ["tests.spec", "tests.sdk"]


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    broker = bool(settings.CELERY_BROKER_URL)
    for item in items:
        item.gated_by = []  # which gates skipped it, so CI can tell a required skip from an allowed one
        if "postgres" in item.keywords and not on_postgres:
            item.gated_by.append("postgres")
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)"))
        if "celery_worker" in item.keywords and not broker:
            item.gated_by.append("celery_worker")
            item.add_marker(pytest.mark.skip(reason="needs a Celery broker (set CELERY_BROKER_URL)"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (REQUIRE_POSTGRES=1 / REQUIRE_CELERY=1) a skipped gated test is a failure, not a pass."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped:
        return
    gated = [("postgres", "REQUIRE_POSTGRES"), ("celery_worker", "REQUIRE_CELERY")]
    skipped_by = getattr(item, "gated_by", [])
    for marker, variable in gated:
        required = os.environ.get(variable) == "1"
        # A test skipped by its own gate while that gate is required, or skipped from inside while required.
        if marker in item.keywords and required and (marker in skipped_by or not skipped_by):
            report.outcome = "failed"
            report.longrepr = f"{item.nodeid} was skipped but {variable}=1: {report.longrepr}"


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Users made by tests need no slow hashing (production keeps Django's default PBKDF2)."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _own_rate_limit_counters(settings):
    """Rate-limit and lockout counters outlive a test (in memory, or in Redis shared with Celery's broker in the
    worker tests, so they are not cleared): each test counts under keys of its own."""
    settings.RATE_LIMIT_KEY_PREFIX = f"rl-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def local_redis_url() -> str:
    """Database 4 of the local Redis server (started by .ci/run), for tests of what production counts there."""
    import redis

    url = "redis://127.0.0.1:6379/4"
    try:
        redis.Redis.from_url(url).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("REQUIRE_POSTGRES") == "1":  # CI starts Redis: its absence there is a failure
            pytest.fail("Redis on 127.0.0.1:6379 is required in CI")
        pytest.skip("needs Redis on 127.0.0.1:6379")
    return url


class JsonClient:
    """Django's test client speaking JSON with API-key headers (full middleware and URL stack)."""

    def __init__(self, headers: dict | None = None):
        self.client = Client(raise_request_exception=False)
        self.headers = headers or {}

    def request(self, method: str, path: str, data=None, *, raw: bytes | str | None = None,
                content_type: str = "application/json", headers: dict | None = None, **params):
        all_headers = {**self.headers, **(headers or {})}
        func = getattr(self.client, method.lower())
        if method.upper() == "GET":
            return func(path, data=params or data, headers=all_headers)
        body = raw if raw is not None else (json.dumps(data) if data is not None else "")
        if params:
            from urllib.parse import urlencode

            path = f"{path}?{urlencode(params)}"
        return func(path, data=body, content_type=content_type, headers=all_headers)

    def get(self, path, **params):
        return self.request("GET", path, **params)

    def post(self, path, data=None, **kwargs):
        return self.request("POST", path, data, **kwargs)

    def put(self, path, data=None, **kwargs):
        return self.request("PUT", path, data, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def issued_key(db):
    return services.api_key_create(name="test key")


@pytest.fixture
def api(issued_key) -> JsonClient:
    return JsonClient({"X-App-Id": issued_key.app_id, "X-App-Token": issued_key.app_token})


@pytest.fixture
def anon_api(db) -> JsonClient:
    return JsonClient()


def assert_error(response, status: int, key: str) -> dict:
    """An error answer in the one format, with the expected status and stable key."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) >= {"code", "key", "message", "details", "request_id"}, body
    assert body["code"] == status and body["key"] == key, body
    assert body["request_id"] == response["X-Request-ID"]
    return body

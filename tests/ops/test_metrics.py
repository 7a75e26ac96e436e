"""/metrics: protected by a bearer token or allowed addresses; request metrics by route and status, the
checkout's counters, and the Celery queue length read from the broker at scrape time."""

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from core import brokers
from promo.models import Voucher
from tests.ops.metrics_helpers import sample
from tests.promo.factories import VoucherFactory
from tests.promo.test_redemption_flow import stacked

BROKER = "redis://127.0.0.1:6379/7"


def _families(response) -> dict:
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def test_metrics_refuse_callers_without_token_or_allowed_address(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 403  # the test client calls from 127.0.0.1
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.2.3.4").status_code == 200


def test_without_configuration_nobody_reads_metrics(client, settings):
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


@pytest.mark.django_db
def test_requests_are_counted_by_route_and_status(api, client, settings):
    settings.METRICS_TOKEN = "t"
    api.get("/v1/vouchers/NOPE")
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    families = _families(response)
    by_status = families["django_http_responses_total_by_status_view_method"]
    assert any(s.labels.get("status") == "404" and s.labels.get("view") != "<unnamed view>" and s.value >= 1
               for s in by_status.samples)
    assert "django_http_requests_latency_seconds_by_view_method" in families


@pytest.mark.django_db
def test_probes_and_scrapes_are_not_counted_as_requests(client, settings):
    """A load balancer calling every second must not drown the checkout's figures."""
    settings.METRICS_TOKEN = "t"
    before = sample("django_http_requests_total_by_method_total", method="GET")
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path, HTTP_AUTHORIZATION="Bearer t").status_code == 200
    assert sample("django_http_requests_total_by_method_total", method="GET") == before
    client.get("/v1/health")
    assert sample("django_http_requests_total_by_method_total", method="GET") == before + 1


@pytest.mark.django_db
def test_a_redemption_moves_the_counters(api):
    VoucherFactory(code="ONCE", redemption_quantity=1)
    before = {result: sample("promoengine_redemptions_total", result=result) for result in ("success", "failure")}
    exceeded = sample("promoengine_failed_attempts_total", operation="redemption", reason="quantity_exceeded")
    assert api.post("/v1/redemptions", stacked("ONCE")).status_code == 200
    assert sample("promoengine_redemptions_total", result="success") == before["success"] + 1
    assert api.post("/v1/redemptions", stacked("ONCE")).status_code == 400
    assert sample("promoengine_redemptions_total", result="failure") == before["failure"] + 1
    assert sample("promoengine_failed_attempts_total", operation="redemption",
                  reason="quantity_exceeded") == exceeded + 1
    assert Voucher.objects.get(code="ONCE").redeemed_quantity == 1


@pytest.mark.django_db
def test_validations_are_counted_by_result_and_reason(api):
    VoucherFactory(code="TEN")
    valid = sample("promoengine_validations_total", result="valid")
    not_found = sample("promoengine_failed_attempts_total", operation="validation", reason="not_found")
    api.post("/v1/validations", stacked("TEN"))
    api.post("/v1/validations", stacked("NOPE"))
    assert sample("promoengine_validations_total", result="valid") == valid + 1
    assert sample("promoengine_failed_attempts_total", operation="validation", reason="not_found") == not_found + 1


@pytest.fixture
def broker(settings):
    settings.CELERY_BROKER_URL = BROKER
    settings.METRICS_TOKEN = "t"
    brokers._redis.cache_clear()
    connection = redis.Redis.from_url(BROKER)
    connection.delete("celery")
    yield connection
    connection.delete("celery")
    brokers._redis.cache_clear()


def test_the_queue_length_is_read_from_the_broker(client, broker):
    broker.rpush("celery", "a", "b", "c")
    families = _families(client.get("/metrics", HTTP_AUTHORIZATION="Bearer t"))
    (length,) = families["promoengine_celery_queue_length"].samples
    assert (length.labels, length.value) == ({"queue": "celery"}, 3)
    assert families["promoengine_celery_broker_up"].samples[0].value == 1


def test_a_broker_that_does_not_answer_is_reported_not_raised(client, broker, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t")
    assert response.status_code == 200
    families = _families(response)
    assert families["promoengine_celery_broker_up"].samples[0].value == 0
    assert "promoengine_celery_queue_length" not in families


def test_every_metric_in_the_sample_alerts_exists(broker, client):
    """docs/ops/alerts.yml names only metrics this project exports (a typo would never fire)."""
    import re
    from pathlib import Path

    import yaml
    from prometheus_client import REGISTRY

    from core.metrics import _live

    client.get("/healthz")  # the request middleware, built at the first request, declares its metrics
    rules = yaml.safe_load((Path(__file__).resolve().parents[2] / "docs/ops/alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    referenced = {name for expr in expressions for name in re.findall(r"\b((?:promoengine|django)_[a-z_]+)", expr)}
    families = [*REGISTRY.collect(), *_live.collect()]
    exported = {family.name + suffix for family in families for suffix in ("", "_total", "_bucket", "_sum", "_count")}
    assert referenced <= exported, referenced - exported
    assert len(expressions) >= 10


@pytest.mark.django_db
def test_rate_limit_and_lockout_refusals_are_counted(api, settings):
    VoucherFactory(code="TEN")
    settings.RATE_LIMIT_DEFAULTS = {"key": "", "ip": "", "customer": "1/minute"}
    settings.RATE_LIMITS = {}
    limited = sample("promoengine_rate_limited_total", scope="validations")
    body = {**stacked("TEN"), "customer": {"source_id": "counted"}}
    assert api.post("/v1/validations", body).status_code == 200
    assert api.post("/v1/validations", body).status_code == 429
    assert sample("promoengine_rate_limited_total", scope="validations") == limited + 1

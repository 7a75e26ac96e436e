"""Rate limits (core.throttling): per API key, per client IP and per customer on the views that declare a
`throttle_scope`; 429 in the API's error format with Retry-After and X-RateLimit-* headers."""

import time
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from core import services
from core.middleware import client_ip
from core.throttling import rate_for, storage
from tests.conftest import JsonClient, assert_error
from tests.promo.factories import VoucherFactory

pytestmark = pytest.mark.django_db

CART = {"amount": 2000, "items": [{"source_id": "watch", "related_object": "product", "quantity": 1, "price": 2000}]}


def validation(customer: str | None = "alice") -> dict:
    body = {"redeemables": [{"object": "voucher", "id": "REAL"}], "order": CART}
    if customer:
        body["customer"] = {"source_id": customer}
    return body


@pytest.fixture
def real_code(db):
    return VoucherFactory(code="REAL")


@pytest.fixture
def limits(settings):
    """Set rates per dimension for every scope (the others off)."""
    def set_limits(**rates):
        settings.RATE_LIMIT_DEFAULTS = {"key": "", "ip": "", "customer": ""} | rates
        settings.RATE_LIMITS = {}
    return set_limits


def new_key_client() -> JsonClient:
    issued = services.api_key_create(name="another key")
    return JsonClient({"X-App-Id": issued.app_id, "X-App-Token": issued.app_token})


def test_over_the_customer_limit_answers_429_with_headers_in_the_error_format(api, real_code, limits):
    limits(customer="3/minute")
    for remaining in (2, 1, 0):
        response = api.post("/v1/validations", validation())
        assert response.status_code == 200, response.content
        assert response["X-RateLimit-Limit"] == "3"
        assert response["X-RateLimit-Remaining"] == str(remaining)
        assert "Retry-After" not in response and "X-RateLimit-Reset" not in response
    refused = api.post("/v1/validations", validation())
    body = assert_error(refused, 429, "too_many_requests")
    assert "per customer" in body["details"]
    assert refused["X-RateLimit-Limit"] == "3" and refused["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert int(refused["X-RateLimit-Reset"]) - int(time.time()) == pytest.approx(int(refused["Retry-After"]), abs=1)
    # Per customer: another one is still served, by the same key from the same address.
    assert api.post("/v1/validations", validation("bob")).status_code == 200
    # The customer may also be named by id, or as the order's customer: counted as the same value.
    assert_error(api.post("/v1/validations", {**validation(None), "customer": {"id": "alice"}}), 429,
                 "too_many_requests")
    assert_error(api.post("/v1/validations", {**validation(None), "order": {**CART, "customer": {
        "source_id": "alice"}}}), 429, "too_many_requests")


def test_the_limit_lifts_when_its_window_ends(api, real_code, limits):
    limits(customer="2/minute")
    for _ in range(2):
        assert api.post("/v1/validations", validation()).status_code == 200
    assert_error(api.post("/v1/validations", validation()), 429, "too_many_requests")
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert api.post("/v1/validations", validation()).status_code == 200


def test_per_api_key(api, real_code, limits):
    limits(key="2/minute")
    for customer in ("a", "b"):
        assert api.post("/v1/validations", validation(customer)).status_code == 200
    response = api.post("/v1/validations", validation("c"))
    assert "per API key" in assert_error(response, 429, "too_many_requests")["details"]
    assert new_key_client().post("/v1/validations", validation("c")).status_code == 200


def test_per_client_ip_behind_a_trusted_proxy(api, real_code, limits, settings):
    limits(ip="2/minute")
    settings.TRUSTED_PROXY_COUNT = 1
    first = {"X-Forwarded-For": "203.0.113.7"}
    for _ in range(2):
        assert api.post("/v1/validations", validation(None), headers=first).status_code == 200
    response = api.post("/v1/validations", validation(None), headers=first)
    assert "per client IP" in assert_error(response, 429, "too_many_requests")["details"]
    # A client that writes its own X-Forwarded-For entry gains nothing: the proxy's entry counts.
    spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
    assert_error(api.post("/v1/validations", validation(None), headers=spoofed), 429, "too_many_requests")
    assert api.post("/v1/validations", validation(None), headers={"X-Forwarded-For": "203.0.113.8"}).status_code \
        == 200


def test_without_trusted_proxies_x_forwarded_for_is_ignored(api, real_code, limits):
    limits(ip="1/minute")
    assert api.post("/v1/validations", validation(None), headers={"X-Forwarded-For": "203.0.113.1"}).status_code \
        == 200
    assert_error(api.post("/v1/validations", validation(None), headers={"X-Forwarded-For": "203.0.113.2"}), 429,
                 "too_many_requests")


@pytest.mark.parametrize(("proxies", "forwarded", "expected"), [
    (0, "203.0.113.9", "10.0.0.1"),
    (1, "203.0.113.9", "203.0.113.9"),
    (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),
    (2, "203.0.113.9, 10.0.0.2", "203.0.113.9"),
    (2, "203.0.113.9", "10.0.0.1"),  # fewer entries than proxies: not through them all
    (1, "not-an-address", "10.0.0.1"),
    (1, "", "10.0.0.1"),
    (1, "2001:db8:0:0::1", "2001:db8::1"),
])
def test_client_ip(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": forwarded}) == expected


@pytest.mark.parametrize("remote", ["", "unix:/run/gunicorn.sock", "not an address"])
def test_no_usable_address_is_no_address(settings, remote):
    assert client_ip({"REMOTE_ADDR": remote}) == ""


def test_redemptions_and_qualifications_are_limited_listing_is_not(api, real_code, limits):
    limits(key="1/minute")
    assert api.post("/v1/redemptions", validation()).status_code == 200
    assert_error(api.post("/v1/redemptions", validation()), 429, "too_many_requests")
    assert api.post("/v1/qualifications", {"customer": {"source_id": "alice"}}).status_code == 200
    assert_error(api.post("/v1/qualifications", {"customer": {"source_id": "alice"}}), 429, "too_many_requests")
    for _ in range(3):
        listed = api.get("/v1/redemptions")
        assert listed.status_code == 200 and "X-RateLimit-Limit" not in listed


def test_scopes_count_apart(api, real_code, limits):
    limits(key="1/minute")
    assert api.post("/v1/validations", validation()).status_code == 200
    assert api.post("/v1/redemptions", validation()).status_code == 200


def test_per_scope_rates_override_the_defaults(api, real_code, settings):
    settings.RATE_LIMITS = {"validations": {"customer": "1/minute"}}
    assert str(rate_for("validations", "customer")) == "1 per 1 minute"
    assert rate_for("redemptions", "customer") == rate_for("qualifications", "customer")
    assert api.post("/v1/validations", validation()).status_code == 200
    assert_error(api.post("/v1/validations", validation()), 429, "too_many_requests")


def test_a_view_added_later_is_limited_by_declaring_its_scope(settings, issued_key):
    """Client-side endpoints (/client/v1/...) will declare `throttle_scope = "client"`: that is all it takes."""

    class ClientValidations(APIView):
        authentication_classes, permission_classes = [], []
        throttle_scope = "client"

        def post(self, request):
            return Response({"ok": True})

    settings.RATE_LIMITS = {"client": {"ip": "2/minute", "customer": ""}}
    view = ClientValidations.as_view()
    factory = APIRequestFactory()
    answers = [view(factory.post("/client/v1/validations", {}, format="json")) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].data["key"] == "too_many_requests" and answers[2]["Retry-After"]


def test_disabled_limits_count_nothing(api, real_code, limits, settings):
    limits(customer="1/minute")
    settings.RATE_LIMITS_ENABLED = False
    for _ in range(3):
        response = api.post("/v1/validations", validation())
        assert response.status_code == 200 and "X-RateLimit-Limit" not in response


def test_a_failing_storage_lets_requests_through(api, real_code, limits, monkeypatch):
    limits(customer="1/minute")

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(storage(), "incr", down)
    monkeypatch.setattr(storage(), "get", down)
    for _ in range(3):
        assert api.post("/v1/validations", validation()).status_code == 200


@pytest.mark.parametrize("rate", ["ten/minute", "10/fortnight", "10/m", "-1/minute"])
def test_a_malformed_rate_is_a_configuration_error(settings, rate):
    settings.RATE_LIMITS = {"validations": {"key": rate}}
    with pytest.raises(ImproperlyConfigured):
        rate_for("validations", "key")


@pytest.mark.parametrize("rate", ["", "0", "0/minute"])
def test_an_empty_or_zero_rate_is_off(settings, rate):
    settings.RATE_LIMITS = {"validations": {"key": rate}}
    assert rate_for("validations", "key") is None


@pytest.fixture
def in_redis(settings, local_redis_url):
    """Count in Redis, as production does with REDIS_URL set."""
    settings.REDIS_URL = local_redis_url
    return storage()


def test_in_redis_the_limits_are_shared_and_answer_the_same(api, real_code, limits, in_redis):
    from limits.storage import RedisStorage

    assert isinstance(in_redis, RedisStorage)
    limits(customer="2/minute")
    for remaining in (1, 0):
        assert api.post("/v1/validations", validation())["X-RateLimit-Remaining"] == str(remaining)
    refused = api.post("/v1/validations", validation())
    assert_error(refused, 429, "too_many_requests")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert int(refused["X-RateLimit-Reset"]) >= int(time.time())


def test_counting_in_memory_starts_no_thread_and_sweeps_expired_keys():
    """limits' own memory storage starts a sweeper thread every 10 ms while counting (about 1 ms per request)."""
    import threading

    from core.throttling import ProcessMemoryStorage

    memory = ProcessMemoryStorage()
    time.sleep(0.05)  # the one timer its constructor starts has run
    threads = threading.active_count()
    for n in range(200):
        memory.incr(f"key-{n}", 1)
    assert threading.active_count() == threads
    assert memory.get("key-0") == 1
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        memory.next_sweep = 0  # a minute has passed
        memory.incr("fresh", 60)
        assert set(memory.storage) == {"fresh"}

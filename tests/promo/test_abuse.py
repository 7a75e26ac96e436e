"""Codes cannot be enumerated (issue 13): lockouts after invalid codes per customer, client IP and API key, one
`redemption.fraud_suspected` event per episode, and every failed attempt recorded with who made it."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.utils import timezone

from customers.models import Customer
from distribution import services as webhooks
from distribution.models import WebhookDelivery
from promo import abuse
from promo.handlers import DiscountVoucherHandler
from promo.models import FailedAttempt, Lockout, Redemption
from promo.registry import RedeemableError
from tests.conftest import JsonClient, assert_error
from tests.customers.factories import CustomerFactory
from tests.promo.factories import VoucherFactory

pytestmark = pytest.mark.django_db

CART = {"amount": 2000, "items": [{"source_id": "watch", "related_object": "product", "quantity": 1, "price": 2000}]}


def attempt(*codes, customer: str | None = "mallory", **extra) -> dict:
    body = {"redeemables": [{"object": "voucher", "id": code} for code in codes], "order": CART, **extra}
    if customer:
        body["customer"] = {"source_id": customer}
    return body


@pytest.fixture
def lockouts(settings):
    """Small thresholds: 3 invalid codes per customer in 10 minutes lock it out for a minute."""
    settings.RATE_LIMITS_ENABLED = False
    settings.LOCKOUT_INVALID_CODES_PER_CUSTOMER = 3
    settings.LOCKOUT_INVALID_CODES_PER_IP = 1000
    settings.LOCKOUT_INVALID_CODES_PER_KEY = 1000
    settings.LOCKOUT_WINDOW_SECONDS = 600
    settings.LOCKOUT_SECONDS = 60
    return settings


@pytest.fixture
def real_code(db):
    return VoucherFactory(code="REAL-CODE")


@pytest.fixture
def fraud_endpoint(db, settings):
    settings.WEBHOOK_ALLOW_HTTP_LOCALHOST = True
    return webhooks.endpoint_create(url="http://127.0.0.1:9/hooks", event_types=[abuse.FRAUD_EVENT])


def fraud_events() -> list[dict]:
    return [d.payload for d in WebhookDelivery.objects.filter(event_type=abuse.FRAUD_EVENT).order_by("pk")]


def test_after_n_invalid_codes_even_the_real_code_is_refused_until_the_cool_down_ends(api, real_code, lockouts):
    for guess in ("GUESS-1", "GUESS-2", "GUESS-3"):
        body = api.post("/v1/validations", attempt(guess)).json()
        assert body["valid"] is False and body["redeemables"][0]["result"]["error"]["key"] == "not_found"
    refused = api.post("/v1/validations", attempt("REAL-CODE"))
    body = assert_error(refused, 429, "too_many_invalid_codes")
    assert "customer" in body["details"]
    assert 55 <= int(refused["Retry-After"]) <= 60
    assert_error(api.post("/v1/redemptions", attempt("REAL-CODE")), 429, "too_many_invalid_codes")
    assert Redemption.objects.count() == 0  # refused before anything was looked at
    # Only that customer: another one still gets the real code.
    assert api.post("/v1/validations", attempt("REAL-CODE", customer="alice")).json()["valid"] is True

    [episode] = Lockout.objects.all()
    assert (episode.subject_type, episode.subject, episode.invalid_codes) == ("customer", "mallory", 3)
    assert sorted(episode.codes) == ["GUESS-1", "GUESS-2", "GUESS-3"]
    assert episode.ips == ["127.0.0.1"] and episode.refused_attempts == 2

    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert api.post("/v1/validations", attempt("REAL-CODE")).json()["valid"] is True
        assert api.post("/v1/redemptions", attempt("REAL-CODE")).status_code == 200


def test_the_issue_scenario_with_the_default_settings(api, real_code):
    """Issue 13: random codes from one key and one customer, then the real code. With the defaults the eleventh
    attempt is refused, the real code with it, and the episode is recorded."""
    statuses = [api.post("/v1/validations", attempt(f"RANDOM-{n:04d}")).status_code for n in range(12)]
    assert statuses == [200] * 10 + [429] * 2
    assert_error(api.post("/v1/validations", attempt("REAL-CODE")), 429, "too_many_invalid_codes")
    episode = Lockout.objects.get()
    assert (episode.subject_type, episode.invalid_codes, len(episode.codes)) == ("customer", 10, 10)
    assert (episode.locked_until - episode.started_at).total_seconds() == 900


def test_stacked_guesses_count_one_by_one(api, real_code, lockouts):
    body = api.post("/v1/validations", attempt("REAL-CODE", "G1", "G2", "G3",
                                               stacking_rules={"redeemables_application_mode": "PARTIAL"})).json()
    assert [r["status"] for r in body["redeemables"]].count("INAPPLICABLE") == 3
    assert_error(api.post("/v1/validations", attempt("REAL-CODE")), 429, "too_many_invalid_codes")


def test_other_refusals_do_not_count(api, lockouts):
    VoucherFactory(code="OFF", active=False)
    for _ in range(5):
        assert api.post("/v1/validations", attempt("OFF")).json()["valid"] is False
    assert api.post("/v1/validations", attempt("OFF")).status_code == 200
    assert not Lockout.objects.exists()
    assert FailedAttempt.objects.filter(failure_code="voucher_disabled", invalid_codes=0).count() == 6


def test_per_client_ip_whatever_customer_is_named(api, real_code, lockouts):
    lockouts.LOCKOUT_INVALID_CODES_PER_IP = 4
    for n in range(4):
        api.post("/v1/validations", attempt(f"GUESS-{n}", customer=f"fresh-{n}"))
    response = api.post("/v1/validations", attempt("REAL-CODE", customer="someone-new"))
    assert "client ip" in assert_error(response, 429, "too_many_invalid_codes")["details"].lower()
    [episode] = Lockout.objects.all()
    assert (episode.subject_type, episode.subject, episode.invalid_codes) == ("ip", "127.0.0.1", 4)


def test_per_api_key(api, issued_key, real_code, lockouts):
    lockouts.LOCKOUT_INVALID_CODES_PER_KEY = 2
    api.post("/v1/validations", attempt("GUESS-1", customer=None))
    api.post("/v1/redemptions", attempt("GUESS-2", customer=None))  # failed redemptions count too
    assert_error(api.post("/v1/validations", attempt("REAL-CODE", customer=None)), 429, "too_many_invalid_codes")
    [episode] = Lockout.objects.all()
    assert (episode.subject_type, episode.subject, episode.api_key) == ("api_key", issued_key.app_id,
                                                                        issued_key.api_key)


def test_a_zero_threshold_turns_that_lockout_off(api, real_code, lockouts):
    lockouts.LOCKOUT_INVALID_CODES_PER_CUSTOMER = 0
    for n in range(5):
        api.post("/v1/validations", attempt(f"GUESS-{n}"))
    assert api.post("/v1/validations", attempt("REAL-CODE")).json()["valid"] is True


def test_the_fraud_event_fires_once_per_episode(api, real_code, lockouts, fraud_endpoint):
    customer = CustomerFactory(source_id="mallory")
    for n in range(3):
        api.post("/v1/validations", attempt(f"GUESS-{n}"))
    for n in range(5):  # refused during the lockout: the same episode
        assert api.post("/v1/validations", attempt(f"MORE-{n}")).status_code == 429
    [event] = fraud_events()
    episode = Lockout.objects.get()
    assert event["type"] == "redemption.fraud_suspected" and episode.event_id == event["id"]
    data = event["data"]
    assert data["lockout"] == {"id": episode.public_id, "object": "lockout"}
    assert data["subject"] == {"type": "customer", "value": "mallory"}
    assert data["customer"] == {"id": customer.public_id, "source_id": "mallory", "object": "customer"}
    assert data["invalid_codes"] == 3 and sorted(data["codes"]) == ["GUESS-0", "GUESS-1", "GUESS-2"]
    assert data["ips"] == ["127.0.0.1"] and data["window_seconds"] == 600
    assert data["locked_until"].startswith(episode.locked_until.strftime("%Y-%m-%dT%H:%M:%S"))

    with time_machine.travel(timezone.now() + timedelta(seconds=61)):  # a new episode after the cool-down
        for n in range(3):
            api.post("/v1/validations", attempt(f"AGAIN-{n}"))
        assert api.post("/v1/validations", attempt("REAL-CODE")).status_code == 429
    assert len(fraud_events()) == 2
    first, second = Lockout.objects.order_by("started_at")
    assert (first.current, second.current) == (False, True)
    assert sorted(second.codes) == ["AGAIN-0", "AGAIN-1", "AGAIN-2"]
    assert first.refused_attempts == 5 and second.refused_attempts == 1


def test_a_failed_validation_is_recorded_with_customer_key_and_ip(api, issued_key, lockouts):
    customer = CustomerFactory(source_id="alice")
    api.post("/v1/validations", attempt("NOPE", customer="alice"), headers={"X-Request-ID": "req-1"})
    [record] = FailedAttempt.objects.all()
    assert (record.kind, record.failure_code, record.invalid_codes) == ("VALIDATION", "not_found", 1)
    assert (record.customer, record.customer_ref, record.api_key, record.ip) == (customer, "alice",
                                                                                 issued_key.api_key, "127.0.0.1")
    assert record.redeemables == [{"object": "voucher", "id": "NOPE", "failure": "not_found"}]
    assert record.request_id == "req-1"


def test_a_successful_validation_records_nothing(api, real_code, lockouts):
    assert api.post("/v1/validations", attempt("REAL-CODE")).json()["valid"] is True
    assert not FailedAttempt.objects.exists()


def test_a_failed_redemption_of_a_new_customer_keeps_who_tried(api, issued_key, lockouts):
    response = api.post("/v1/redemptions", attempt("NOPE", customer="new-customer"))
    assert_error(response, 400, "not_found")
    parent = Redemption.objects.get(public_id=response.json()["redemption_id"])
    assert (parent.customer, parent.customer_ref, parent.api_key, parent.ip) == (None, "new-customer",
                                                                                 issued_key.api_key, "127.0.0.1")
    assert {child.customer_ref for child in parent.children.all()} == {"new-customer"}
    record = FailedAttempt.objects.get()
    assert (record.kind, record.redemption, record.customer_ref, record.ip) == ("REDEMPTION", parent,
                                                                                "new-customer", "127.0.0.1")


def test_a_redemption_whose_customer_upsert_is_rolled_back_is_still_recorded(api, real_code, lockouts,
                                                                               monkeypatch):
    """The race path: the customer was upserted inside the redemption's transaction, then a limit was lost."""
    def lost_race(self, voucher, ctx, ref, applied):
        assert Customer.objects.filter(source_id="brand-new").exists()  # upserted, not committed
        raise RedeemableError("quantity_exceeded", "Quantity exceeded", "Taken by another redemption")

    monkeypatch.setattr(DiscountVoucherHandler, "redeem", lost_race)
    response = api.post("/v1/redemptions", attempt("REAL-CODE", customer="brand-new") | {
        "customer": {"source_id": "brand-new", "email": "new@example.com"}})
    assert_error(response, 400, "quantity_exceeded")
    assert not Customer.objects.filter(source_id="brand-new").exists()
    parent = Redemption.objects.get(public_id=response.json()["redemption_id"])
    assert (parent.customer, parent.customer_ref, parent.ip) == (None, "brand-new", "127.0.0.1")
    assert FailedAttempt.objects.get().customer_ref == "brand-new"


def test_successful_redemptions_record_the_client_ip(api, real_code, lockouts, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    response = api.post("/v1/redemptions", attempt("REAL-CODE", customer="alice"),
                        headers={"X-Forwarded-For": "203.0.113.5"})
    assert response.status_code == 200
    assert set(Redemption.objects.values_list("ip", "customer_ref")) == {("203.0.113.5", "alice")}


def test_back_office_validations_are_not_guarded(real_code, lockouts):
    from promo import services

    for n in range(5):
        services.validate(attempt(f"GUESS-{n}"))
    assert services.validate(attempt("REAL-CODE"))["valid"] is True
    assert not FailedAttempt.objects.exists() and not Lockout.objects.exists()


def test_admin_lists_episodes_and_attempts(api, real_code, lockouts):
    for n in range(4):
        api.post("/v1/validations", attempt(f"GUESS-{n}"))
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-123456789"))
    listing = admin.get("/admin/promo/lockout/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "mallory" in page and "GUESS-0" in page
    episode = Lockout.objects.get()
    detail = admin.get(f"/admin/promo/lockout/{episode.pk}/change/")
    assert detail.status_code == 200 and "GUESS-2" in detail.content.decode()
    assert admin.get("/admin/promo/lockout/?q=mallory").status_code == 200
    attempts = admin.get("/admin/promo/failedattempt/?q=127.0")
    assert attempts.status_code == 200 and "GUESS-1" in attempts.content.decode()
    assert admin.get("/admin/promo/lockout/add/").status_code == 403


def test_customer_service_may_read_episodes(lockouts):
    from backoffice.roles import CUSTOMER_SERVICE, sync_roles

    sync_roles()
    user = get_user_model().objects.create_user("cs", "cs@example.com", "pw-123456789", is_staff=True)
    user.groups.add(Group.objects.get(name=CUSTOMER_SERVICE))
    client = Client()
    client.force_login(user)
    assert client.get("/admin/promo/lockout/").status_code == 200
    assert client.get("/admin/promo/failedattempt/").status_code == 200


# ---------------------------------------------------------------- concurrency (PostgreSQL)

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_requests_crossing_the_threshold_together_start_one_episode(lockouts, fraud_endpoint, issued_key):
    """16 threads each send one invalid code at the same moment with a threshold of 4: the counter is atomic, the
    episode is claimed once (its INSERT), one event is sent, and later attempts are refused."""
    lockouts.LOCKOUT_INVALID_CODES_PER_CUSTOMER = 4
    VoucherFactory(code="REAL-CODE")
    headers = {"X-App-Id": issued_key.app_id, "X-App-Token": issued_key.app_token}
    barrier = threading.Barrier(16)
    statuses = []

    def guess(n: int) -> None:
        client = JsonClient(headers)
        barrier.wait()
        statuses.append(client.post("/v1/validations", attempt(f"RACE-{n}")).status_code)
        connection.close()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(200) + statuses.count(429) == 16
    episode = Lockout.objects.get()
    assert episode.invalid_codes >= 4 and len(fraud_events()) == 1
    assert FailedAttempt.objects.count() == statuses.count(200)
    assert_error(JsonClient(headers).post("/v1/validations", attempt("REAL-CODE")), 429, "too_many_invalid_codes")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_of_one_subject_make_one_episode(lockouts, fraud_endpoint):
    subject = abuse.Subject(Lockout.Subject.IP, "198.51.100.9", 3, ("ip", "198.51.100.9"))
    barrier = threading.Barrier(12)
    episodes = []

    def claim() -> None:
        barrier.wait()
        episodes.append(abuse.lock_out(subject, 3).pk)
        connection.close()

    threads = [threading.Thread(target=claim) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(episodes)) == 1 and Lockout.objects.count() == 1
    assert len(fraud_events()) == 1


def test_lockouts_in_redis(api, real_code, lockouts, local_redis_url):
    """The lock keys are read in one MGET when the storage is Redis."""
    lockouts.REDIS_URL = local_redis_url
    for n in range(3):
        api.post("/v1/validations", attempt(f"GUESS-{n}"))
    refused = api.post("/v1/validations", attempt("REAL-CODE"))
    assert_error(refused, 429, "too_many_invalid_codes")
    assert 55 <= int(refused["Retry-After"]) <= 60
    assert Lockout.objects.get().refused_attempts == 1
    assert api.post("/v1/validations", attempt("REAL-CODE", customer="alice")).json()["valid"] is True

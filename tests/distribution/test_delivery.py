"""Emitting and sending: one delivery per subscribed active endpoint, sent after commit only, retried with
exponential backoff until the configured number of attempts."""

import pytest
from django.db import transaction

from distribution import services
from distribution.models import WebhookDelivery
from tests.promo.factories import CampaignFactory

pytestmark = pytest.mark.django_db


def test_emit_creates_one_delivery_per_subscribed_active_endpoint(receiver, make_endpoint,
                                                                 django_capture_on_commit_callbacks):
    everything = make_endpoint(receiver.url + "/all")
    prefixed = make_endpoint(receiver.url + "/campaigns", ["campaign.*"])
    exact = make_endpoint(receiver.url + "/exact", ["campaign.budget_exhausted"])
    make_endpoint(receiver.url + "/vouchers", ["voucher.budget_exhausted"])
    make_endpoint(receiver.url + "/off", active=False)
    campaign = CampaignFactory(name="Spring")
    with django_capture_on_commit_callbacks(execute=True):
        event_id = services.emit("campaign.budget_exhausted", {"limit": 3000}, campaign=campaign)
    deliveries = WebhookDelivery.objects.filter(event_id=event_id)
    assert {d.endpoint_id for d in deliveries} == {everything.pk, prefixed.pk, exact.pk}
    assert sorted(r.path for r in receiver.requests) == ["/all", "/campaigns", "/exact"]
    body = receiver.requests[0].json
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["id"] == event_id and event_id.startswith("evt_")
    assert body["type"] == "campaign.budget_exhausted"
    assert body["data"] == {"limit": 3000, "campaign": {"id": campaign.public_id, "name": "Spring",
                                                         "object": "campaign"}}
    for delivery in deliveries:
        assert delivery.status == "SUCCEEDED" and delivery.attempts == 1 and delivery.last_response_status == 200
        assert delivery.next_attempt_at is None and delivery.delivered_at is not None
        assert delivery.campaign_id == campaign.pk


def test_nothing_listens_nothing_is_stored():
    assert services.emit("campaign.budget_exhausted", {}) is None
    assert not WebhookDelivery.objects.exists()


def test_an_unknown_event_type_is_a_programming_error():
    with pytest.raises(ValueError):
        services.emit("campaign.typo", {})


def test_a_rolled_back_transaction_sends_nothing(receiver, make_endpoint, django_capture_on_commit_callbacks):
    make_endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                services.emit("campaign.budget_exhausted", {"limit": 1})
                raise RuntimeError("redemption failed")
        except RuntimeError:
            pass
    assert callbacks == []
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_sending_waits_for_the_commit(receiver, make_endpoint, django_capture_on_commit_callbacks):
    make_endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.emit("campaign.budget_exhausted", {"limit": 1})
    assert len(callbacks) == 1 and receiver.requests == []
    callbacks[0]()
    assert len(receiver.requests) == 1


def _due(_clock=None):
    return services.deliveries_retry_due()


def test_failures_are_retried_with_exponential_backoff_until_max_attempts(receiver, make_endpoint, clock, settings,
                                                                          django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 6
    receiver.statuses = [500]
    make_endpoint(receiver.url)
    start = clock.now
    with django_capture_on_commit_callbacks(execute=True):
        services.emit("campaign.budget_exhausted", {"limit": 1})
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_response_status) == ("PENDING", 1, 500)
    assert "HTTP 500" in delivery.last_error
    assert delivery.next_attempt_at == start + services.timedelta(minutes=1)

    elapsed = 0
    for attempt, wait in zip(range(2, 7), [60, 300, 1800, 7200, 21600], strict=True):
        clock.advance(seconds=wait - 1)
        assert _due(clock) == 0  # not due yet
        clock.advance(seconds=1)
        elapsed += wait
        assert _due(clock) == 1
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        assert delivery.last_attempt_at == start + services.timedelta(seconds=elapsed)
    assert delivery.status == "FAILED" and delivery.next_attempt_at is None
    assert len(receiver.requests) == 6
    clock.advance(days=1)
    assert _due(clock) == 0
    # The same event id on every attempt (receivers deduplicate on it), a fresh timestamp each time.
    assert len({r.headers["X-Webhook-Id"] for r in receiver.requests}) == 1


def test_a_retry_that_succeeds_stops_the_retries(receiver, make_endpoint, clock, django_capture_on_commit_callbacks):
    receiver.statuses = [503, 200]
    make_endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        services.emit("campaign.budget_exhausted", {})
    clock.advance(minutes=1)
    assert _due(clock) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("SUCCEEDED", 2, "")
    clock.advance(days=1)
    assert _due(clock) == 0 and len(receiver.requests) == 2


def test_max_attempts_is_configurable(receiver, make_endpoint, clock, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.statuses = [500]
    make_endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        services.emit("campaign.budget_exhausted", {})
    clock.advance(minutes=1)
    services.deliveries_retry_due()
    assert WebhookDelivery.objects.get().status == "FAILED"
    assert len(receiver.requests) == 2


def test_a_redirect_or_an_unreachable_endpoint_is_a_failed_attempt(receiver, make_endpoint,
                                                                  django_capture_on_commit_callbacks):
    receiver.statuses = [302]
    make_endpoint(receiver.url + "/moved")
    make_endpoint("http://127.0.0.1:9/closed")  # discard port: nothing listens
    with django_capture_on_commit_callbacks(execute=True):
        services.emit("campaign.budget_exhausted", {})
    moved, closed = WebhookDelivery.objects.order_by("endpoint_id")
    assert (moved.status, moved.last_response_status) == ("PENDING", 302)
    assert [r.path for r in receiver.requests] == ["/moved"]  # not followed
    assert closed.status == "PENDING" and closed.last_response_status is None
    assert "Connection failed" in closed.last_error


def test_a_slow_endpoint_times_out(receiver, make_endpoint, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.2
    receiver.delay = 1
    make_endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        services.emit("campaign.budget_exhausted", {})
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "PENDING" and delivery.last_response_status is None
    assert "timed out" in delivery.last_error.lower()


def test_a_deactivated_endpoint_gets_no_more_attempts(receiver, make_endpoint, clock,
                                                      django_capture_on_commit_callbacks):
    receiver.statuses = [500]
    endpoint = make_endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        services.emit("campaign.budget_exhausted", {})
    services.endpoint_update(endpoint, active=False)
    clock.advance(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        services.deliveries_retry_due()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_error) == ("FAILED", "Endpoint is not active")
    assert len(receiver.requests) == 1


def test_manual_retry_gives_a_failed_delivery_one_more_attempt(receiver, make_endpoint, clock, settings,
                                                              django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver.statuses = [500, 200]
    make_endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        services.emit("campaign.budget_exhausted", {})
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "FAILED"
    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_retry(delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("SUCCEEDED", 2)


def test_manual_retry_is_refused_while_an_attempt_is_in_flight(make_endpoint, clock):
    make_endpoint("http://127.0.0.1:9/")
    services.emit("campaign.budget_exhausted", {})  # not committed: nothing sent yet
    delivery = WebhookDelivery.objects.get()
    assert services._claim(delivery, clock.now)  # a worker is sending it
    with pytest.raises(services.Conflict):
        services.delivery_retry(delivery)
    clock.advance(seconds=services.timeout_seconds() * 2 + 6)  # that worker died: its lease ran out
    assert services.delivery_retry(delivery).status == "PENDING"


def test_a_claimed_attempt_is_not_claimed_again(make_endpoint, clock):
    make_endpoint("http://127.0.0.1:9/")
    services.emit("campaign.budget_exhausted", {})
    stale = WebhookDelivery.objects.get()
    assert services._claim(stale, clock.now) is True
    assert services._claim(stale, clock.now) is False  # same attempt number: someone else has it
    assert services.delivery_attempt(stale.pk) is None  # not due: the claim moved next_attempt_at


def test_backoff_schedule():
    assert [services.backoff_seconds(n) for n in range(1, 8)] == [60, 300, 1800, 7200, 21600, 21600, 21600]


def test_the_beat_task_is_scheduled_and_sends_due_deliveries(receiver, make_endpoint, clock, settings,
                                                             django_capture_on_commit_callbacks):
    from distribution.tasks import retry_due_deliveries
    from promoengine.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["distribution-retry-webhooks"]
    assert entry["task"] == retry_due_deliveries.name in app.tasks
    receiver.statuses = [500, 200]
    make_endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        services.emit("campaign.budget_exhausted", {})
    clock.advance(minutes=1)
    assert retry_due_deliveries.delay().get() == 1  # eager without a broker
    assert WebhookDelivery.objects.get().status == "SUCCEEDED"

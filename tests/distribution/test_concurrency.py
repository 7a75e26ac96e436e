"""The claim on PostgreSQL with real threads: workers racing for the same deliveries send each attempt once."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from distribution import services
from distribution.models import WebhookDelivery

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _race(workers: int, call):
    barrier = threading.Barrier(workers)

    def run(_):
        try:
            barrier.wait()
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, range(workers)))


def test_16_workers_on_one_delivery_send_it_once(receiver, make_endpoint):
    receiver.delay = 0.2  # the winner is still sending while the others try
    make_endpoint(receiver.url)
    with services.transaction.atomic():
        services.emit("campaign.budget_exhausted", {"limit": 1})
    # The on_commit send ran inline (eager); make it due again as if it had failed a minute ago.
    WebhookDelivery.objects.update(status="PENDING", next_attempt_at=services._now())
    sent_before = len(receiver.requests)
    delivery = WebhookDelivery.objects.get()

    results = _race(16, lambda: services.delivery_attempt(delivery.pk))
    assert sum(result is not None for result in results) == 1
    assert len(receiver.requests) == sent_before + 1
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.status) == (2, "SUCCEEDED")


def test_8_beat_scans_at_once_send_each_due_delivery_once(receiver, make_endpoint):
    for i in range(10):
        make_endpoint(f"{receiver.url}/{i}")
    receiver.statuses = [500]
    with services.transaction.atomic():
        services.emit("campaign.budget_exhausted", {"limit": 1})
    assert len(receiver.requests) == 10
    receiver.statuses = [200]
    WebhookDelivery.objects.update(next_attempt_at=services._now())

    _race(8, services.deliveries_retry_due)
    assert len(receiver.requests) == 20
    assert sorted(r.path for r in receiver.requests[10:]) == sorted(f"/{i}" for i in range(10))
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("SUCCEEDED", 2)}

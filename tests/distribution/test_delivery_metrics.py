"""Webhook delivery failures are counted: each failed attempt, and the delivery given up at the last one."""

import pytest

from distribution import services
from tests.ops.metrics_helpers import sample

pytestmark = pytest.mark.django_db


def test_failed_attempts_and_given_up_deliveries_are_counted(receiver, make_endpoint, clock, settings,
                                                              django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.statuses = [500]
    make_endpoint(receiver.url)
    retrying = sample("promoengine_webhook_delivery_failures_total", outcome="retrying")
    gave_up = sample("promoengine_webhook_delivery_failures_total", outcome="gave_up")
    with django_capture_on_commit_callbacks(execute=True):
        services.emit("campaign.budget_exhausted", {})
    assert sample("promoengine_webhook_delivery_failures_total", outcome="retrying") == retrying + 1
    clock.advance(minutes=1)
    services.deliveries_retry_due()
    assert sample("promoengine_webhook_delivery_failures_total", outcome="gave_up") == gave_up + 1

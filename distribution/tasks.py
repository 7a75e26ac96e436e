"""Background work of webhooks: send one delivery (queued on commit by distribution.services.emit), and
the beat task (CELERY_BEAT_SCHEDULE in settings) that re-sends the deliveries whose retry is due.
Both are idempotent: each attempt is claimed by a conditional UPDATE before it is sent."""

from celery import shared_task

from distribution import services


@shared_task(name="distribution.send_delivery", acks_late=True)
def send_delivery(delivery_id: int) -> None:
    services.delivery_attempt(delivery_id)


@shared_task(name="distribution.retry_due_deliveries")
def retry_due_deliveries() -> int:
    return services.deliveries_retry_due()

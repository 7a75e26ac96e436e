"""Reads of webhooks: endpoints, their deliveries, and the deliveries due for a retry."""

from django.db.models import QuerySet

from core.errors import NotFound
from distribution.models import WebhookDelivery, WebhookEndpoint


def _valid_ref(ref) -> bool:
    return isinstance(ref, str) and "\x00" not in ref and len(ref) <= 64


def endpoint_get(ref) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(public_id=ref).first() if _valid_ref(ref) else None
    if endpoint is None:
        raise NotFound.for_object("webhook", ref)
    return endpoint


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.order_by("-created_at", "-id")


def delivery_get(ref) -> WebhookDelivery:
    delivery = (WebhookDelivery.objects.select_related("endpoint").filter(public_id=ref).first()
                if _valid_ref(ref) else None)
    if delivery is None:
        raise NotFound.for_object("webhook delivery", ref)
    return delivery


def delivery_list(endpoint: WebhookEndpoint, *, status: str | None = None) -> QuerySet[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("endpoint")
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries.order_by("-created_at", "-id")


def due_delivery_ids(now, *, limit: int = 500) -> list[int]:
    """PENDING deliveries whose next attempt is due, oldest due first."""
    return list(WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
                .order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])

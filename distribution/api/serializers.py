"""Request and response shapes of /v1/webhooks. Input serializers check the JSON types (null means "not
given"); the URL and event types are checked by distribution.services. Output is built by serialize_*
functions; the Output serializers document it."""

from rest_framework import serializers

from core.api.fields import StrictBooleanField, StrictCharField, optional
from distribution.models import WebhookDelivery, WebhookEndpoint

_datetime = serializers.DateTimeField()
DELIVERY_STATUSES = "|".join(WebhookDelivery.Status.values)


def _iso(value) -> str | None:
    return _datetime.to_representation(value) if value is not None else None


class WebhookInputSerializer(serializers.Serializer):
    url = optional(StrictCharField, max_length=2000,
                   help_text="https URL the events are POSTed to (required on create).")
    event_types = optional(serializers.ListField, child=StrictCharField(max_length=80), max_length=100,
                           help_text='Event types, "prefix.*", or "*" for all (default ["*"]).')
    description = optional(StrictCharField, max_length=255, allow_blank=True)
    active = optional(StrictBooleanField)


class WebhookOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="webhook")
    url = serializers.CharField()
    event_types = serializers.ListField(child=serializers.CharField())
    active = serializers.BooleanField()
    description = serializers.CharField()
    secret_hint = serializers.CharField(help_text="The first characters of the signing secret.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookCreatedOutputSerializer(WebhookOutputSerializer):
    secret = serializers.CharField(help_text="The signing secret, shown only in this answer: store it now.")


class WebhookListOutputSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data_ref = serializers.CharField(default="webhooks")
    webhooks = WebhookOutputSerializer(many=True)
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()


class WebhookDeliveryOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="webhook_delivery")
    webhook_id = serializers.CharField()
    event_id = serializers.CharField()
    event_type = serializers.CharField()
    status = serializers.CharField(help_text=f"One of {DELIVERY_STATUSES}.")
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_response_status = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    payload = serializers.DictField(help_text="The body sent: {id, type, created_at, data}.")


class WebhookDeliveryListOutputSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data_ref = serializers.CharField(default="deliveries")
    deliveries = WebhookDeliveryOutputSerializer(many=True)
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()


def serialize_webhook(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict:
    body = {
        "id": endpoint.public_id,
        "object": "webhook",
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "active": endpoint.active,
        "description": endpoint.description,
        "secret_hint": endpoint.secret_hint,
        "created_at": _iso(endpoint.created_at),
        "updated_at": _iso(endpoint.updated_at),
    }
    if with_secret:
        body["secret"] = endpoint.secret
    return body


def serialize_webhooks(endpoints) -> list[dict]:
    return [serialize_webhook(endpoint) for endpoint in endpoints]


def serialize_delivery(delivery: WebhookDelivery) -> dict:
    return {
        "id": delivery.public_id,
        "object": "webhook_delivery",
        "webhook_id": delivery.endpoint.public_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": _iso(delivery.next_attempt_at),
        "last_attempt_at": _iso(delivery.last_attempt_at),
        "last_response_status": delivery.last_response_status,
        "last_error": delivery.last_error,
        "delivered_at": _iso(delivery.delivered_at),
        "created_at": _iso(delivery.created_at),
        "payload": delivery.payload,
    }


def serialize_deliveries(deliveries) -> list[dict]:
    return [serialize_delivery(delivery) for delivery in deliveries]

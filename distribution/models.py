"""Webhooks: endpoints that subscribe to event types, and one delivery row per (event, endpoint).

A delivery is the unit of sending and retrying. It is claimed for one attempt by a conditional UPDATE
on (status, attempts, next_attempt_at), so two workers never send the same attempt (services).
"""

from django.db import models
from django.db.models import Q

from core.fields import PublicIdField, TimeStampedModel


class WebhookEndpoint(TimeStampedModel):
    public_id = PublicIdField(prefix="wh_")
    url = models.URLField(max_length=2000, help_text="Where events are POSTed; https (http only for localhost "
                                                     "in development).")
    # Kept in clear: the HMAC needs it. Shown once, when the endpoint is created.
    secret = models.CharField(max_length=100, editable=False)
    event_types = models.JSONField(default=list, blank=True,
                                   help_text='Event types to deliver: names, "prefix.*", or "*" for all.')
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return f"{self.url} ({self.public_id})"

    @property
    def secret_hint(self) -> str:
        return f"{self.secret[:10]}…" if self.secret else ""


class WebhookDelivery(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "PENDING"
        SUCCEEDED = "SUCCEEDED"
        FAILED = "FAILED"

    public_id = PublicIdField(prefix="whd_")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=64, db_index=True, help_text="evt_…, the same for every endpoint "
                                                                         "the event goes to.")
    event_type = models.CharField(max_length=80, db_index=True)
    payload = models.JSONField(help_text="The body sent: {id, type, created_at, data}.")
    campaign = models.ForeignKey("promo.Campaign", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True,
                                           help_text="When a PENDING delivery is due (again).")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set by the claim of an attempt, cleared with its outcome: an attempt is in flight until then.
    sending_until = models.DateTimeField(null=True, blank=True)
    last_response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The beat task's scan: due PENDING deliveries only.
            models.Index(fields=["next_attempt_at"], condition=Q(status="PENDING"), name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["PENDING", "SUCCEEDED", "FAILED"]),
                                   name="webhook_delivery_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} -> {self.endpoint_id} ({self.status})"

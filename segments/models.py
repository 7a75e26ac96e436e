"""Customer segments: a fixed list (static) or a filter over customers (auto-update, passive), the
membership stints of each customer, and the entered/left events that triggers consume.

A membership row is one stint: `entered_at` when the customer joined, `left_at` when they stopped
matching (null while they are a member). A partial UNIQUE index allows one open stint per customer
and segment, so a concurrent refresh and recompute can never make a customer a member twice.
"""

from django.db import models
from django.db.models import Q

from core.fields import PublicIdField, TimeStampedModel


class Segment(TimeStampedModel):
    class Type(models.TextChoices):
        STATIC = "static", "Static (a fixed list)"
        AUTO_UPDATE = "auto-update", "Auto-update (filter; entered/left events)"
        PASSIVE = "passive", "Passive (filter; no events)"

    class SyncStatus(models.TextChoices):
        IN_PROGRESS = "IN_PROGRESS"
        DONE = "DONE"

    DYNAMIC_TYPES = (Type.AUTO_UPDATE, Type.PASSIVE)

    public_id = PublicIdField(prefix="seg_")
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.AUTO_UPDATE)
    filter = models.JSONField(null=True, blank=True, help_text="Voucherify-style filter: "
                              '{"junction": "and", "address.city": {"conditions": {"$is": ["London"]}}}')
    initial_sync_status = models.CharField(max_length=20, choices=SyncStatus.choices, default=SyncStatus.DONE)
    # What the filter reads (customer, orders, events, redemptions, ...): which changes must refresh it.
    depends_on = models.JSONField(default=list, blank=True, editable=False)
    # The filter moves with the clock ("in the last 14 days") or reads data that is not refreshed live
    # (redemptions): the schedule recomputes it.
    scheduled_recompute = models.BooleanField(default=False, editable=False)
    last_computed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_dynamic(self) -> bool:
        return self.type in self.DYNAMIC_TYPES

    @property
    def records_events(self) -> bool:
        return self.type != self.Type.PASSIVE


class SegmentMembership(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="segment_memberships")
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-entered_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["segment", "customer"], condition=Q(left_at__isnull=True),
                                    name="segment_member_once"),
            models.CheckConstraint(condition=Q(left_at__isnull=True) | Q(left_at__gte=models.F("entered_at")),
                                   name="segment_member_left_after_entered"),
        ]
        indexes = [models.Index(fields=["customer", "left_at"], name="segment_member_by_customer")]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.segment_id}"


class SegmentEvent(models.Model):
    """customer.segment.entered / customer.segment.left, in the order they happened (by id)."""

    class Type(models.TextChoices):
        ENTERED = "customer.segment.entered"
        LEFT = "customer.segment.left"

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="events")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="segment_events")
    type = models.CharField(max_length=40, choices=Type.choices)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["segment", "created_at"], name="segment_event_by_segment"),
                   models.Index(fields=["customer", "created_at"], name="segment_event_by_customer")]

    def __str__(self) -> str:
        return f"{self.type} {self.customer_id} {self.segment_id}"

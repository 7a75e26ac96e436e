from django.conf import settings
from django.db import models
from django.utils import timezone

from core.fields import PublicIdField, TimeStampedModel


class ApiKey(models.Model):
    """Server-side credentials for the /v1 API. The token is shown once and stored hashed."""

    class Scope(models.TextChoices):
        MANAGEMENT = "management", "Management (everything)"
        REDEMPTION = "redemption", "Validate and redeem only"
        READ_ONLY = "read_only", "Read only"

    name = models.CharField(max_length=120)
    app_id = models.CharField(max_length=64, unique=True, editable=False)
    token_hash = models.CharField(max_length=128, editable=False)
    token_hint = models.CharField(max_length=8, editable=False, help_text="First characters of the token.")
    scope = models.CharField(max_length=20, choices=Scope.choices, default=Scope.MANAGEMENT)
    # Campaign categories the key may see; none means every category. Campaigns, vouchers and
    # redemptions outside them answer 404 as if they did not exist (core.permissions).
    categories = models.ManyToManyField("promo.Category", blank=True, related_name="+",
                                        help_text="Leave empty for all categories.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.app_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AsyncAction(TimeStampedModel):
    """A long operation (import, generation, bulk update) with its progress, shown by the API
    (/v1/async-actions) and the back office. The task that runs it is idempotent: a finished
    action is never run twice, and a handler may resume from `processed`."""

    class Status(models.TextChoices):
        ENQUEUED = "ENQUEUED"
        IN_PROGRESS = "IN_PROGRESS"
        DONE = "DONE"
        FAILED = "FAILED"

    public_id = PublicIdField(prefix="aa_")
    type = models.CharField(max_length=80, db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ENQUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done, 0-100.")
    processed = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0)
    payload = models.JSONField(default=dict, blank=True)
    attachment = models.BinaryField(null=True, blank=True, editable=False)
    result = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="async_action_progress_lte_100"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id} ({self.status})"

    @property
    def operation_status(self) -> str | None:
        """Voucherify's verdict: FAILED when the action failed, and also when it went through its rows
        without doing any of them (every row refused: `done_count` 0, `failed_count` above 0)."""
        if self.status == self.Status.FAILED:
            return "FAILED"
        if self.status != self.Status.DONE:
            return None
        result = self.result if isinstance(self.result, dict) else {}
        if result.get("done_count") == 0 and result.get("failed_count", 0) > 0:
            return "FAILED"
        return "SUCCESS"

    @property
    def processing_time_ms(self) -> int | None:
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return int((end - self.started_at).total_seconds() * 1000)


class MetadataSchema(TimeStampedModel):
    """Optional typed definitions for the metadata of one kind of object (customer, product ...).

    `properties` maps a key to {"type": string|number|boolean|date|datetime|object|geopoint,
    "array": bool, "optional": bool, "deleted": bool, plus min/max/min_length/max_length/
    exact_length/in}. With `allow_defined_only`, keys not listed are refused."""

    class RelatedObject(models.TextChoices):
        CUSTOMER = "customer"
        PRODUCT = "product"
        SKU = "sku"
        ORDER = "order"
        ORDER_ITEM = "order_item"
        EVENT = "event"
        CAMPAIGN = "campaign"
        VOUCHER = "voucher"
        REDEMPTION = "redemption"
        PROMOTION_TIER = "promotion_tier"
        LOYALTY_TIER = "loyalty_tier"
        PUBLICATION = "publication"

    public_id = PublicIdField(prefix="ms_")
    related_object = models.CharField(max_length=40, choices=RelatedObject.choices, unique=True)
    properties = models.JSONField(default=dict, blank=True)
    allow_defined_only = models.BooleanField(default=False)

    class Meta:
        ordering = ["related_object"]

    def __str__(self) -> str:
        return f"Metadata schema: {self.related_object}"


class IdempotencyRecord(models.Model):
    """An `Idempotency-Key` seen on a write: the same key and body replays the stored answer,
    another body gets 422, and a retry while the first is still running gets 409."""

    class State(models.TextChoices):
        IN_FLIGHT = "IN_FLIGHT"
        DONE = "DONE"

    key = models.CharField(max_length=255)
    # Keys are per client: the API key (or staff user) that sent it, plus method and path.
    scope = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_once_per_scope")]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


class AuditEntry(models.Model):
    """One change made by staff or an API key: who, when, what (before and after) and the request id.

    Written by core.audit.record() from services and the admin; never edited. Money movements stay
    in their own ledgers (redemptions, gift card and points transactions) and are not repeated here."""

    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"
        BULK = "bulk"  # one row for an action on many objects (code generation, CSV import)
        APPROVE = "approve"
        REJECT = "reject"
        SUBMIT = "submit"  # sent for approval
        GRANT = "grant"  # permissions given or taken
        EXPORT = "export"  # a customer's data export requested or delivered

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=20, choices=Action.choices, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.CharField(max_length=200, blank=True, help_text="Who, as it was at the time.")
    object_type = models.CharField(max_length=100, db_index=True, help_text="app_label.model")
    object_id = models.CharField(max_length=64, help_text="Primary key.")
    object_ref = models.CharField(max_length=255, blank=True, help_text="Public id or code.")
    object_repr = models.CharField(max_length=255, blank=True)
    changes = models.JSONField(default=dict, blank=True, help_text="{field: [before, after]}")
    extra = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["object_type", "object_id", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_ref or self.object_id} by {self.actor or 'system'}"

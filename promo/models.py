"""Campaigns, vouchers (codes), validation-session locks and redemptions.

Limits are enforced by the database: a voucher's `redeemed_quantity + locked_quantity` can never
pass its `redemption_quantity` (CHECK constraint), counters move only through conditional
UPDATEs in promo.services, and a redemption can be rolled back once (UNIQUE).
"""

from django.db import models
from django.db.models import F, Q

from core.fields import PublicIdField, TimeStampedModel


class Category(TimeStampedModel):
    """Stacking categories (Voucherify /v1/categories): exclusive or joint behaviour is set in the
    stacking rules; `hierarchy` orders redeemables for the CATEGORY_HIERARCHY sorting rule."""

    public_id = PublicIdField(prefix="cat_")
    name = models.CharField(max_length=120, unique=True)
    hierarchy = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["hierarchy", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Campaign(TimeStampedModel):
    class CampaignType(models.TextChoices):
        DISCOUNT_COUPONS = "DISCOUNT_COUPONS"
        GIFT_VOUCHERS = "GIFT_VOUCHERS"
        LOYALTY_PROGRAM = "LOYALTY_PROGRAM"
        REFERRAL_PROGRAM = "REFERRAL_PROGRAM"
        PROMOTION = "PROMOTION"

    class Type(models.TextChoices):
        AUTO_UPDATE = "AUTO_UPDATE"  # codes are generated as they are needed (publications)
        STATIC = "STATIC"  # a fixed set of codes
        STANDALONE = "STANDALONE"  # holds a single standalone voucher

    class Status(models.TextChoices):
        DONE = "DONE"
        IN_PROGRESS = "IN_PROGRESS"
        FAILED = "FAILED"
        DRAFT = "DRAFT"
        MODIFYING = "MODIFYING"

    public_id = PublicIdField(prefix="camp_")
    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    campaign_type = models.CharField(max_length=30, choices=CampaignType.choices,
                                     default=CampaignType.DISCOUNT_COUPONS, db_index=True)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.AUTO_UPDATE)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="campaigns")
    start_date = models.DateTimeField(null=True, blank=True)
    expiration_date = models.DateTimeField(null=True, blank=True)
    validity_timeframe = models.JSONField(null=True, blank=True)
    validity_day_of_week = models.JSONField(null=True, blank=True)
    validity_hours = models.JSONField(null=True, blank=True)
    active = models.BooleanField(default=True, db_index=True)
    join_once = models.BooleanField(default=False, help_text="A customer may hold at most one code of this campaign.")
    auto_join = models.BooleanField(default=False)
    metadata = models.JSONField(default=dict, blank=True)
    # The voucher template: {"type", "discount", "gift", "loyalty_card", "redemption": {"quantity"},
    # "code_config", "is_referral_code"}; vouchers generated for the campaign copy it.
    voucher_template = models.JSONField(default=dict, blank=True)
    creation_status = models.CharField(max_length=20, choices=Status.choices, default=Status.DONE)
    vouchers_generation_status = models.CharField(max_length=20, choices=Status.choices, default=Status.DONE)
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class CampaignEvent(models.Model):
    """Something that happened to a campaign by itself (not a staff edit, which the audit log keeps):
    e.g. `campaign.budget_exhausted`, after which the engine disabled it. The back office lists them;
    webhooks will deliver them."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=80, db_index=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} ({self.campaign_id})"


class Voucher(TimeStampedModel):
    class Type(models.TextChoices):
        DISCOUNT_VOUCHER = "DISCOUNT_VOUCHER"
        GIFT_VOUCHER = "GIFT_VOUCHER"
        LOYALTY_CARD = "LOYALTY_CARD"

    public_id = PublicIdField(prefix="v_")
    # Unique per deployment, looked up case-sensitively as given.
    code = models.CharField(max_length=255, unique=True)
    # Indexes are kept to what lookups need: every index slows code generation and each redemption's write.
    # (campaign, -created_at) below serves "codes of a campaign"; `type` has three values, so no index.
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="vouchers",
                                 db_index=False)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.DISCOUNT_VOUCHER)
    discount = models.JSONField(null=True, blank=True)
    gift = models.JSONField(null=True, blank=True)
    loyalty_card = models.JSONField(null=True, blank=True)
    start_date = models.DateTimeField(null=True, blank=True)
    expiration_date = models.DateTimeField(null=True, blank=True, db_index=True)
    validity_timeframe = models.JSONField(null=True, blank=True)
    validity_day_of_week = models.JSONField(null=True, blank=True)
    validity_hours = models.JSONField(null=True, blank=True)
    active = models.BooleanField(default=True)
    additional_info = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    holder = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="vouchers")
    is_referral_code = models.BooleanField(default=False)
    # Redemption limit (null: unlimited). `locked_quantity` are uses reserved by validation
    # sessions; both counters change only through conditional UPDATEs.
    redemption_quantity = models.PositiveIntegerField(null=True, blank=True)
    redeemed_quantity = models.PositiveIntegerField(default=0)
    locked_quantity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(redemption_quantity__isnull=True)
                | Q(redemption_quantity__gte=F("redeemed_quantity") + F("locked_quantity")),
                name="voucher_redeemed_within_quantity",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "-created_at"])]

    def __str__(self) -> str:
        return self.code


class SessionLock(models.Model):
    """One use of a voucher reserved by a validation session (`session{type: LOCK}`) until it
    expires, is consumed by the redemption carrying the same key, or is released."""

    session_key = models.CharField(max_length=64, db_index=True)
    voucher = models.ForeignKey(Voucher, on_delete=models.CASCADE, related_name="session_locks")
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session_key", "voucher"], name="session_lock_once")]

    def __str__(self) -> str:
        return f"{self.session_key} on {self.voucher_id}"


class Redemption(models.Model):
    """A redemption attempt, successful or not. A stacked request makes a parent row (object
    "redemption", related_object_type "redemption") with one child per redeemable."""

    class Result(models.TextChoices):
        SUCCESS = "SUCCESS"
        FAILURE = "FAILURE"

    class Status(models.TextChoices):
        SUCCEEDED = "SUCCEEDED"
        FAILED = "FAILED"
        ROLLED_BACK = "ROLLED_BACK"

    public_id = PublicIdField(prefix="r_")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    result = models.CharField(max_length=10, choices=Result.choices, db_index=True)
    status = models.CharField(max_length=15, choices=Status.choices, db_index=True)
    failure_code = models.CharField(max_length=80, blank=True, db_index=True)
    failure_message = models.TextField(blank=True)
    # What was redeemed: "voucher", "promotion_tier", "redemption" (a parent) ...
    related_object_type = models.CharField(max_length=30)
    related_object_id = models.CharField(max_length=255, blank=True)
    voucher = models.ForeignKey(Voucher, null=True, blank=True, on_delete=models.SET_NULL, related_name="redemptions")
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="redemptions")
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="redemptions")
    order = models.ForeignKey("customers.Order", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="redemptions")
    amount = models.BigIntegerField(default=0, help_text="Discount (or gift credits) taken, minor units.")
    # Exactly what this redemption took (counters, budgets, credits), so a rollback restores it.
    effect = models.JSONField(default=dict, blank=True)
    # The response fragment for this redeemable (order state, discount, result) as answered.
    details = models.JSONField(default=dict, blank=True)
    tracking_id = models.CharField(max_length=255, blank=True)
    session_key = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    channel = models.CharField(max_length=40, blank=True)
    api_key = models.ForeignKey("core.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["voucher", "customer", "result"]),
            models.Index(fields=["campaign", "result", "created_at"]),
            models.Index(fields=["customer", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.result}"


class RedemptionRollback(models.Model):
    """The undoing of one redemption. UNIQUE on the redemption: a rollback happens once."""

    class Result(models.TextChoices):
        SUCCESS = "SUCCESS"
        FAILURE = "FAILURE"

    public_id = PublicIdField(prefix="rr_")
    redemption = models.OneToOneField(Redemption, on_delete=models.CASCADE, related_name="rollback")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    result = models.CharField(max_length=10, choices=Result.choices, default=Result.SUCCESS)
    reason = models.TextField(blank=True)
    amount = models.BigIntegerField(default=0)
    tracking_id = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.public_id} of {self.redemption_id}"

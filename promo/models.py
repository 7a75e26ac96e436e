"""Campaigns, vouchers (codes), validation-session locks and redemptions.

Limits are enforced by the database: a voucher's `redeemed_quantity + locked_quantity` can never
pass its `redemption_quantity` (CHECK constraint), counters move only through conditional
UPDATEs in promo.services, and a redemption can be rolled back once (UNIQUE).
"""

from django.conf import settings
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
        # Object permissions (django-guardian) given on a category to a user or group: read-write,
        # read-only or no access to the campaigns of the category (core.permissions).
        permissions = [
            ("campaigns_read", "Read the campaigns of this category"),
            ("campaigns_write", "Change the campaigns of this category"),
            ("campaigns_none", "No access to the campaigns of this category"),
        ]

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

    class Approval(models.TextChoices):
        APPROVED = "APPROVED"
        PENDING = "PENDING"
        REJECTED = "REJECTED"

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
    # Campaigns of a Junior Marketer, or above the approval thresholds, wait PENDING until a Marketer or
    # Admin approves them (promo.approvals); nothing of a campaign that is not APPROVED redeems.
    approval_status = models.CharField(max_length=10, choices=Approval.choices, default=Approval.APPROVED,
                                       db_index=True)
    approval_note = models.TextField(blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    creation_status = models.CharField(max_length=20, choices=Status.choices, default=Status.DONE)
    vouchers_generation_status = models.CharField(max_length=20, choices=Status.choices, default=Status.DONE)
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Stacking: an exclusive campaign's redeemable applies alone (nothing else combines with it, see
    # promo.engine); combinable campaigns (the default) follow the project's stacking rules only.
    exclusive = models.BooleanField(default=False)
    # Customer service may issue this campaign's codes as "sorry" coupons from the customer-service console
    # (promo.sorry), within the CS_SORRY_COUPON_MAX_* caps.
    sorry_coupons = models.BooleanField(default=False, help_text="Customer service may issue this campaign's "
                                        "codes as sorry coupons (within the value cap).")

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("approve_campaign", "Can approve or reject campaigns waiting for approval"),
            ("issue_sorry_coupon", "Can issue sorry coupons from campaigns marked for it"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_live(self) -> bool:
        """Enabled and approved: the campaign's codes may redeem (dates and limits permitting)."""
        return self.active and self.approval_status == self.Approval.APPROVED


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
    redemption_quantity = models.PositiveBigIntegerField(null=True, blank=True)
    redeemed_quantity = models.PositiveBigIntegerField(default=0)
    locked_quantity = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("disable_voucher", "Can disable or re-enable a voucher (customer service)")]
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
    # Every index is written by each redemption (two rows per redemption): only the composite indexes
    # below, the parent/order/api key foreign keys and created_at are kept; low-cardinality columns
    # (result, status, failure_code) are filtered together with one of those.
    result = models.CharField(max_length=10, choices=Result.choices)
    status = models.CharField(max_length=15, choices=Status.choices)
    failure_code = models.CharField(max_length=80, blank=True)
    failure_message = models.TextField(blank=True)
    # What was redeemed: "voucher", "promotion_tier", "redemption" (a parent) ...
    related_object_type = models.CharField(max_length=30)
    related_object_id = models.CharField(max_length=255, blank=True)
    # Served by the composite indexes in Meta, which lead with these columns.
    voucher = models.ForeignKey(Voucher, null=True, blank=True, on_delete=models.SET_NULL, related_name="redemptions",
                                db_index=False)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="redemptions", db_index=False)
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="redemptions", db_index=False)
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
    # The customer as the request named it (customer.id or source_id): kept when no stored customer is linked,
    # e.g. a new customer whose upsert was rolled back with the failed redemption.
    customer_ref = models.CharField(max_length=255, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True, help_text="The client's address (TRUSTED_PROXY_COUNT).")
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


class FailedAttempt(models.Model):
    """A validation or redemption through the API in which a code (or tier) was refused, with who tried it:
    the customer (stored, or as named when no such customer exists), the API key and the client's address.
    Validations write nothing else, so this is their only trace; a failed redemption also has its Redemption
    rows (`redemption`). Lockouts (promo.abuse) read the codes an episode tried from here."""

    class Kind(models.TextChoices):
        VALIDATION = "VALIDATION"
        REDEMPTION = "REDEMPTION"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Each redeemable sent: {"object", "id", "failure"} ("failure" empty for one that applied).
    redeemables = models.JSONField(default=list, blank=True)
    failure_code = models.CharField(max_length=80, blank=True, help_text="The first refusal's key.")
    invalid_codes = models.PositiveBigIntegerField(default=0, help_text="Refusals counted towards lockouts "
                                                                        "(LOCKOUT_FAILURES).")
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", db_index=False)
    customer_ref = models.CharField(max_length=255, blank=True, help_text="customer.id or source_id as sent.")
    api_key = models.ForeignKey("core.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                db_index=False)
    ip = models.GenericIPAddressField(null=True, blank=True)
    redemption = models.ForeignKey(Redemption, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # A lockout's subject over its window (promo.abuse.episode_codes); the customer service's "what did
        # this customer try".
        indexes = [models.Index(fields=["customer_ref", "created_at"]), models.Index(fields=["ip", "created_at"]),
                   models.Index(fields=["api_key", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.failure_code} ({self.created_at:%Y-%m-%d %H:%M:%S})"


class Lockout(models.Model):
    """One episode of too many invalid codes from one customer, client IP or API key: their validations and
    redemptions are refused until `locked_until`. At most one episode per subject is `current` (a partial
    UNIQUE constraint): starting one is claimed by its INSERT, so concurrent requests that all cross the
    threshold start one episode and send one `redemption.fraud_suspected` event (promo.abuse)."""

    class Subject(models.TextChoices):
        CUSTOMER = "customer", "customer"
        IP = "ip", "client IP"
        API_KEY = "api_key", "API key"

    public_id = PublicIdField(prefix="lock_")
    subject_type = models.CharField(max_length=10, choices=Subject.choices)
    subject = models.CharField(max_length=255, help_text="The customer as named, the IP address, or the key's "
                                                         "app id.")
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    api_key = models.ForeignKey("core.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(db_index=True)
    locked_until = models.DateTimeField()
    invalid_codes = models.PositiveBigIntegerField(help_text="Invalid codes counted in the window that started it.")
    refused_attempts = models.PositiveBigIntegerField(default=0, help_text="Attempts refused during the lockout.")
    codes = models.JSONField(default=list, blank=True, help_text="Codes tried in the window (the last 100).")
    ips = models.JSONField(default=list, blank=True, help_text="Client addresses seen in the window.")
    event_id = models.CharField(max_length=64, blank=True, help_text="The webhook event (evt_...), if any "
                                                                     "endpoint listened.")
    # Closed (False) when the subject's next episode starts.
    current = models.BooleanField(default=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["subject_type", "subject"], condition=Q(current=True),
                                               name="lockout_one_current_per_subject")]

    def __str__(self) -> str:
        return f"{self.get_subject_type_display()} {self.subject} ({self.started_at:%Y-%m-%d %H:%M})"


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


class PromotionTier(TimeStampedModel):
    """One tier of a PROMOTION campaign: a discount that applies by itself (no code) when the cart and
    customer meet its validation rules (assigned to ("promotion_tier", public_id) and to its campaign)
    within its dates and recurring windows. Counters move only through conditional UPDATEs
    (promo.promotions); `redemption_quantity` (a project extension) caps the uses when set."""

    public_id = PublicIdField(prefix="promo_")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="promotion_tiers")
    name = models.CharField(max_length=255)
    banner = models.TextField(blank=True)
    action = models.JSONField(default=dict, blank=True)  # {"discount": {...}}
    # Lower first: the order of tiers in lists and, within one stacking category, in application.
    hierarchy = models.PositiveIntegerField(default=1)
    active = models.BooleanField(default=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    start_date = models.DateTimeField(null=True, blank=True)
    expiration_date = models.DateTimeField(null=True, blank=True)
    validity_timeframe = models.JSONField(null=True, blank=True)
    validity_day_of_week = models.JSONField(null=True, blank=True)
    validity_hours = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    redemption_quantity = models.PositiveBigIntegerField(null=True, blank=True)
    redeemed_quantity = models.PositiveBigIntegerField(default=0)
    discounted_amount = models.BigIntegerField(default=0)  # sum of discounts given, minor units
    orders_amount = models.BigIntegerField(default=0)  # sum of the redeemed orders' totals, minor units

    class Meta:
        ordering = ["hierarchy", "created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(redemption_quantity__isnull=True)
                                   | Q(redemption_quantity__gte=F("redeemed_quantity")),
                                   name="promotion_tier_redeemed_within_quantity"),
            models.CheckConstraint(condition=Q(discounted_amount__gte=0) & Q(orders_amount__gte=0),
                                   name="promotion_tier_amounts_gte_0"),
        ]
        indexes = [models.Index(fields=["campaign", "hierarchy"])]

    def __str__(self) -> str:
        return self.name

    @property
    def discount(self) -> dict | None:
        return (self.action or {}).get("discount")


class PromotionStack(TimeStampedModel):
    """Tiers of one PROMOTION campaign that apply together, in the order of `tier_ids` (hierarchy_mode
    MANUAL): redeeming `promotion_stack` applies all of its tiers or none of them."""

    public_id = PublicIdField(prefix="stack_")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="promotion_stacks")
    name = models.CharField(max_length=255)
    tier_ids = models.JSONField(default=list, blank=True)  # promotion tier public ids, in order
    hierarchy_mode = models.CharField(max_length=20, default="MANUAL")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

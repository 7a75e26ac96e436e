"""Limits and budgets as database counters.

Every limit that must hold under concurrency ("once per customer", "3 per customer per day",
"campaign discount budget 10,000") is a LimitCounter row identified by a key such as
`voucher:12:customer:34` or `campaign:5:discounted:2026-11`. It moves only through one
conditional UPDATE (`used = used + n WHERE used + n <= limit`), and a CHECK constraint backs it.
"""

from django.db import models
from django.db.models import F, Q

from core.fields import PublicIdField


class LimitCounter(models.Model):
    key = models.CharField(max_length=255, unique=True)
    used = models.BigIntegerField(default=0)
    limit = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(limit__isnull=True) | Q(used__lte=F("limit")),
                                   name="limit_counter_used_within_limit"),
            models.CheckConstraint(condition=Q(used__gte=0), name="limit_counter_used_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.used}/{self.limit if self.limit is not None else '∞'}"


class ValidationRule(models.Model):
    """Who may use an incentive, on which cart, how often: Voucherify's validation rule.

    `rules` = {"1": {"name": "order.amount", "property": null, "conditions": {"$more_than": [30000]},
    "rules": {...nested...}}, "logic": "1 and 2"}; `applicable_to` / `inapplicable_to` name the
    items a discount may touch ({"object": product|sku|products_collection, "id", "effect", limits}).
    """

    class Type(models.TextChoices):
        EXPRESSION = "expression"
        BASIC = "basic"
        ADVANCED = "advanced"
        COMPLEX = "complex"

    public_id = PublicIdField(prefix="val_")
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.EXPRESSION)
    context_type = models.CharField(max_length=120, default="global")
    rules = models.JSONField(default=dict, blank=True)
    bundle_rules = models.JSONField(null=True, blank=True)
    applicable_to = models.JSONField(default=list, blank=True)
    inapplicable_to = models.JSONField(default=list, blank=True)
    included_all = models.BooleanField(default=False)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class ValidationRuleAssignment(models.Model):
    """A rule attached to a campaign, voucher, promotion tier, earning rule ... (by public id)."""

    public_id = PublicIdField(prefix="asgm_")
    rule = models.ForeignKey(ValidationRule, on_delete=models.CASCADE, related_name="assignments")
    related_object_type = models.CharField(max_length=40)
    related_object_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["rule", "related_object_type", "related_object_id"],
                                               name="rule_assigned_once")]
        indexes = [models.Index(fields=["related_object_type", "related_object_id"])]

    def __str__(self) -> str:
        return f"{self.rule_id} -> {self.related_object_type}:{self.related_object_id}"

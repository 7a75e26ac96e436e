"""Limits and budgets as database counters.

Every limit that must hold under concurrency ("once per customer", "3 per customer per day",
"campaign discount budget 10,000") is a LimitCounter row identified by a key such as
`voucher:12:customer:34` or `campaign:5:discounted:2026-11`. It moves only through one
conditional UPDATE (`used = used + n WHERE used + n <= limit`), and a CHECK constraint backs it.
"""

from django.db import models
from django.db.models import F, Q


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

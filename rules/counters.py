"""Atomic take/give-back on LimitCounter rows (see rules.models)."""

from django.db import IntegrityError, transaction
from django.db.models import F, Q

from rules.models import LimitCounter


def take(key: str, amount: int, limit: int | None) -> bool:
    """Add `amount` to the counter if it stays within `limit`; False when it would not.

    One conditional UPDATE; the row is created on first use (a concurrent creator is fine:
    the unique key makes one of them win and the other falls through to the UPDATE).
    """
    if amount <= 0:
        return True
    if limit is not None and amount > limit:
        return False
    _ensure(key, limit)
    # Checked against the limit in force now (it may have been edited since the row was made).
    within = Q() if limit is None else Q(used__lte=limit - amount)
    return LimitCounter.objects.filter(Q(key=key) & within).update(used=F("used") + amount, limit=limit) == 1


def give_back(key: str, amount: int) -> None:
    """Undo a take (rollbacks, released session locks). Never below zero."""
    if amount > 0:
        LimitCounter.objects.filter(key=key, used__gte=amount).update(used=F("used") - amount)


def used(key: str) -> int:
    return LimitCounter.objects.filter(key=key).values_list("used", flat=True).first() or 0


def _ensure(key: str, limit: int | None) -> None:
    if LimitCounter.objects.filter(key=key).exists():
        return
    try:
        with transaction.atomic():
            LimitCounter.objects.create(key=key, used=0, limit=limit)
    except IntegrityError:
        pass  # created concurrently

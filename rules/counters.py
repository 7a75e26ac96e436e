"""Atomic take/give-back on LimitCounter rows (see rules.models)."""

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

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


def lock(limits: dict[str, int | None], *, leave_last: bool = False) -> None:
    """Lock the counters `limits` names (key -> limit), creating the missing ones, in key order: one
    statement. A redemption that takes several counters calls it before taking them (after its other
    rows: core.locks), so two never wait for each other's counters. A new counter has no primary key
    yet, so its key orders it. `leave_last`: the caller's take() gets the greatest key itself."""
    keys = sorted(limits)
    if leave_last:
        keys = keys[:-1]
    if not keys:
        return
    table = connection.ops.quote_name(LimitCounter._meta.db_table)
    now = timezone.now()
    with connection.cursor() as cursor:
        # DO UPDATE (a no-op one) locks an existing row; a row this statement inserts is ours until COMMIT.
        cursor.execute(f"INSERT INTO {table} (key, used, {connection.ops.quote_name('limit')}, updated_at) VALUES "
                       + ", ".join(["(%s, 0, %s, %s)"] * len(keys))
                       + f" ON CONFLICT (key) DO UPDATE SET used = {table}.used",
                       [value for key in keys for value in (key, limits[key], now)])

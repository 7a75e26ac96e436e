"""Validation-session locks: a validation with `session{type: LOCK}` reserves one use of each
limited voucher until the session expires; the redemption with the same key consumes it.

Reservation and release are conditional UPDATEs on Voucher.locked_quantity (the CHECK constraint
redeemed + locked <= quantity backs them); the SessionLock row is the claim ticket, deleted
exactly once by whoever consumes or releases it."""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from promo.models import SessionLock, Voucher

TTL_UNITS = {"MINUTES": 60, "HOURS": 3600, "DAYS": 86400, "SECONDS": 1, "MILLISECONDS": 0.001}
DEFAULT_TTL = (7, "DAYS")
MAX_TTL = timedelta(days=30)


def session_ttl(session: dict) -> timedelta:
    ttl, unit = session.get("ttl"), session.get("ttl_unit") or DEFAULT_TTL[1]
    if ttl is None:
        ttl, unit = DEFAULT_TTL
    # Capped before it becomes a timedelta: 10**9 DAYS is past the largest one.
    return timedelta(seconds=min(ttl * TTL_UNITS[unit], MAX_TTL.total_seconds()))


def holds_lock(session_key: str, voucher: Voucher) -> bool:
    return SessionLock.objects.filter(session_key=session_key, voucher=voucher, expires_at__gt=timezone.now()).exists()


def acquire(session_key: str, voucher: Voucher, ttl: timedelta, customer=None) -> bool:
    """Reserve one use for the session (refreshing the expiry if it already holds one)."""
    expires_at = timezone.now() + ttl
    if SessionLock.objects.filter(session_key=session_key, voucher=voucher).update(expires_at=expires_at):
        return True
    if voucher.redemption_quantity is None:
        return True  # nothing to reserve on an unlimited voucher
    with transaction.atomic():
        within = Q(redemption_quantity__gt=F("redeemed_quantity") + F("locked_quantity"))
        if not Voucher.objects.filter(Q(pk=voucher.pk) & within).update(locked_quantity=F("locked_quantity") + 1):
            return False
        try:
            with transaction.atomic():
                SessionLock.objects.create(session_key=session_key, voucher=voucher, expires_at=expires_at,
                                           customer=customer)
        except IntegrityError:  # the same session locked it concurrently: give our reservation back
            _unreserve(voucher.pk)
    return True


def consume(session_key: str, voucher: Voucher) -> bool:
    """Turn the session's reservation into a redemption. False if the session holds none (or it expired)."""
    deleted, _ = SessionLock.objects.filter(session_key=session_key, voucher=voucher,
                                            expires_at__gt=timezone.now()).delete()
    if not deleted:
        return False
    return bool(Voucher.objects.filter(pk=voucher.pk, locked_quantity__gte=1).update(
        locked_quantity=F("locked_quantity") - 1, redeemed_quantity=F("redeemed_quantity") + 1))


def release(session_key: str, voucher: Voucher) -> bool:
    deleted, _ = SessionLock.objects.filter(session_key=session_key, voucher=voucher).delete()
    if deleted:
        _unreserve(voucher.pk)
    return bool(deleted)


def release_expired(voucher: Voucher | None = None, *, batch: int = 1000) -> int:
    """Free the reservations of expired sessions (for one voucher, or a batch of all). Each lock row is
    deleted by exactly one caller, which then gives its use back."""
    expired = SessionLock.objects.filter(expires_at__lte=timezone.now())
    if voucher is not None:
        expired = expired.filter(voucher=voucher)
    released = 0
    for lock_id, voucher_id in expired.values_list("pk", "voucher_id")[:batch]:
        deleted, _ = SessionLock.objects.filter(pk=lock_id).delete()
        if deleted:
            _unreserve(voucher_id)
            released += 1
    return released


def _unreserve(voucher_id: int) -> None:
    Voucher.objects.filter(pk=voucher_id, locked_quantity__gte=1).update(locked_quantity=F("locked_quantity") - 1)

"""Invalid codes from API callers: the record of failed attempts, lockouts, and the fraud event.

A caller is up to three subjects: the customer the body names (as sent), the client's IP and the API key.
Every refusal whose key is in settings.LOCKOUT_FAILURES (`not_found` by default: a code that does not exist,
which is what guessing codes produces) counts against each subject in a fixed window of
LOCKOUT_WINDOW_SECONDS from its first one, in the rate limits' storage (core.throttling: an atomic increment,
in Redis when REDIS_URL is set, per process otherwise). A subject that reaches its threshold
(LOCKOUT_INVALID_CODES_PER_*) is locked out: its validations and redemptions answer 429
`too_many_invalid_codes` for LOCKOUT_SECONDS, even with a real code (the lock is a key in the same storage that
expires with the cool-down; checking it is one read per request).

An episode is a Lockout row. Its INSERT is the claim: at most one current episode per subject (a partial
UNIQUE constraint), so requests that cross the threshold together, in any process, start one episode and
send one `redemption.fraud_suspected` webhook event. A process that loses the claim (or has not counted the
attempts itself: per-process counts without Redis) learns the lock from the row.

Failed attempts are FailedAttempt rows written after the redemption's transaction, in their own, so a
rolled-back customer upsert does not take the record with it (the customer is then kept as named).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage

from core import metrics
from core.clientip import ip_subject
from core.context import current_client_ip, current_request_id
from core.errors import TooManyRequests
from core.throttling import customer_ref, storage, storage_key
from promo.engine import INAPPLICABLE, Evaluation
from promo.models import FailedAttempt, Lockout

logger = logging.getLogger(__name__)

FRAUD_EVENT = "redemption.fraud_suspected"
MAX_CODES = 100  # codes kept on an episode and sent in its event


@dataclass(frozen=True)
class Subject:
    type: str  # Lockout.Subject
    value: str  # what is counted and locked (the customer as named, the IP, the key's app id)
    threshold: int
    attempts_filter: tuple[str, object]  # the FailedAttempt rows of this subject


def subjects(payload: dict, api_key) -> list[Subject]:
    """The subjects of an API call, each with a threshold on (LOCKOUT_INVALID_CODES_PER_*, 0: off)."""
    found = []
    customer = (customer_ref(payload) or "")[:255]
    if customer:
        found.append(Subject(Lockout.Subject.CUSTOMER, customer, settings.LOCKOUT_INVALID_CODES_PER_CUSTOMER,
                             ("customer_ref", customer)))
    ip = current_client_ip()
    if ip:
        found.append(Subject(Lockout.Subject.IP, ip_subject(ip), settings.LOCKOUT_INVALID_CODES_PER_IP, ("ip", ip)))
    if api_key is not None:
        found.append(Subject(Lockout.Subject.API_KEY, api_key.app_id, settings.LOCKOUT_INVALID_CODES_PER_KEY,
                             ("api_key", api_key)))
    return [s for s in found if s.threshold > 0] if settings.LOCKOUT_SECONDS > 0 else []


def _lock_key(subject: Subject) -> str:
    digest = hashlib.sha256(subject.value.encode()).hexdigest()[:32]
    return f"{settings.RATE_LIMIT_KEY_PREFIX}/lockout/{subject.type}/{digest}"


def _marks(keys: list[str]) -> list[int]:
    """The episode each lock key holds (0: none), in one read: an MGET on Redis (one round trip for all the
    subjects, where the storage's own get would make one each), memory reads otherwise."""
    store = storage()
    if type(store) is RedisStorage:
        return [int(value or 0) for value in store.get_connection().mget([store.prefixed_key(k) for k in keys])]
    return [store.get(key) for key in keys]


def _mark(subject: Subject, episode: Lockout, seconds: float) -> None:
    """Lock the subject in the storage until the episode ends: the key holds the episode's id and expires."""
    key = _lock_key(subject)
    storage().clear(key)
    storage().incr(key, math.ceil(seconds), amount=episode.pk)


# ---------------------------------------------------------------- before: refuse a locked-out caller

def refuse_if_locked(caller: list[Subject] | None) -> None:
    """Raise 429 too_many_invalid_codes if one of the subjects is locked out (one storage read)."""
    if not caller:
        return
    keys = [_lock_key(subject) for subject in caller]
    try:
        marks = _marks(keys)
    except Exception:  # the storage is down: no lockouts rather than no checkouts
        logger.warning("Lockouts not checked: the storage failed", exc_info=True)
        return
    locked = [(key, episode_pk, subject) for key, episode_pk, subject in zip(keys, marks, caller, strict=True)
              if episode_pk]
    if not locked:
        return
    until, episode_pk, subject = max(((storage().get_expiry(key), pk, subject) for key, pk, subject in locked),
                                     key=lambda lock: lock[0])
    Lockout.objects.filter(pk=episode_pk).update(refused_attempts=F("refused_attempts") + 1)
    seconds = max(1, math.ceil(until - time.time()))
    metrics.rate_limited("lockout")
    raise TooManyRequests(
        f"Too many invalid codes from this {Lockout.Subject(subject.type).label}: validations and "
        f"redemptions are refused for {seconds} s.", key="too_many_invalid_codes", message="Too many invalid codes",
        headers={"Retry-After": str(seconds)})


# ---------------------------------------------------------------- after: record, count, lock out

def after_attempt(kind: str, evaluation: Evaluation, caller: list[Subject], *, redemption=None) -> None:
    """Record an attempt in which something was refused, and count its invalid codes against the caller."""
    refused = [c for c in evaluation.candidates if c.status == INAPPLICABLE]
    if not refused:
        return
    ctx = evaluation.ctx
    counted = set(settings.LOCKOUT_FAILURES)
    invalid = sum(1 for c in refused if c.error is not None and c.error.key in counted)
    FailedAttempt.objects.create(
        kind=kind, failure_code=_first_failure(refused), invalid_codes=invalid,
        redeemables=[{"object": c.ref.object, "id": c.ref.id, "failure": c.error.key if c.error else ""}
                     for c in evaluation.candidates],
        customer=ctx.customer if ctx.customer is not None and ctx.customer.pk else None,
        customer_ref=(customer_ref({"customer": ctx.customer_input, "order": ctx.order_input}) or "")[:255],
        api_key=ctx.api_key,
        ip=current_client_ip(), redemption=redemption, request_id=current_request_id() or "")
    if invalid:
        for subject in caller:
            _count(subject, invalid, ctx)


def _first_failure(refused) -> str:
    return next((c.error.key for c in refused if c.error is not None), "")


def _count(subject: Subject, invalid: int, ctx) -> None:
    window = RateLimitItemPerSecond(subject.threshold, settings.LOCKOUT_WINDOW_SECONDS)
    key = storage_key(window, "lockout", subject.type, subject.value)
    try:
        count = storage().incr(key, window.get_expiry(), amount=invalid)
    except Exception:
        logger.warning("Invalid codes not counted: the storage failed", exc_info=True)
        return
    if count >= subject.threshold:
        lock_out(subject, count, customer=ctx.customer, api_key=ctx.api_key)
        storage().clear(key)  # the episode took these: after its cool-down the subject starts again from zero


def lock_out(subject: Subject, invalid_codes: int, *, customer=None, api_key=None) -> Lockout | None:
    """Start the subject's episode (with its event) unless one is on, and lock the subject in the storage."""
    now = timezone.now()
    with transaction.atomic():
        episode = Lockout.objects.filter(subject_type=subject.type, subject=subject.value, current=True).first()
        if episode is None or episode.locked_until <= now:
            since = max(now - timedelta(seconds=settings.LOCKOUT_WINDOW_SECONDS),
                        episode.locked_until if episode else now - timedelta(days=1))
            if episode is not None:
                Lockout.objects.filter(pk=episode.pk).update(current=False)
            try:
                with transaction.atomic():
                    episode = _new_episode(subject, invalid_codes, now, since, customer=customer, api_key=api_key)
            except IntegrityError:  # another request started it
                episode = Lockout.objects.filter(subject_type=subject.type, subject=subject.value,
                                                 current=True).first()
            else:
                _emit(episode)
    if episode is not None and episode.locked_until > now:
        seconds = (episode.locked_until - now).total_seconds()
        _mark(subject, episode, seconds)
    return episode


def _new_episode(subject: Subject, invalid_codes: int, now, since, *, customer, api_key) -> Lockout:
    """The episode with the codes and addresses of the subject's counted attempts since `since`."""
    field, value = subject.attempts_filter
    attempts = (FailedAttempt.objects.filter(**{field: value}, created_at__gte=since, invalid_codes__gt=0)
                .order_by("-created_at", "-id").values_list("redeemables", "ip")[:MAX_CODES])
    counted = set(settings.LOCKOUT_FAILURES)
    codes = [r["id"] for redeemables, _ip in attempts for r in redeemables if r.get("failure") in counted]
    ips = [ip for _redeemables, ip in attempts if ip]
    return Lockout.objects.create(
        subject_type=subject.type, subject=subject.value, started_at=now,
        locked_until=now + timedelta(seconds=settings.LOCKOUT_SECONDS), invalid_codes=invalid_codes,
        codes=list(dict.fromkeys(codes))[:MAX_CODES], ips=list(dict.fromkeys(ips)),
        customer=customer if subject.type == Lockout.Subject.CUSTOMER and customer is not None and customer.pk
        else None, api_key=api_key)


def _emit(episode: Lockout) -> None:
    from distribution.services import emit  # webhooks; sent when this transaction commits

    customer = episode.customer
    event_id = emit(FRAUD_EVENT, {
        "lockout": {"id": episode.public_id, "object": "lockout"},
        "subject": {"type": episode.subject_type, "value": episode.subject},
        "customer": {"id": customer.public_id, "source_id": customer.source_id, "object": "customer"}
        if customer else None,
        "api_key": {"app_id": episode.api_key.app_id, "name": episode.api_key.name} if episode.api_key else None,
        "invalid_codes": episode.invalid_codes, "window_seconds": settings.LOCKOUT_WINDOW_SECONDS,
        "started_at": episode.started_at, "locked_until": episode.locked_until,
        "codes": episode.codes, "ips": episode.ips})
    if event_id:
        Lockout.objects.filter(pk=episode.pk).update(event_id=event_id)
        episode.event_id = event_id

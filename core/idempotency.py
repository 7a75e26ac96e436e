"""`Idempotency-Key` for writes that move money or counters (redemptions, rollbacks, balance changes).

The same key with the same body replays the first answer; the same key with another body gets 422
`idempotency_key_reused`; a retry while the first request is still running gets 409
`multiple_requests`. Keys are scoped to the client (API key or user) and the endpoint.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ApiError, Conflict
from core.models import IdempotencyRecord

# A request still "in flight" after this long died with its process: a retry may take it over.
ABANDONED_AFTER = timedelta(minutes=5)
MAX_KEY_LENGTH = 255


class KeyReused(ApiError):
    status = 422
    key = "idempotency_key_reused"
    message = "Idempotency key reused with a different request"


def request_hash(payload) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_idempotent(*, scope: str, key: str, payload, produce: Callable[[], tuple[int, dict]]) -> tuple[int, dict]:
    """Run `produce` once per (scope, key); later calls replay its (status, body)."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ApiError(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters", key="invalid_idempotency_key",
                       message="Invalid Idempotency-Key")
    digest = request_hash(payload)
    record = _claim(scope, key, digest)
    if record.state == IdempotencyRecord.State.DONE:
        return record.response_status, record.response_body
    try:
        status, body = produce()
    except BaseException:
        IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.IN_FLIGHT).delete()
        raise
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyRecord.State.DONE, response_status=status, response_body=body)
    return status, body


def _claim(scope: str, key: str, digest: str) -> IdempotencyRecord:
    """Insert the IN_FLIGHT record (committed at once, so concurrent duplicates see it) or read the existing one."""
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(scope=scope, key=key, request_hash=digest)
    except IntegrityError:
        pass
    existing = IdempotencyRecord.objects.get(scope=scope, key=key)
    if existing.request_hash != digest:
        raise KeyReused(f"The key {key!r} was first used with a different request body")
    if existing.state == IdempotencyRecord.State.DONE:
        return existing
    stale = timezone.now() - ABANDONED_AFTER
    if existing.created_at < stale and IdempotencyRecord.objects.filter(
            pk=existing.pk, state=IdempotencyRecord.State.IN_FLIGHT, created_at__lt=stale).update(
            created_at=timezone.now()):
        existing.state = IdempotencyRecord.State.IN_FLIGHT
        return existing
    raise Conflict(f"A request with the key {key!r} is still being processed", key="multiple_requests",
                   message="Multiple requests with the same idempotency key")

"""Writes of the shared kernel: API keys and async actions."""

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import audit
from core.context import acting, current_request_id
from core.models import ApiKey, AsyncAction

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------- API keys

LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    app_token: str  # shown once, never stored

    @property
    def app_id(self) -> str:
        return self.api_key.app_id


def hash_token(token: str) -> str:
    # Tokens are 256-bit random values, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(token.encode()).hexdigest()


def api_key_create(*, name: str, scope: str = ApiKey.Scope.MANAGEMENT, created_by=None,
                   categories=None) -> IssuedApiKey:
    """A new key; `categories` (campaign categories) limits what it sees, none means all."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name, app_id=str(uuid.uuid4()), token_hash=hash_token(token), token_hint=token[:6],
            scope=scope, created_by=created_by,
        )
        if categories:
            key.categories.set(categories)
        audit.record_create(key, extra={"categories": [c.pk for c in categories or []]})
    return IssuedApiKey(api_key=key, app_token=token)


API_KEY_CACHE_SECONDS = 60


def _api_key_cache_key(app_id: str) -> str:
    return f"api-key:{app_id}"


def api_key_authenticate(app_id: str, app_token: str) -> ApiKey | None:
    """The active key for these credentials. Keys are cached (shared cache when REDIS_URL is set);
    revoking a key removes it from the cache, so it stops working at once."""
    cache_key = _api_key_cache_key(app_id)
    key = cache.get(cache_key)
    if key is None:
        key = ApiKey.objects.filter(app_id=app_id, revoked_at__isnull=True).first()
        if key is None:
            return None
        from core.permissions import key_category_ids

        key_category_ids(key)  # cached with the key: scoping requests costs no query
        cache.set(cache_key, key, API_KEY_CACHE_SECONDS)
    if not hmac.compare_digest(key.token_hash, hash_token(app_token)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        # Minute resolution keeps this from writing on every request.
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
        cache.set(cache_key, key, API_KEY_CACHE_SECONDS)
    return key


def _key_state(key: ApiKey) -> dict:
    return {"name": key.name, "scope": key.scope, "revoked_at": audit.snapshot(key, ["revoked_at"])["revoked_at"],
            "categories": sorted(key.categories.values_list("pk", flat=True))}


def api_key_update(key: ApiKey, *, name: str, scope: str, categories=None) -> ApiKey:
    """Change a key's name and scope, and its categories when given (a list; empty means all)."""
    stored = ApiKey.objects.get(pk=key.pk)
    before = _key_state(stored)
    with transaction.atomic():
        ApiKey.objects.filter(pk=key.pk).update(name=name, scope=scope)
        if categories is not None:
            stored.categories.set(categories)
        stored.refresh_from_db()
        audit.record(audit.Action.UPDATE, stored, before=before, after=_key_state(stored))
    api_key_forget(key)
    key.refresh_from_db()
    key.__dict__.pop("_category_ids", None)
    return key


def api_key_forget(key: ApiKey) -> None:
    """Drop the cached copy of a key (after its scope or categories changed)."""
    cache.delete(_api_key_cache_key(key.app_id))


def api_key_delete(key: ApiKey) -> None:
    with transaction.atomic():
        audit.record_delete(key)
        key.delete()
    cache.delete(_api_key_cache_key(key.app_id))


def api_key_revoke(key: ApiKey) -> None:
    with transaction.atomic():
        if ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
            audit.record(audit.Action.UPDATE, key, changes={"revoked_at": [None, "revoked"]})
    cache.delete(_api_key_cache_key(key.app_id))
    key.refresh_from_db(fields=["revoked_at"])


# ---------------------------------------------------------------- async actions

ProgressCallback = Callable[[int, int], None]
AsyncHandler = Callable[[AsyncAction, ProgressCallback], dict]
_ASYNC_HANDLERS: dict[str, AsyncHandler] = {}


def register_async_handler(action_type: str):
    """Decorator: the service function that performs one type of async action.

    It receives the action and a `progress(processed, total)` callback and returns the result
    dict. It must be idempotent: it may run again after a crash (the action row says how far it got).
    """

    def decorator(func: AsyncHandler) -> AsyncHandler:
        _ASYNC_HANDLERS[action_type] = func
        return func

    return decorator


def async_action_start(*, action_type: str, payload: dict | None = None, attachment: bytes | None = None,
                       api_key: ApiKey | None = None, user=None) -> AsyncAction:
    """Create the action row and queue its task once the surrounding transaction commits."""
    if action_type not in _ASYNC_HANDLERS:
        raise KeyError(f"No handler registered for async action type {action_type!r}")
    action = AsyncAction.objects.create(
        type=action_type, payload=payload or {}, attachment=attachment, api_key=api_key,
        user=user if getattr(user, "pk", None) else None, request_id=current_request_id() or "",
    )
    from core.tasks import run_async_action

    transaction.on_commit(lambda: run_async_action.delay(action.pk))
    return action


def async_action_run(action_id: int) -> None:
    """Run one action to completion. A finished action is left alone, so redelivery is harmless."""
    claimed = AsyncAction.objects.filter(
        pk=action_id, status__in=[AsyncAction.Status.ENQUEUED, AsyncAction.Status.IN_PROGRESS]
    ).update(status=AsyncAction.Status.IN_PROGRESS, started_at=timezone.now())
    if not claimed:
        return
    action = AsyncAction.objects.select_related("api_key", "user").get(pk=action_id)
    handler = _ASYNC_HANDLERS[action.type]
    # The work runs as the key or user that started it (scoping and the audit log), with its request id.
    try:
        with acting(action.api_key or action.user, action="change", request_id=action.request_id or None,
                    async_action=action.public_id):
            result = handler(action, _progress_reporter(action.pk))
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the action for the user
        logger.exception("Async action %s failed", action.public_id)
        AsyncAction.objects.filter(pk=action_id).update(
            status=AsyncAction.Status.FAILED, finished_at=timezone.now(),
            result={"message": "The operation failed.", "error": str(exc)[:500]},
        )
        return
    AsyncAction.objects.filter(pk=action_id).update(
        status=AsyncAction.Status.DONE, progress=100, processed=F("total"), finished_at=timezone.now(),
        result=result or {},
    )


def _progress_reporter(action_pk: int) -> ProgressCallback:
    def report(processed: int, total: int) -> None:
        percent = min(100, int(processed * 100 / total)) if total else 0
        AsyncAction.objects.filter(pk=action_pk).update(processed=processed, total=total, progress=percent)

    return report

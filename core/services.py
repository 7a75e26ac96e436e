"""Writes of the shared kernel: API keys and async actions."""

import functools
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core import audit, inputs
from core.context import acting, current_request_id
from core.models import ApiKey, AsyncAction
from core.rawsql import RowLoader

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


@functools.cache
def _key_loader(vendor: str) -> RowLoader:
    """The key row with its category ids in one indexed SELECT (app_id is UNIQUE), compiled once per process."""
    through = ApiKey.categories.through._meta
    key_column, category_column = (through.get_field(name).column for name in ("apikey", "category"))
    rows = f"FROM {through.db_table} c WHERE c.{key_column} = t0.id"
    categories = (f"ARRAY(SELECT c.{category_column} {rows})" if vendor == "postgresql"
                  else f"SELECT group_concat(c.{category_column}) {rows}")
    return RowLoader(ApiKey, extra={"category_list": categories})


def _category_ids(listed) -> frozenset[int] | None:
    """None (every category) or the ids, from PostgreSQL's array or SQLite's comma-separated text."""
    if isinstance(listed, str):
        listed = listed.split(",")
    ids = frozenset(int(pk) for pk in listed or ())
    return ids or None


def api_key_authenticate(app_id: str, app_token: str) -> ApiKey | None:
    """The active key for these credentials, read with its scope and categories on every request: revoking
    a key, or changing its scope or categories, takes effect at once in every process, with or without a
    shared cache. One indexed query (bench/auth.py measures it)."""
    found = _key_loader(connection.vendor).fetch("t0.app_id = %s AND t0.revoked_at IS NULL", [app_id], limit=1)
    if not found or not hmac.compare_digest(found[0].token_hash, hash_token(app_token)):
        return None
    key = found[0]
    key._category_ids = _category_ids(key.category_list)  # core.permissions.key_category_ids: no more query
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        # Minute resolution keeps this from writing on every request.
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
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
    key.refresh_from_db()
    key.__dict__.pop("_category_ids", None)
    return key


def api_key_delete(key: ApiKey) -> None:
    with transaction.atomic():
        audit.record_delete(key)
        key.delete()


def api_key_revoke(key: ApiKey) -> None:
    with transaction.atomic():
        if ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
            audit.record(audit.Action.UPDATE, key, changes={"revoked_at": [None, "revoked"]})
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
            status=AsyncAction.Status.FAILED, finished_at=timezone.now(), result=failure_result(exc))
        return
    AsyncAction.objects.filter(pk=action_id).update(
        status=AsyncAction.Status.DONE, progress=100, processed=F("total"), finished_at=timezone.now(),
        result=result or {},
    )


def failure_result(exc: Exception) -> dict:
    """What a failed action tells its caller. A refusal (ApiError) says why in its own words; anything else
    only its type and text. The text may quote the bad input: what jsonb cannot hold (a NUL) is replaced,
    or recording the failure would fail too and leave the action IN_PROGRESS for ever."""
    from core.errors import ApiError

    if isinstance(exc, ApiError):
        text, key = exc.details or exc.message, exc.key
    else:
        text, key = str(exc), "internal_error"
    return {"message": "The operation failed.", "key": key, "error": inputs.storable(text)[:500]}


def _progress_reporter(action_pk: int) -> ProgressCallback:
    def report(processed: int, total: int) -> None:
        percent = min(100, int(processed * 100 / total)) if total else 0
        AsyncAction.objects.filter(pk=action_pk).update(processed=processed, total=total, progress=percent)

    return report

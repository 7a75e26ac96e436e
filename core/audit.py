"""The audit log: every change to campaigns, vouchers, rules, segments, permissions, users, API keys
and settings, with who (user or API key), when, what (before and after) and the request id.

Services call `record()` in the transaction of the change (so a rolled-back change leaves no row);
the admin's AuditedAdminMixin records saves and deletes of models without a service of their own.
Bulk work: code generation and CSV imports write ONE row for the action on the campaign (with the
count and the async action id); bulk updates of existing vouchers write one row per voucher changed
(with the async action id in `extra`), so each voucher's page shows its own history.
Money movements are not repeated here: they stay in their ledgers (redemptions, gift-card and points
transactions), which carry the same request id.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

from django.db.models import Model

from core.context import current_actor, current_async_action, current_request_id
from core.models import ApiKey, AuditEntry

Action = AuditEntry.Action
SKIPPED_FIELDS = {"updated_at", "created_at", "password", "token_hash", "last_login"}


def _json(value):
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return None
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json(v) for v in value]
    return value


jsonable = _json


def snapshot(obj: Model | None, fields=None) -> dict:
    """The object's concrete field values as JSON (foreign keys as their pk)."""
    if obj is None:
        return {}
    names = fields or [f.attname for f in obj._meta.concrete_fields if f.name not in SKIPPED_FIELDS]
    return {name: _json(getattr(obj, name, None)) for name in names}


def diff(before: dict, after: dict) -> dict:
    """{field: [before, after]} for the fields that differ."""
    return {key: [before.get(key), after.get(key)] for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)}


def _actor_fields(actor) -> dict:
    key = getattr(actor, "api_key", None) or (actor if isinstance(actor, ApiKey) else None)
    if key is not None:
        return {"api_key": key if key.pk else None, "actor": f"api key {key.name} ({key.app_id})"[:200]}
    if actor is not None and getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None):
        return {"user": actor, "actor": actor.get_username()[:200]}
    return {"actor": ""}


def object_ref(obj) -> str:
    for attr in ("public_id", "code", "app_id", "username", "name"):
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value:
            return value[:255]
    return ""


def record(action: str, obj: Model | None = None, *, before: dict | None = None, after: dict | None = None,
           changes: dict | None = None, object_type: str | None = None, object_id=None, ref: str | None = None,
           text: str | None = None, extra: dict | None = None, actor=None) -> AuditEntry | None:
    """Write one audit row. For an update give `before` and `after` snapshots (nothing is written when
    they are equal) and/or `changes` ({field: [before, after]}, added to the difference); for a create
    `after`, for a delete `before`."""
    changes = {**diff(before or {}, after or {}), **(changes or {})}
    if action == Action.UPDATE and not changes:
        return None
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk if object_id is None else object_id
        ref = ref if ref is not None else object_ref(obj)
        text = text if text is not None else str(obj)
    extra = dict(extra or {})
    if current_async_action() and "async_action" not in extra:
        extra["async_action"] = current_async_action()
    return AuditEntry.objects.create(
        action=action, object_type=object_type or "", object_id=str(object_id if object_id is not None else ""),
        object_ref=(ref or "")[:255], object_repr=(text or "")[:255], changes=_json(changes),
        extra=_json(extra), request_id=current_request_id() or "",
        **_actor_fields(actor if actor is not None else current_actor()))


def record_create(obj: Model, **kwargs) -> AuditEntry | None:
    return record(Action.CREATE, obj, after=snapshot(obj), **kwargs)


def record_delete(obj: Model, before: dict | None = None, **kwargs) -> AuditEntry | None:
    return record(Action.DELETE, obj, before=before if before is not None else snapshot(obj), **kwargs)


def record_update(obj: Model, before: dict, after: dict | None = None, **kwargs) -> AuditEntry | None:
    if after is None:
        obj.refresh_from_db()
        after = snapshot(obj, list(before))
    return record(Action.UPDATE, obj, before=before, after=after, **kwargs)


def entries_for(obj: Model):
    """The object's history, newest first."""
    return AuditEntry.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))

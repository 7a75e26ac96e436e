"""Writes of segments: create, change, delete; membership kept current; entered/left events.

Membership of a dynamic segment changes in three ways, all exactly once per change:
- refresh_customer(customer): after a customer, an order or an event changes (customers.services calls
  it in the same transaction). One query lists the dynamic segments with the customer's current
  membership, one more decides which of them match (only when some segment reads what changed);
- a full recompute (async action SEGMENT_RECOMPUTE): set-based SQL per range of customer ids, inserting
  the new members and closing the stints of those who no longer match;
- the schedule (Celery beat, segments.recompute_scheduled): recomputes the segments whose filter moves
  with the clock ("ordered in the last 14 days") or reads data that is not refreshed live.

An entered/left event row is written by whichever statement actually changed the membership row
(INSERT ... ON CONFLICT DO NOTHING RETURNING, UPDATE ... WHERE left_at IS NULL RETURNING), so a refresh
racing a recompute never records an event twice. Passive segments record no events.
"""

import json
import logging
import time
from datetime import UTC

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import F, Max, Min, Q, Value
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import ApiError, InvalidPayload, NotFound
from core.models import AsyncAction
from core.services import async_action_start, register_async_handler
from customers.models import Customer
from customers.selectors import live_customers
from segments.filters import compile_segment_filter, normalize_segment_filter
from segments.models import Segment, SegmentEvent, SegmentMembership

logger = logging.getLogger(__name__)

RECOMPUTE_ACTION = "SEGMENT_RECOMPUTE"
MAX_STATIC_CUSTOMERS = 20_000  # as Voucherify caps static segments
RECOMPUTE_CHUNK = 25_000  # customer ids per statement batch (and per progress step)
ENTERED, LEFT = SegmentEvent.Type.ENTERED, SegmentEvent.Type.LEFT


# ================================================================ create, change, delete

def _clean_name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidPayload("name is required")
    if len(name) > 255 or "\x00" in name:
        raise InvalidPayload("name must have at most 255 characters, without NUL")
    return name.strip()


def _clean_type(value) -> str:
    value = value or Segment.Type.AUTO_UPDATE
    if value not in Segment.Type.values:
        raise InvalidPayload(f"type must be one of {', '.join(Segment.Type.values)}")
    return value


def _apply_filter(segment: Segment, raw_filter) -> None:
    spec = normalize_segment_filter(raw_filter)
    compiled = compile_segment_filter(spec)
    segment.filter = spec
    segment.depends_on = sorted(compiled.depends_on)
    segment.scheduled_recompute = compiled.needs_schedule


def segment_create(data: dict, *, api_key=None, user=None) -> Segment:
    """POST /v1/segments. A static segment takes its customers now; a dynamic one is filled by an async
    recompute (initial_sync_status IN_PROGRESS until it is done)."""
    if not isinstance(data, dict):
        raise InvalidPayload("The segment must be an object")
    name, kind = _clean_name(data.get("name")), _clean_type(data.get("type"))
    segment = Segment(name=name, type=kind)
    if kind == Segment.Type.STATIC:
        if data.get("filter") is not None:
            raise InvalidPayload("A static segment takes customers, not a filter")
        refs = data.get("customers") or []
    else:
        if data.get("customers") is not None:
            raise InvalidPayload(f"An {kind} segment takes a filter, not customers")
        if data.get("filter") is None:
            raise InvalidPayload(f"filter is required for an {kind} segment")
        _apply_filter(segment, data["filter"])
        segment.initial_sync_status = Segment.SyncStatus.IN_PROGRESS
    with transaction.atomic():
        segment.save()
        if kind == Segment.Type.STATIC:
            segment_add_customers(segment, refs)
        else:
            segment_recompute_start(segment, api_key=api_key, user=user)
    return segment


def segment_update(segment: Segment, *, name=None, raw_filter=None, user=None) -> Segment:
    """Rename, or give a dynamic segment a new filter (which starts a recompute)."""
    with transaction.atomic():
        if name is not None:
            segment.name = _clean_name(name)
        recompute = raw_filter is not None and segment.is_dynamic
        if recompute:
            _apply_filter(segment, raw_filter)
            segment.initial_sync_status = Segment.SyncStatus.IN_PROGRESS
        segment.save()
        if recompute:
            segment_recompute_start(segment, user=user)
    return segment


def segment_delete(segment: Segment) -> None:
    """DELETE /v1/segments/{id}: the segment, its memberships and events (fast SQL deletes, no per-row work).
    Rules naming it simply stop matching."""
    with transaction.atomic():
        segment.delete()


def _resolve_customers(refs) -> list[int]:
    if not isinstance(refs, list) or not all(isinstance(ref, str) and ref and "\x00" not in ref for ref in refs):
        raise InvalidPayload("customers must be an array of customer ids or source ids")
    if len(refs) > MAX_STATIC_CUSTOMERS:
        raise InvalidPayload(f"A static segment holds at most {MAX_STATIC_CUSTOMERS} customers")
    wanted = set(refs)
    found: dict[str, int] = {}
    for start in range(0, len(refs), 1000):
        batch = refs[start:start + 1000]
        rows = live_customers().filter(Q(public_id__in=batch) | Q(source_id__in=batch)).order_by()
        for pk, public_id, source_id in rows.values_list("pk", "public_id", "source_id"):
            found[public_id] = pk
            if source_id:
                found[source_id] = pk
    missing = [ref for ref in refs if ref not in found]
    if missing:
        raise NotFound.for_object("customer", missing[0])
    return sorted({found[ref] for ref in wanted})


def segment_add_customers(segment: Segment, refs) -> int:
    """Add customers (ids or source ids) to a static segment; returns how many joined."""
    return _change_static(segment, refs, join=True)


def segment_remove_customers(segment: Segment, refs) -> int:
    """Remove customers from a static segment; returns how many left."""
    return _change_static(segment, refs, join=False)


def _change_static(segment: Segment, refs, *, join: bool) -> int:
    if segment.type != Segment.Type.STATIC:
        raise InvalidPayload("Customers are added and removed by hand in static segments only")
    pks = _resolve_customers(refs)
    now = timezone.now()
    change = _enter if join else _leave
    with transaction.atomic():
        changed = [pk for pk in pks if change(segment, pk, now, event=False)]
        _record(segment, changed, ENTERED if join else LEFT, now)
    return len(changed)


# ================================================================ one customer

def _record(segment: Segment, customer_pks: list[int], kind: str, now) -> None:
    if segment.records_events and customer_pks:
        SegmentEvent.objects.bulk_create([SegmentEvent(segment=segment, customer_id=pk, type=kind, created_at=now)
                                          for pk in customer_pks], batch_size=1000)


def _enter(segment: Segment, customer_pk: int, now, *, event: bool = True) -> bool:
    """Open a stint; False when the customer is already a member (perhaps since a moment ago)."""
    table = SegmentMembership._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (segment_id, customer_id, entered_at, left_at) VALUES (%s, %s, %s, NULL) "
                       "ON CONFLICT DO NOTHING RETURNING id",
                       [segment.pk, customer_pk, connection.ops.adapt_datetimefield_value(now)])
        entered = cursor.fetchone() is not None
    if entered and event:
        _record(segment, [customer_pk], ENTERED, now)
    return entered


def _leave(segment: Segment, customer_pk: int, now, *, event: bool = True) -> bool:
    left = SegmentMembership.objects.filter(segment=segment, customer_id=customer_pk,
                                            left_at__isnull=True).update(left_at=now)
    if left and event:
        _record(segment, [customer_pk], LEFT, now)
    return bool(left)


# Per-customer SQL of each segment, compiled once: (updated_at, expires, sql, params, customer pk slots).
# Filters relative to now ("in the last 14 days") hold their cut-off as a parameter, so they are compiled
# again after COMPILED_TTL seconds; the others until the segment changes.
_COMPILED: dict[int, tuple] = {}
COMPILED_TTL = 60.0
NEVER_MATCHES = ("", [], [])


def _per_customer_sql(segment: Segment) -> tuple[str, list, list[int]]:
    """The SQL selecting segment.pk when the customer (a parameter in the returned slots) matches."""
    cached = _COMPILED.get(segment.pk)
    if cached and cached[0] == segment.updated_at and cached[1] > time.monotonic():
        return cached[2:]
    try:
        compiled = compile_segment_filter(segment.filter or {}, per_customer=True, prefix=f"s{segment.pk}_")
    except ApiError:  # a stored filter naming a field no longer registered: leave its members alone
        logger.warning("Segment %s has a filter that no longer compiles", segment.public_id)
        return NEVER_MATCHES

    def sql_for(customer_pk: int):
        rows = compiled.apply(live_customers().filter(pk=customer_pk)).order_by()
        rows = rows.annotate(matched_segment=Value(segment.pk)).values_list("matched_segment")
        return rows.query.get_compiler(connection=connection).as_sql()

    try:
        (sql, params), (_same_sql, other_params) = sql_for(1), sql_for(2)
    except EmptyResultSet:  # the filter can never match (e.g. $in of nothing)
        entry = NEVER_MATCHES
    else:  # the parameters that are 1 in the first and 2 in the second are where the customer's pk goes
        slots = [i for i, (a, b) in enumerate(zip(params, other_params, strict=True))
                 if type(a) is int and type(b) is int and (a, b) == (1, 2)]
        entry = (sql, list(params), slots)
    expires = time.monotonic() + COMPILED_TTL if segment.scheduled_recompute else float("inf")
    _COMPILED[segment.pk] = (segment.updated_at, expires, *entry)
    return entry


def _matching_segments(customer_pk: int, segments: list[Segment]) -> set[int]:
    """Which of `segments` match the customer now: one UNION ALL query, each part in the cheap
    per-customer shape (correlated subqueries on the customer's own rows), its SQL compiled once."""
    parts, params = [], []
    for segment in segments:
        sql, sql_params, slots = _per_customer_sql(segment)
        if not sql:
            continue
        sql_params = list(sql_params)
        for slot in slots:
            sql_params[slot] = customer_pk
        parts.append(f"SELECT * FROM ({sql}) AS s{segment.pk}")
        params.extend(sql_params)
    if not parts:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return {row[0] for row in cursor.fetchall()}


def refresh_read_sql(customer_pk: int) -> tuple[str, list]:
    """refresh_customer's first read (the dynamic segments, what their filters read, and whether the
    customer is in each) for callers that send it with their own writes (core.rawsql.WriteChain) and
    hand the rows to refresh_customer(known=...)."""
    quote = connection.ops.quote_name
    types = list(Segment.DYNAMIC_TYPES)
    sql = ("SELECT s.id, s.public_id, s.type, s.filter, s.depends_on, s.updated_at, s.scheduled_recompute, "
           f"EXISTS (SELECT 1 FROM {quote(SegmentMembership._meta.db_table)} m WHERE m.segment_id = s.id "
           f"AND m.customer_id = %s AND m.left_at IS NULL) AS is_member FROM {quote(Segment._meta.db_table)} s "
           f"WHERE s.type IN ({', '.join(['%s'] * len(types))})")
    return sql, [customer_pk, *types]


def _segment_from_row(row: dict) -> Segment:
    """A row of refresh_read_sql as a cursor or PostgreSQL's json_agg gives it: JSON possibly as text,
    timestamps as text in json_agg and on SQLite, booleans as 0/1 on SQLite."""
    def as_json(value):
        return json.loads(value) if isinstance(value, str) else value

    updated_at = parse_datetime(row["updated_at"]) if isinstance(row["updated_at"], str) else row["updated_at"]
    if updated_at is not None and timezone.is_naive(updated_at):
        updated_at = timezone.make_aware(updated_at, UTC)
    segment = Segment(pk=row["id"], public_id=row["public_id"], type=row["type"], filter=as_json(row["filter"]),
                      depends_on=as_json(row["depends_on"]) or [], updated_at=updated_at,
                      scheduled_recompute=bool(row["scheduled_recompute"]))
    segment.is_member = bool(row["is_member"])
    return segment


def refresh_customer(customer: Customer | int, *, changed: str | None = None, known: list[dict] | None = None) -> None:
    """Bring the customer's dynamic-segment memberships up to date. `changed` ("customer", "orders",
    "events", ...) limits the work to segments whose filter reads that; None re-checks them all.
    `known`: the rows of refresh_read_sql(customer) if the caller has read them. Call it inside the
    transaction that made the change."""
    customer_pk = customer if isinstance(customer, int) else customer.pk
    if known is None:
        with connection.cursor() as cursor:
            cursor.execute(*refresh_read_sql(customer_pk))
            names = [column[0] for column in cursor.description]
            known = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    segments = sorted((_segment_from_row(row) for row in known), key=lambda segment: segment.pk)
    relevant = [segment for segment in segments if changed is None or changed in (segment.depends_on or [])]
    if not relevant:
        return
    matched = _matching_segments(customer_pk, relevant)
    now = timezone.now()
    for segment in relevant:
        if segment.pk in matched and not segment.is_member:
            _enter(segment, customer_pk, now)
        elif segment.pk not in matched and segment.is_member:
            _leave(segment, customer_pk, now)


def customer_leave_all(customer: Customer) -> int:
    """A deleted or erased customer leaves every segment, static ones included."""
    now = timezone.now()
    count = 0
    for segment in Segment.objects.filter(memberships__customer=customer, memberships__left_at__isnull=True):
        count += _leave(segment, customer.pk, now)
    return count


# ================================================================ full recompute (set-based)

def segment_recompute_start(segment: Segment, *, api_key=None, user=None) -> AsyncAction:
    return async_action_start(action_type=RECOMPUTE_ACTION, payload={"segment_id": segment.public_id},
                              api_key=api_key, user=user)


def _members_query(segment: Segment, compiled, low: int, high: int) -> tuple[str, list]:
    """SQL selecting the ids of the customers in [low, high) who belong to the segment now."""
    customers = live_customers().filter(pk__gte=low, pk__lt=high).order_by()
    if segment.is_dynamic:
        customers = compiled.apply(customers)
    else:  # a static segment keeps its members, less the deleted customers
        customers = customers.filter(segment_memberships__segment=segment, segment_memberships__left_at__isnull=True)
    query = customers.annotate(member_id=F("pk")).values("member_id").query
    sql, params = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


MEMBERS_TABLE = "segment_recompute_members"


def _recompute_range(segment: Segment, compiled, low: int, high: int, now) -> tuple[int, int]:
    """Close the stints of customers in [low, high) who no longer match, open stints for the new ones,
    with their events. Returns (entered, left).

    The members of the range are computed once into an indexed temporary table: the statements that
    compare them with the stored stints then probe an index whatever the planner believes about the
    table sizes (statistics lag behind a first recompute that has just inserted 100,000 stints)."""
    members_sql, members_params = _members_query(segment, compiled, low, high)
    membership, events = SegmentMembership._meta.db_table, SegmentEvent._meta.db_table
    at = connection.ops.adapt_datetimefield_value(now)
    open_here = ("mem.segment_id = %s AND mem.left_at IS NULL AND mem.customer_id >= %s AND mem.customer_id < %s "
                 f"AND NOT EXISTS (SELECT 1 FROM {MEMBERS_TABLE} AS m WHERE m.member_id = mem.customer_id)")
    open_params = [segment.pk, low, high]
    new_here = (f"FROM {MEMBERS_TABLE} AS m WHERE NOT EXISTS (SELECT 1 FROM {membership} AS x "
                "WHERE x.segment_id = %s AND x.customer_id = m.member_id AND x.left_at IS NULL)")
    new_params = [segment.pk]
    update_left = f"UPDATE {membership} AS mem SET left_at = %s WHERE {open_here}"
    insert_new = (f"INSERT INTO {membership} (segment_id, customer_id, entered_at, left_at) "
                  f"SELECT %s, m.member_id, %s, NULL {new_here}")
    record = f"INSERT INTO {events} (segment_id, customer_id, type, created_at) "
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {MEMBERS_TABLE}")
        cursor.execute(f"CREATE TEMPORARY TABLE {MEMBERS_TABLE} AS {members_sql}", members_params)
        cursor.execute(f"CREATE UNIQUE INDEX {MEMBERS_TABLE}_id ON {MEMBERS_TABLE} (member_id)")
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {MEMBERS_TABLE}")
        if not segment.records_events:
            cursor.execute(update_left, [at, *open_params])
            left = cursor.rowcount
            cursor.execute(insert_new + " ON CONFLICT DO NOTHING", [segment.pk, at, *new_params])
            entered = cursor.rowcount
        elif connection.vendor == "postgresql":
            # One statement each: the event rows are exactly the rows the UPDATE / INSERT changed.
            cursor.execute(f"WITH gone AS ({update_left} RETURNING mem.customer_id) "
                           f"{record} SELECT %s, customer_id, %s, %s FROM gone",
                           [at, *open_params, segment.pk, LEFT, at])
            left = cursor.rowcount
            cursor.execute(f"WITH came AS ({insert_new} ON CONFLICT DO NOTHING RETURNING customer_id) "
                           f"{record} SELECT %s, customer_id, %s, %s FROM came",
                           [segment.pk, at, *new_params, segment.pk, ENTERED, at])
            entered = cursor.rowcount
        else:
            # SQLite has one writer at a time: the first write below locks out every other writer until
            # commit, so the event rows and the membership changes see the same state.
            cursor.execute(f"{record} SELECT %s, mem.customer_id, %s, %s FROM {membership} AS mem WHERE {open_here}",
                           [segment.pk, LEFT, at, *open_params])
            left = cursor.rowcount
            cursor.execute(update_left, [at, *open_params])
            cursor.execute(f"{record} SELECT %s, m.member_id, %s, %s {new_here}",
                           [segment.pk, ENTERED, at, *new_params])
            entered = cursor.rowcount
            cursor.execute(insert_new + " ON CONFLICT DO NOTHING", [segment.pk, at, *new_params])
        # (On an error the transaction's rollback removes the temporary table as well.)
        cursor.execute(f"DROP TABLE {MEMBERS_TABLE}")
    return entered, left


def segment_recompute(segment: Segment, progress=None) -> dict:
    """Recompute a segment's membership over all customers, in ranges of customer ids (each range one
    short transaction, so a crash loses nothing and a rerun is harmless)."""
    compiled = compile_segment_filter(segment.filter or {}) if segment.is_dynamic else None
    bounds = Customer.objects.aggregate(low=Min("pk"), high=Max("pk"))
    low, high = bounds["low"] or 0, (bounds["high"] or -1) + 1
    total = max(high - low, 0)
    now = timezone.now()
    entered = left = 0
    if progress:
        progress(0, total)
    for start in range(low, high, RECOMPUTE_CHUNK):
        came, gone = _recompute_range(segment, compiled, start, min(start + RECOMPUTE_CHUNK, high), now)
        entered, left = entered + came, left + gone
        if progress:
            progress(min(start + RECOMPUTE_CHUNK, high) - low, total)
    Segment.objects.filter(pk=segment.pk).update(initial_sync_status=Segment.SyncStatus.DONE, last_computed_at=now)
    return {"segment_id": segment.public_id, "entered": entered, "left": left,
            "members": SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).count()}


@register_async_handler(RECOMPUTE_ACTION)
def segment_recompute_action(action: AsyncAction, progress) -> dict:
    segment = Segment.objects.filter(public_id=action.payload.get("segment_id")).first()
    if segment is None:
        return {"segment_id": action.payload.get("segment_id"), "message": "The segment no longer exists."}
    return segment_recompute(segment, progress)


def recompute_scheduled() -> list[AsyncAction]:
    """Start a recompute of every dynamic segment whose filter moves with the clock or reads data that is
    not refreshed live, unless one is already queued or running (Celery beat calls this)."""
    pending = set(AsyncAction.objects.filter(type=RECOMPUTE_ACTION, status__in=[
        AsyncAction.Status.ENQUEUED, AsyncAction.Status.IN_PROGRESS]).values_list("payload__segment_id", flat=True))
    started = []
    for segment in Segment.objects.filter(type__in=Segment.DYNAMIC_TYPES, scheduled_recompute=True).order_by("pk"):
        if segment.public_id not in pending:
            with transaction.atomic():
                started.append(segment_recompute_start(segment))
    return started

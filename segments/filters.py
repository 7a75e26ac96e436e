"""The segment filter language: Voucherify's customer-segment `filter`, evaluated by the database.

    {"junction": "and",
     "address.city": {"conditions": {"$is": ["London"]}},
     "orders.count": {"conditions": {"$more_than_equal": [5]}, "period": {"days": 30}},
     "metadata.industry": {"conditions": {"$in": ["pharma"]}}}

The syntax and the condition builders are those of the catalog's AUTO_UPDATE collections
(catalog.selectors), over customers instead of products. A filter compiles to a Q object (plus aliases)
over Customer, in one of two shapes:

- bulk (the default): aggregates over related rows (orders in a period, events, redemptions) are
  uncorrelated grouped subqueries (`id IN (SELECT customer FROM ... GROUP BY customer HAVING ...)`), which
  PostgreSQL answers with one hash join for the whole table: a segment recompute over 100,000 customers;
- per customer: the same aggregates as correlated subqueries, cheap when the query is about one customer
  (refreshing a customer's segments after an order), where the bulk shape would aggregate every row.

Fields are registered (register_filter_field, register_aggregate_field), so the gift card and referral
apps can add `gift_cards.*` / `referrals.*` from their AppConfig.ready() without touching this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog.selectors import (
    MAX_DAYS,
    OPERATOR_ALIASES,
    OPERATORS_BY_KIND,
    PRESENCE_OPS,
    _all_of,
    _any_of,
    _date_condition,
    _field_kind,
    _integer_condition,
    _is_int,
    _metadata_condition,
    _metadata_root_condition,
    _normalize_conditions,
    _single,
    _string_condition,
)
from core.dates import parse_moment
from core.errors import InvalidPayload

JUNCTIONS = {"and", "or"}
# The rules app's spellings of the same operators.
SEGMENT_OPERATOR_ALIASES = {**OPERATOR_ALIASES, "$more_than_ago": "$more_than", "$less_than_ago": "$less_than"}
RELATIVE_DATE_OPS = {"$more_than", "$less_than"}
AGGREGATE_OPS = OPERATORS_BY_KIND["integer"]
PERIOD_KEYS = {"days", "after", "before"}

# Source of an aggregate field: source(suffix) -> (rows, customer field, date field or None, aggregate).
AggregateSource = Callable[[str], tuple[QuerySet, str, str | None, object]]


@dataclass(frozen=True)
class FilterField:
    """One filter key (or key prefix, such as `metadata.` or `events.`).

    kind: string | integer | date | metadata | metadata_root (columns of Customer) or aggregate
    (a count or sum over related rows, optionally within a `period`).
    depends_on: what the field reads; a change of that kind refreshes the segments that use it.
    live: whether the app owning that data refreshes customers when it changes (segments.services.
    refresh_customer); segments using a field that is not live are also recomputed on the schedule.
    """

    key: str
    kind: str
    column: str | None = None
    depends_on: str = "customer"
    live: bool = True
    source: AggregateSource | None = None
    description: str = ""
    # A yes/no field counted as 0/1 (consents): filters may say true / false for 1 / 0.
    boolean: bool = False


FIELDS: dict[str, FilterField] = {}
PREFIX_FIELDS: dict[str, FilterField] = {}
# Other spellings of the same key: the customer object's `summary.orders.*` and the rules app's names.
KEY_ALIASES = {
    "customer.email": "email", "customer.name": "name", "customer.phone": "phone",
    "customer.source_id": "source_id", "customer.created_at": "created_at",
    "customer.address.city": "address.city", "customer.address.country": "address.country",
    "customer.address.postal_code": "address.postal_code",
    "customer.orders.count": "orders.total_count", "customer.orders.amount": "orders.total_amount",
    "customer.last_order_date": "orders.last_order_date",
}


def register_filter_field(key: str, kind: str, column: str | None = None, *, depends_on: str = "customer",
                          live: bool = True, description: str = "") -> FilterField:
    """A filter key on a column of Customer. A key ending with "." is a prefix (`metadata.`)."""
    return _register(FilterField(key, kind, column, depends_on, live, None, description))


def register_aggregate_field(key: str, source: AggregateSource, *, depends_on: str, live: bool = True,
                             description: str = "", boolean: bool = False) -> FilterField:
    """A count or sum over rows related to the customer: `source(suffix)` returns (rows, the rows' customer
    field, their date field for `period` or None, the aggregate), where suffix is what follows a prefix
    key (`events.` + "newsletter_opened") and "" for a plain key."""
    return _register(FilterField(key, "aggregate", None, depends_on, live, source, description, boolean))


def _register(definition: FilterField) -> FilterField:
    (PREFIX_FIELDS if definition.key.endswith(".") else FIELDS)[definition.key] = definition
    return definition


def canonical_key(key: str) -> str:
    key = KEY_ALIASES.get(key, key)
    if key.startswith("customer.metadata."):
        return key.removeprefix("customer.")
    return key.removeprefix("summary.")


def field_for(key: str) -> tuple[FilterField, str]:
    """The registered field of a (canonical) key, with the suffix after a prefix key."""
    if key in FIELDS:
        return FIELDS[key], ""
    for prefix in sorted(PREFIX_FIELDS, key=len, reverse=True):
        if key.startswith(prefix) and len(key) > len(prefix):
            return PREFIX_FIELDS[prefix], key[len(prefix):]
    allowed = ", ".join([*FIELDS, *(f"{prefix}<name>" for prefix in PREFIX_FIELDS)])
    raise InvalidPayload(f"filter.{key}: unknown filter field (allowed: {allowed})")


# ---------------------------------------------------------------- normalizing

def normalize_segment_filter(raw) -> dict:
    """The filter as stored: explicit nulls dropped, junction lower-cased, keys and operators in their
    canonical spelling. Raises InvalidPayload naming the bad part."""
    if not isinstance(raw, dict):
        raise InvalidPayload("filter must be a JSON object")
    junction = raw.get("junction", "and")
    if not isinstance(junction, str) or junction.lower() not in JUNCTIONS:
        raise InvalidPayload("filter.junction must be 'and' or 'or'")
    normalized: dict = {"junction": junction.lower()}
    for key, entry in raw.items():
        if key == "junction" or entry is None:
            continue
        if not isinstance(key, str) or not key or "\x00" in key:
            raise InvalidPayload("filter keys must be non-empty strings")
        canonical = canonical_key(key)
        definition, _suffix = field_for(canonical)
        normalized[canonical] = _normalize_entry(canonical, definition, entry)
    compile_segment_filter(normalized)  # type-checks every value
    return normalized


def _normalize_entry(key: str, definition: FilterField, entry) -> dict:
    """The catalog's checks of `{"conditions": {...}}`, plus a `period` for counts and sums."""
    period = None
    if definition.kind == "aggregate" and isinstance(entry, dict) and "period" in entry:
        entry = dict(entry)
        period = entry.pop("period")
    conditions = _normalize_conditions(key, entry)
    if definition.boolean:
        conditions = {op: _bools_as_counts(value) for op, value in conditions.items()}
    normalized = {"conditions": {SEGMENT_OPERATOR_ALIASES.get(op, op): value for op, value in conditions.items()}}
    if period is not None:
        normalized["period"] = period
    return normalized


def _bools_as_counts(value):
    if isinstance(value, list):
        return [int(v) if isinstance(v, bool) else v for v in value]
    return int(value) if isinstance(value, bool) else value


# ---------------------------------------------------------------- compiling

@dataclass
class CompiledSegmentFilter:
    """A segment filter as a Q over Customer plus the aliases it refers to, and what it depends on."""

    per_customer: bool = False
    prefix: str = "sf"
    q: Q = field(default_factory=Q)
    aliases: dict = field(default_factory=dict)
    depends_on: set[str] = field(default_factory=set)
    needs_schedule: bool = False

    def apply(self, queryset: QuerySet) -> QuerySet:
        return queryset.alias(**self.aliases).filter(self.q) if self.aliases else queryset.filter(self.q)

    def alias(self, expression) -> str:
        name = f"{self.prefix}{len(self.aliases)}"
        self.aliases[name] = expression
        return name


def compile_segment_filter(spec: dict, *, per_customer: bool = False, prefix: str = "sf") -> CompiledSegmentFilter:
    """Translate a normalized filter. No condition at all means every customer matches."""
    compiled = CompiledSegmentFilter(per_customer=per_customer, prefix=prefix)
    parts = []
    for key, entry in spec.items():
        if key == "junction" or entry is None:
            continue
        definition, suffix = field_for(key)
        compiled.depends_on.add(definition.depends_on)
        compiled.needs_schedule |= not definition.live
        for op, value in entry["conditions"].items():
            parts.append(_condition(compiled, key, definition, suffix, op, value, entry.get("period")))
    if parts:
        compiled.q = _any_of(parts) if spec.get("junction") == "or" else _all_of(parts)
    return compiled


def _condition(compiled, key: str, definition: FilterField, suffix: str, op: str, value, period) -> Q:
    where = f"filter.{key}.conditions.{op}"
    kind = definition.kind
    operators = AGGREGATE_OPS if kind == "aggregate" else OPERATORS_BY_KIND[kind]
    if op not in operators:
        raise InvalidPayload(f"{where}: unknown operator for {key} (allowed: {', '.join(sorted(operators))})")
    if kind == "aggregate":
        return _aggregate_condition(compiled, where, definition, suffix, op, value, period)
    if kind == "date" and op in RELATIVE_DATE_OPS:
        compiled.needs_schedule = True  # "in the last 14 days" moves with the clock
    if kind == "metadata":
        _field_kind(key)  # the catalog's checks on metadata key names
        return _metadata_condition(compiled, where, key.split(".")[1:], op, value)
    builder = {"string": _string_condition, "integer": _integer_condition, "date": _date_condition,
               "metadata_root": _metadata_root_condition}[kind]
    return builder(compiled, where, definition.column, op, value)


def _aggregate_condition(compiled, where, definition: FilterField, suffix: str, op: str, value, period) -> Q:
    rows, customer_field, date_field, aggregate = definition.source(suffix)
    rows = rows.filter(**{f"{customer_field}__isnull": False}).order_by()
    if period is not None:
        rows = _within(compiled, where.rsplit(".conditions", 1)[0] + ".period", rows, date_field, period)
    if op in PRESENCE_OPS:
        if compiled.per_customer:
            present = Q(Exists(rows.filter(**{customer_field: OuterRef("pk")})))
        else:
            present = Q(pk__in=rows.values(customer_field))
        return present if op == "$has_value" else ~present
    # Checked (and its values typed) by the catalog's integer builder, on the aggregate's name.
    if compiled.per_customer:
        one = rows.filter(**{customer_field: OuterRef("pk")}).values(customer_field).annotate(v=aggregate)
        name = compiled.alias(Coalesce(Subquery(one.values("v")[:1]), Value(0)))
        return _integer_condition(compiled, where, name, op, value)
    having = _integer_condition(compiled, where, "v", op, value)
    grouped = rows.values(customer_field).annotate(v=aggregate).filter(having).values(customer_field)
    matched = Q(pk__in=grouped)
    if _zero_satisfies(op, value):  # customers without any row have 0, and match too
        matched |= ~Q(pk__in=rows.values(customer_field))
    return matched


def _zero_satisfies(op: str, value) -> bool:
    values = value if isinstance(value, list) else [value]
    first = values[0]
    return {
        "$is": lambda: 0 in values, "$in": lambda: 0 in values,
        "$is_not": lambda: 0 not in values, "$not_in": lambda: 0 not in values,
        "$more_than": lambda: first < 0, "$less_than": lambda: first > 0,
        "$more_than_equal": lambda: first <= 0, "$less_than_equal": lambda: first >= 0,
    }[op]()


def _within(compiled, where: str, rows: QuerySet, date_field: str | None, period) -> QuerySet:
    """`period`: {"days": N} (the last N days, moving with the clock) and/or {"after": ISO, "before": ISO}."""
    if date_field is None:
        raise InvalidPayload(f"{where}: this field has no period")
    if not isinstance(period, dict) or not period or set(period) - PERIOD_KEYS:
        raise InvalidPayload(f"{where} must be an object with days, after and/or before")
    if period.get("days") is not None:
        days = _single(where + ".days", period["days"], lambda v: _is_int(v) and 1 <= v <= MAX_DAYS,
                       f"a whole number of days (1-{MAX_DAYS})")
        rows = rows.filter(**{f"{date_field}__gte": timezone.now() - timedelta(days=days)})
        compiled.needs_schedule = True
    for key, lookup in (("after", "gt"), ("before", "lt")):
        if period.get(key) is not None:
            moment = parse_moment(period[key])
            if moment is None:
                raise InvalidPayload(f"{where}.{key} must be an ISO 8601 date or date-time")
            rows = rows.filter(**{f"{date_field}__{lookup}": moment})
    return rows


# ---------------------------------------------------------------- the built-in fields

for _key, _column in (("id", "public_id"), ("source_id", "source_id"), ("name", "name"), ("email", "email"),
                      ("phone", "phone"), ("description", "description")):
    register_filter_field(_key, "string", _column)
for _part in ("city", "country", "postal_code", "state", "line_1", "line_2"):
    register_filter_field(f"address.{_part}", "string", f"address_{_part}")
register_filter_field("created_at", "date", "created_at", description="when the customer signed up")
register_filter_field("updated_at", "date", "updated_at")
register_filter_field("metadata", "metadata_root", "metadata")
register_filter_field("metadata.", "metadata")
# The order aggregates kept on the customer (PAID and FULFILLED orders).
register_filter_field("orders.total_count", "integer", "orders_total_count", depends_on="orders")
register_filter_field("orders.total_amount", "integer", "orders_total_amount", depends_on="orders")
register_filter_field("orders.last_order_amount", "integer", "last_order_amount", depends_on="orders")
register_filter_field("orders.last_order_date", "date", "last_order_date", depends_on="orders")


def _counted_orders(suffix: str):
    from customers.models import Order

    return (Order.objects.filter(counted_amount__isnull=False)
            .annotate(placed=Coalesce("ordered_at", "created_at")))


register_aggregate_field("orders.count", lambda suffix: (_counted_orders(suffix), "counted_customer", "placed",
                                                         Count("id")),
                         depends_on="orders", description="number of PAID and FULFILLED orders (in a period)")
register_aggregate_field("orders.amount", lambda suffix: (_counted_orders(suffix), "counted_customer", "placed",
                                                          Sum("counted_amount")),
                         depends_on="orders", description="amount paid in PAID and FULFILLED orders (in a period)")


def _events(suffix: str):
    from customers.models import CustomEvent

    return CustomEvent.objects.filter(name=suffix), "customer", "created_at", Count("id")


register_aggregate_field("events.", _events, depends_on="events",
                         description="how many times the customer sent the custom event (in a period)")


def _redemptions(suffix: str):
    from django.apps import apps

    redemption = apps.get_model("promo", "Redemption")
    # One row per redeemable redeemed (stacked requests add a parent row, which is not counted).
    rows = redemption.objects.filter(parent__isnull=False, status="SUCCEEDED")
    return rows, "customer", "created_at", Count("id")


# Redemptions are written by the promo app, which does not refresh segments: the schedule catches up.
register_aggregate_field("redemptions.count", _redemptions, depends_on="redemptions", live=False,
                         description="successful redemptions, rollbacks excluded (in a period)")


def _consents(suffix: str):
    from customers.models import CustomerConsent

    # One state row per customer and consent (UNIQUE): the count is 1 when granted, else 0.
    rows = CustomerConsent.objects.filter(Q(consent__name=suffix) | Q(consent__public_id=suffix), granted=True)
    return rows, "customer", "updated_at", Count("id")


register_aggregate_field("consents.", _consents, depends_on="consents", boolean=True,
                         description="whether the customer has granted the consent (name or id): $is [true] / "
                                     "[false]; with a period, granted within it")

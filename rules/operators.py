"""Condition operators ($is, $in, $more_than, ...): compare one actual value with the rule's values."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.utils import timezone

from core.dates import parse_moment


def _num(value):
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _cmp(op: Callable[[object, object], bool]):
    def check(actual, expected: list) -> bool:
        target = expected[0] if expected else None
        left, right = _num(actual), _num(target)
        if left is not None and right is not None:
            return op(left, right)
        # Non-numbers of the same kind ("17:30", ISO dates) compare as text, which orders them correctly.
        return isinstance(actual, str) and isinstance(target, str) and op(actual, target)

    return check


def _as_list(actual) -> list:
    if actual is None:
        return []
    return actual if isinstance(actual, list | tuple | set) else [actual]


def _same(a, b) -> bool:
    if a == b:
        return True
    na, nb = _num(a), _num(b)
    return na is not None and na == nb


def _is(actual, expected) -> bool:
    return any(_same(a, e) for a in _as_list(actual) for e in expected)


def _to_datetime(value) -> datetime | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return timezone.make_aware(datetime(value.year, value.month, value.day))
    return parse_moment(value)


def _later(actual, expected: list, earliest: bool) -> bool:
    """$after (earliest=True) and $before: an actual value that is not a moment is as far as it can be."""
    bound = _to_datetime(expected[0]) if expected else None
    if bound is None:
        return False
    moment = _to_datetime(actual)
    if earliest:
        return (moment or datetime.min.replace(tzinfo=UTC)) > bound
    return (moment or datetime.max.replace(tzinfo=UTC)) < bound


def _days_ago(actual, expected, compare) -> bool:
    moment, days = _to_datetime(actual), _num(expected[0] if expected else None)
    if moment is None or days is None:
        return False
    return compare(timezone.now() - moment, timedelta(days=float(days)))


OPERATORS: dict[str, Callable[[object, list], bool]] = {
    "$is": _is,
    "$is_not": lambda a, e: not _is(a, e),
    "$in": _is,
    "$not_in": lambda a, e: not _is(a, e),
    "$less_than": _cmp(lambda a, b: a < b),
    "$less_than_or_equal": _cmp(lambda a, b: a <= b),
    "$more_than": _cmp(lambda a, b: a > b),
    "$more_than_or_equal": _cmp(lambda a, b: a >= b),
    "$starts_with": lambda a, e: isinstance(a, str) and any(a.startswith(str(x)) for x in e),
    "$ends_with": lambda a, e: isinstance(a, str) and any(a.endswith(str(x)) for x in e),
    "$contains": lambda a, e: any(str(x) in (a if isinstance(a, str) else _as_list(a)) for x in e),
    "$not_contain": lambda a, e: not any(str(x) in (a if isinstance(a, str) else _as_list(a)) for x in e),
    "$is_unknown": lambda a, e: a is None or a == "",
    "$has_value": lambda a, e: a is not None and a != "",
    "$count": lambda a, e: _cmp(lambda x, y: x == y)(len(_as_list(a)), e),
    "$count_more": lambda a, e: _cmp(lambda x, y: x > y)(len(_as_list(a)), e),
    "$count_less": lambda a, e: _cmp(lambda x, y: x < y)(len(_as_list(a)), e),
    "$not_differ": lambda a, e: set(map(str, _as_list(a))) == set(map(str, e)),
    "$not_intersect": lambda a, e: not set(map(str, _as_list(a))) & set(map(str, e)),
    "$after": lambda a, e: _later(a, e, earliest=True),
    "$before": lambda a, e: _later(a, e, earliest=False),
    "$more_than_ago": lambda a, e: _days_ago(a, e, lambda delta, d: delta > d),
    "$less_than_ago": lambda a, e: _days_ago(a, e, lambda delta, d: delta < d),
}

# Operators that bound a count or an amount from above: a condition backed by a counter uses them.
UPPER_BOUNDS = {"$less_than": -1, "$less_than_or_equal": 0}


def apply_operator(operator: str, actual, expected) -> bool:
    if operator not in OPERATORS:
        raise KeyError(operator)
    return OPERATORS[operator](actual, expected if isinstance(expected, list) else [expected])

"""The one reader of dates and times that clients send (bodies, query strings, CSV cells).

ISO 8601 as Django reads it: `2025-01-31T10:00:00Z`, an offset such as `+02:00`, or a date alone meaning
its midnight. A text that looks right but names no moment (`10:61`, February 30) is not a moment, and
neither is one that leaves the years 1 to 9999 once in UTC (`9999-12-31T23:00:00-05:00`): Python cannot
hold it, so the database would store it and every later read of the row would fail. Callers turn `None`
into their 400, or call `clean_moment` for the standard one.
"""

from datetime import UTC, date, datetime, time, tzinfo

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.errors import InvalidPayload
from core.inputs import unstorable

EXAMPLE = "2025-01-31T00:00:00Z"


def parse_day(value) -> date | None:
    """An ISO 8601 calendar date (`2025-01-31`), or None."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        return parse_date(value)
    except ValueError:  # well formed, but no such day
        return None


def parse_moment(value, *, naive_zone: tzinfo | None = None) -> datetime | None:
    """An aware datetime for an ISO 8601 date-time or date, or None. A moment without an offset is in
    `naive_zone` (default: the project's time zone)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and not unstorable(value):  # Python's parser lets a trailing NUL through
        text = value.strip()
        try:
            moment = parse_datetime(text)
        except ValueError:  # well formed, but out of range: 10:61, 2025-02-30
            return None
        if moment is None:
            day = parse_day(text)
            moment = datetime.combine(day, time.min) if day else None
    else:
        return None
    if moment is None:
        return None
    try:
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, naive_zone or timezone.get_current_timezone())
        moment.astimezone(UTC)  # what the database stores, and what it must give back
    except (OverflowError, ValueError):
        return None
    return moment


def clean_moment(value, path: str, *, naive_zone: tzinfo | None = None, zone_required: bool = False) -> datetime:
    """`parse_moment`, or a 400 `invalid_payload` naming the field."""
    if zone_required and isinstance(value, str) and not _has_zone(value):
        raise InvalidPayload(f"{path} must be an ISO 8601 date-time with a time zone, e.g. {EXAMPLE}")
    moment = parse_moment(value, naive_zone=naive_zone)
    if moment is None:
        raise InvalidPayload(f"{path} must be an ISO 8601 date-time such as {EXAMPLE}, between the years 1 and "
                             "9999 in UTC")
    return moment


def _has_zone(text: str) -> bool:
    try:
        moment = parse_datetime(text.strip())
    except ValueError:
        return True  # out of range: parse_moment says so
    return moment is None or timezone.is_aware(moment)

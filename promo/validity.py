"""When a redeemable may be used: start/expiration dates and recurring windows (validity
timeframe, days of week, daily hours), evaluated in the project's time zone (settings.TIME_ZONE)."""

import re
from datetime import datetime, time, timedelta

from django.utils import timezone

from promo.registry import RedeemableError

_DURATION = re.compile(r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$")


def parse_duration(value: str) -> timedelta:
    """ISO 8601 durations with days, hours, minutes, seconds (P2D, PT1H, P1DT12H, PT30M)."""
    match = _DURATION.match(value or "")
    if not match or value in ("P", "PT"):
        raise ValueError(f"{value!r} is not an ISO 8601 duration such as PT1H or P2D")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    try:
        return timedelta(days=parts.get("d", 0), hours=parts.get("h", 0), minutes=parts.get("m", 0),
                         seconds=parts.get("s", 0))
    except OverflowError:  # beyond timedelta's 999,999,999 days
        raise ValueError(f"{value!r} is longer than any date range") from None


def _weekday(moment: datetime) -> int:
    """Voucherify numbers days 0=Sunday .. 6=Saturday."""
    return (moment.isoweekday()) % 7


def in_timeframe(timeframe: dict, start: datetime | None, now: datetime) -> bool:
    """Active for `duration` at the start of every `interval` since `start`."""
    if not timeframe or not timeframe.get("interval") or not timeframe.get("duration"):
        return True
    interval, duration = parse_duration(timeframe["interval"]), parse_duration(timeframe["duration"])
    if start is None or now < start or interval.total_seconds() <= 0:
        return start is None or now >= start
    elapsed = (now - start) % interval
    return elapsed < duration


def in_daily_hours(hours: dict | None, local: datetime) -> bool:
    windows = (hours or {}).get("daily") or []
    if not windows:
        return True
    now_t = local.time()
    for window in windows:
        days = window.get("days_of_week")
        if days is not None and _weekday(local) not in days:
            continue
        start = time.fromisoformat(window.get("start_time") or "00:00")
        end = time.fromisoformat(window.get("expiration_time") or "23:59:59.999999")
        if (start <= now_t < end) if start <= end else (now_t >= start or now_t < end):  # may cross midnight
            return True
    return False


def check_validity(*, start_date, expiration_date, timeframe, days_of_week, hours, now: datetime,
                   subject: str = "voucher") -> None:
    """Raise the spec's error for a redeemable outside its dates or windows."""
    if start_date and now < start_date:
        raise RedeemableError(f"{subject}_not_active", f"{subject.capitalize()} not active",
                              f"{subject.capitalize()} is not active yet: it starts at {start_date.isoformat()}")
    if expiration_date and now > expiration_date:
        raise RedeemableError(f"{subject}_expired", f"{subject.capitalize()} expired",
                              f"{subject.capitalize()} expired at {expiration_date.isoformat()}")
    if not (days_of_week or hours or timeframe):
        return
    local = timezone.localtime(now)
    if days_of_week and _weekday(local) not in days_of_week:
        raise RedeemableError(f"{subject}_not_active_now", f"{subject.capitalize()} not active now",
                              f"{subject.capitalize()} is valid only on days {sorted(days_of_week)} (0 = Sunday)")
    if not in_daily_hours(hours, local) or not in_timeframe(timeframe, start_date, now):
        raise RedeemableError(f"{subject}_not_active_now", f"{subject.capitalize()} not active now",
                              f"{subject.capitalize()} is outside its validity hours")

"""Rate limits on the API, by declaration: a view with `throttle_scope = "validations"` is limited per API key,
per client IP and per customer named in the request body, at settings.RATE_LIMITS[scope] over
settings.RATE_LIMIT_DEFAULTS. A view without a scope is not limited.

Counting is the `limits` library's (the one under Flask-Limiter): fixed windows in its storage, Redis when
REDIS_URL is set (one atomic INCR-and-EXPIRE script per limit, shared by every process), else memory in each
process. Chosen over django-ratelimit for the checkout's sake: about a quarter of its CPU per request in memory,
one Redis round trip per limit instead of two (bench/abuse.py). Over a limit the view answers 429
`too_many_requests` with Retry-After and X-RateLimit-Reset (Unix seconds); every answer of a limited view carries
X-RateLimit-Limit and -Remaining of its tightest limit. A storage that fails lets requests through (logged): a
rate limiter must not stop checkouts.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from rest_framework.throttling import BaseThrottle

# errors as a module reference: core.errors imports DRF's views, whose APIView loads this class
from core import errors, metrics
from core.clientip import client_ip, ip_subject

logger = logging.getLogger(__name__)

_DIMENSION_NAMES = {"key": "API key", "ip": "client IP", "customer": "customer"}


def customer_ref(data) -> str | None:
    """The customer a request body names, as sent: customer.id, else customer.source_id (the order's customer
    when the body has none). Rate limits and lockouts count per this value."""
    if not isinstance(data, dict):
        return None
    order = data.get("order")
    for holder in (data.get("customer"), order.get("customer") if isinstance(order, dict) else None):
        if isinstance(holder, dict):
            for field in ("id", "source_id"):
                value = holder.get(field)
                if isinstance(value, str) and value:
                    return value
    return None


class ProcessMemoryStorage(MemoryStorage):
    """limits' memory storage without its sweeper thread. MemoryStorage starts a thread (threading.Timer) every
    10 ms while counters move, only to drop expired keys; measured on a validation through the whole stack,
    starting those threads cost about 1 ms per request. Expired keys are ignored when read anyway, so here they
    are dropped on the calling thread, at most once a minute."""

    STORAGE_SCHEME = ["process-memory"]
    SWEEP_SECONDS = 60

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.next_sweep = time.monotonic() + self.SWEEP_SECONDS

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the thread start (a private hook: see above)
        if time.monotonic() >= self.next_sweep:
            self.next_sweep = time.monotonic() + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()


@functools.cache
def _storage(url: str) -> Storage:
    return storage_from_string(url) if url else ProcessMemoryStorage()


def storage() -> Storage:
    """Where limits and lockouts count: Redis when REDIS_URL is set, else this process's memory."""
    return _storage(settings.REDIS_URL)


def storage_key(item: RateLimitItem, *parts: str) -> str:
    """The key of one counter; values a client chooses (customer ids) are hashed, so none is too long or
    contains the key's separator."""
    return item.key_for(settings.RATE_LIMIT_KEY_PREFIX, *parts[:-1], hashlib.sha256(parts[-1].encode()).hexdigest())


@functools.cache
def _item(rate: str) -> RateLimitItem | None:
    """A rate in the `limits` notation ("60/minute", "300/second", "100 per 5 minutes"); "" or 0: no limit."""
    if rate in ("", "0"):
        return None
    try:
        item = parse(rate)
    except ValueError as exc:
        raise ImproperlyConfigured(f"Rate limit {rate!r}: {exc} (write e.g. 60/minute or 100 per 5 minutes)")
    return item if item.amount > 0 else None


def rate_for(scope: str, dimension: str) -> RateLimitItem | None:
    rate = (settings.RATE_LIMITS.get(scope) or {}).get(dimension, settings.RATE_LIMIT_DEFAULTS.get(dimension))
    return _item(str(rate or "").strip())


@dataclass
class Usage:
    dimension: str
    item: RateLimitItem
    key: str
    count: int

    @property
    def over(self) -> bool:
        return self.count > self.item.amount

    @property
    def remaining(self) -> int:
        return max(0, self.item.amount - self.count)


def _principal(request) -> str | None:
    if request.auth is not None:
        return f"key:{request.auth.pk}"
    user = request.user
    return f"user:{user.pk}" if user is not None and user.is_authenticated else None


class RateLimits(BaseThrottle):
    """DRF throttle (settings DEFAULT_THROTTLE_CLASSES) for views that declare `throttle_scope`."""

    def allow_request(self, request, view):
        scope = getattr(view, "throttle_scope", None)
        if scope is None or not settings.RATE_LIMITS_ENABLED:
            return True
        subjects = (("key", lambda: _principal(request)),
                    ("ip", lambda: ip_subject(getattr(request._request, "client_ip", None)
                                              or client_ip(request.META))),
                    ("customer", lambda: customer_ref(request.data)))  # parses the body: last
        tightest = None
        for dimension, subject in subjects:
            item = rate_for(scope, dimension)
            value = subject() if item is not None else None
            if value is None:
                continue
            usage = _count(item, scope, dimension, value)
            if usage is None:
                return True  # the storage failed (logged): let the request through
            if tightest is None or (usage.over, -usage.remaining) > (tightest.over, -tightest.remaining):
                tightest = usage
            if usage.over:
                break  # over one limit: answer at once, without reading the body for the next
        if tightest is None:
            return True
        headers = {"X-RateLimit-Limit": str(tightest.item.amount), "X-RateLimit-Remaining": str(tightest.remaining)}
        if not tightest.over:
            request._request.rate_limit_headers = headers  # RateLimitHeadersMiddleware puts them on the answer
            return True
        metrics.rate_limited(scope)
        reset = _reset_time(tightest)  # read only now: one more round trip to Redis
        headers.update({"X-RateLimit-Reset": str(math.ceil(reset)),
                        "Retry-After": str(max(1, math.ceil(reset - time.time())))})
        raise errors.TooManyRequests(
            f"Rate limit {tightest.item} per {_DIMENSION_NAMES[tightest.dimension]} on {scope} exceeded; "
            f"retry in {headers['Retry-After']} s.", headers=headers)


def _reset_time(usage: Usage) -> float:
    try:
        return storage().get_expiry(usage.key)
    except Exception:
        logger.warning("Rate limit reset time not read: the storage failed", exc_info=True)
        return time.time() + usage.item.get_expiry()


def _count(item: RateLimitItem, scope: str, dimension: str, value: str) -> Usage | None:
    key = storage_key(item, scope, dimension, value)
    try:
        return Usage(dimension, item, key, storage().incr(key, item.get_expiry()))
    except Exception:  # Redis is down: checkouts go on unlimited rather than fail
        logger.warning("Rate limit %s/%s not counted: the storage failed", scope, dimension, exc_info=True)
        return None


class RateLimitHeadersMiddleware:
    """X-RateLimit-Limit and -Remaining on every answer of a rate-limited view (a 429 carries its own, with
    X-RateLimit-Reset and Retry-After)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        headers = getattr(request, "rate_limit_headers", None)
        if headers is not None:
            for name, value in headers.items():
                response[name] = value
        return response

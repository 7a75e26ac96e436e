"""Prometheus metrics of the project (docs/production.md#metrics), beside django-prometheus's request
counters and latencies. App code calls the small functions below; each is one in-memory counter
increment (a file write of 8 bytes into a memory map in multi-process mode), cheap on the checkout path.

Labels take stable keys only (results, failure codes, task names), never ids or customer data, so the
number of series stays small.
"""

import hmac
import ipaddress
import logging
import os
from functools import lru_cache

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from core import brokers

logger = logging.getLogger(__name__)

VALIDATIONS = Counter("promoengine_validations_total", "Validation requests by result (valid, invalid).",
                      ["result"])
REDEMPTIONS = Counter("promoengine_redemptions_total", "Redemption requests by result (success, failure).",
                      ["result"])
FAILED_ATTEMPTS = Counter("promoengine_failed_attempts_total",
                          "Refused validations and redemptions by operation and failure code.",
                          ["operation", "reason"])
RATE_LIMITED = Counter("promoengine_rate_limited_total", "Requests refused by a rate limit, by scope.", ["scope"])
WEBHOOK_FAILURES = Counter("promoengine_webhook_delivery_failures_total",
                           "Failed webhook delivery attempts (outcome: retrying, gave_up).", ["outcome"])
TASK_FAILURES = Counter("promoengine_celery_task_failures_total", "Celery tasks that raised, by task name.",
                        ["task"])

_MAX_LABEL = 80


def validation(valid: bool, reason: str | None = None) -> None:
    VALIDATIONS.labels("valid" if valid else "invalid").inc()
    if not valid:
        FAILED_ATTEMPTS.labels("validation", (reason or "invalid")[:_MAX_LABEL]).inc()


def redemption(succeeded: bool, reason: str | None = None) -> None:
    REDEMPTIONS.labels("success" if succeeded else "failure").inc()
    if not succeeded:
        FAILED_ATTEMPTS.labels("redemption", (reason or "redemption_failed")[:_MAX_LABEL]).inc()


def rate_limited(scope: str) -> None:
    RATE_LIMITED.labels(scope[:_MAX_LABEL]).inc()


def webhook_delivery_failed(gave_up: bool) -> None:
    WEBHOOK_FAILURES.labels("gave_up" if gave_up else "retrying").inc()


def task_failed(task_name: str) -> None:
    TASK_FAILURES.labels(task_name[:_MAX_LABEL]).inc()


class QueueLengthCollector:
    """Asks the broker at scrape time (one pipelined LLEN per queue on Redis) instead of polling it."""

    def collect(self):
        if not settings.CELERY_BROKER_URL:
            return
        up = GaugeMetricFamily("promoengine_celery_broker_up", "1 when the Celery broker answered the scrape.")
        try:
            lengths = brokers.queue_lengths(settings.METRICS_CELERY_QUEUES)
        except Exception as exc:  # a scrape reports the broker down rather than failing
            logger.warning("Celery broker did not answer the metrics scrape: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        if lengths is not None:
            depth = GaugeMetricFamily("promoengine_celery_queue_length", "Messages waiting in a Celery queue.",
                                      labels=["queue"])
            for queue, length in lengths.items():
                depth.add_metric([queue], length)
            yield depth


_live = CollectorRegistry()
_live.register(QueueLengthCollector())


def exposition() -> bytes:
    """Every metric of this process, or of all processes sharing PROMETHEUS_MULTIPROC_DIR (gunicorn workers
    and Celery workers on one host), plus the broker's queue lengths read now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_live)


@lru_cache(maxsize=8)
def _networks(allowed: tuple[str, ...]):
    return [ipaddress.ip_network(item, strict=False) for item in allowed]


def allowed(request) -> bool:
    """A METRICS_TOKEN bearer token, or a caller address in METRICS_ALLOWED_IPS (addresses or networks)."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(settings.METRICS_ALLOWED_IPS)))


def metrics_view(request) -> HttpResponse:
    if not allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)

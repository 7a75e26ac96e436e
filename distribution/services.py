"""Writes of webhooks: endpoints, emitting events, and sending deliveries with retries.

emit() is the one entry point for other apps: it writes one WebhookDelivery per subscribed active endpoint
in the caller's transaction and queues the sending with transaction.on_commit, so nothing leaves when
the transaction rolls back. Sending is a Celery task (inline without a broker); a failed attempt is
retried by the beat task `distribution.retry_due_deliveries` with exponential backoff.

Each attempt is claimed by one conditional UPDATE (status PENDING, the attempt count just read, due now):
two workers racing for the same delivery update one row between them, and only the winner sends. The
claim also moves next_attempt_at to the next retry time, so a worker that dies mid-send is retried later.
"""

import http.client
import json
import logging
import secrets
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import audit, metrics
from core.errors import Conflict, InvalidPayload
from core.fields import new_public_id
from distribution import events, signing
from distribution.models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

DEFAULT_BACKOFF_SECONDS = (60, 300, 1800, 7200, 21600)  # 1 min, 5 min, 30 min, 2 h, 6 h
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
MAX_ERROR_LENGTH = 1000
USER_AGENT = "promoengine-webhooks/1"
AUDITED_FIELDS = ["public_id", "url", "event_types", "active", "description"]  # never the secret


def _now():
    """The clock of this module (tests replace it)."""
    return timezone.now()


def max_attempts() -> int:
    return max(1, int(getattr(settings, "WEBHOOK_MAX_ATTEMPTS", 6)))


def backoff_seconds(attempt: int) -> int:
    """Seconds to wait after attempt number `attempt` (1-based) failed before the next one."""
    schedule = tuple(getattr(settings, "WEBHOOK_RETRY_BACKOFF_SECONDS", None) or DEFAULT_BACKOFF_SECONDS)
    return int(schedule[min(max(attempt, 1), len(schedule)) - 1])


def timeout_seconds() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 5))


# ---------------------------------------------------------------- endpoints

def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def validate_url(url: str) -> str:
    url = url.strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise InvalidPayload(f"url: {url!r} is not a valid http(s) URL", key="invalid_webhook_url")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "http":
        local = host in LOCAL_HOSTS or host.endswith(".localhost")
        if not (local and getattr(settings, "WEBHOOK_ALLOW_HTTP_LOCALHOST", False)):
            raise InvalidPayload("url: webhooks are sent over https only (http is allowed for localhost in "
                                 "development)", key="invalid_webhook_url")
    return url


def validate_event_types(values: list[str]) -> list[str]:
    if not values:
        raise InvalidPayload('event_types: list at least one event type, or "*" for all',
                             key="invalid_event_types")
    unknown = [value for value in values if not events.is_known_pattern(value)]
    if unknown:
        raise InvalidPayload(f"event_types: unknown event type(s) {', '.join(map(repr, unknown))}; known: "
                             f"{', '.join(sorted(events.EVENT_TYPES))}", key="invalid_event_types")
    return list(dict.fromkeys(values))


def endpoint_create(*, url: str, event_types: list[str] | None = None, description: str = "",
                    active: bool = True) -> WebhookEndpoint:
    """A new endpoint with a fresh secret (the caller shows it once)."""
    types = validate_event_types(["*"] if event_types is None else event_types)
    endpoint = WebhookEndpoint(url=validate_url(url), event_types=types, description=description or "",
                               active=active, secret=new_secret())
    with transaction.atomic():
        endpoint.save()
        audit.record(audit.Action.CREATE, endpoint, after=audit.snapshot(endpoint, AUDITED_FIELDS))
    return endpoint


def endpoint_update(endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    """Change url, event_types, description or active (keys not given stay as they are)."""
    before = audit.snapshot(endpoint, AUDITED_FIELDS)
    if changes.get("url") is not None:
        endpoint.url = validate_url(changes["url"])
    if changes.get("event_types") is not None:
        endpoint.event_types = validate_event_types(changes["event_types"])
    if changes.get("description") is not None:
        endpoint.description = changes["description"]
    if changes.get("active") is not None:
        endpoint.active = changes["active"]
    with transaction.atomic():
        endpoint.save()
        audit.record(audit.Action.UPDATE, endpoint, before=before, after=audit.snapshot(endpoint, AUDITED_FIELDS))
    return endpoint


def endpoint_rotate_secret(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    endpoint.secret = new_secret()
    with transaction.atomic():
        endpoint.save(update_fields=["secret", "updated_at"])
        audit.record(audit.Action.UPDATE, endpoint, changes={"secret": ["(hidden)", "(rotated)"]})
    return endpoint


def endpoint_delete(endpoint: WebhookEndpoint) -> None:
    with transaction.atomic():
        audit.record(audit.Action.DELETE, endpoint, before=audit.snapshot(endpoint, AUDITED_FIELDS))
        endpoint.delete()


# ---------------------------------------------------------------- events

def _payload(event_id: str, event_type: str, data: dict, created_at) -> dict:
    body = {"id": event_id, "type": event_type, "created_at": created_at, "data": data}
    return json.loads(json.dumps(body, cls=DjangoJSONEncoder))  # datetimes, decimals ... as JSON


def _queue(delivery_ids: list[int]) -> None:
    """Send once the transaction commits; a failure to queue (broker down) leaves the delivery due for the
    beat task instead of breaking the caller."""
    from distribution.tasks import send_delivery

    for delivery_id in delivery_ids:
        transaction.on_commit(lambda pk=delivery_id: send_delivery.delay(pk), robust=True)


def emit(event_type: str, data: dict, *, campaign=None) -> str | None:
    """Record `event_type` for every active endpoint subscribed to it and send after commit.

    `data` is the event's JSON object; with `campaign`, the deliveries are linked to it and `data` gets a
    `campaign` summary ({id, name, object}) unless it has one. Returns the event id (`evt_...`), or None when
    no endpoint listens. Call it inside the transaction that makes the event true."""
    if event_type not in events.EVENT_TYPES:
        raise ValueError(f"Unknown webhook event type {event_type!r}: register it in distribution.events")
    endpoints = [endpoint for endpoint in WebhookEndpoint.objects.filter(active=True).order_by("pk")
                 if events.matches(endpoint.event_types, event_type)]
    if not endpoints:
        return None
    data = dict(data)
    if campaign is not None:
        data.setdefault("campaign", {"id": campaign.public_id, "name": campaign.name, "object": "campaign"})
    return _deliver(event_type, data, endpoints, campaign=campaign)[0].event_id


def _deliver(event_type: str, data: dict, endpoints: list[WebhookEndpoint], *, campaign=None) \
        -> list[WebhookDelivery]:
    now = _now()
    event_id = new_public_id("evt_")
    payload = _payload(event_id, event_type, data, now)
    with transaction.atomic():
        deliveries = [WebhookDelivery.objects.create(endpoint=endpoint, event_id=event_id, event_type=event_type,
                                                     payload=payload, campaign=campaign, next_attempt_at=now)
                      for endpoint in endpoints]
        _queue([delivery.pk for delivery in deliveries])
    return deliveries


def endpoint_send_test(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A `webhook.ping` event to this endpoint only (also when it is inactive or not subscribed to it)."""
    data = {"webhook": {"id": endpoint.public_id, "url": endpoint.url, "object": "webhook"},
            "message": "Test event sent on request."}
    return _deliver(events.PING, data, [endpoint])[0]


# ---------------------------------------------------------------- sending

class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed delivery: following it would turn the POST into a GET without the body."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _post(url: str, body: bytes, headers: dict) -> tuple[int | None, str]:
    """(HTTP status or None, error text); the error is empty for a 2xx answer."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout_seconds()) as response:
            response.read(64 * 1024)
            return response.status, ""
    except urllib.error.HTTPError as exc:
        try:
            excerpt = exc.read(500).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            excerpt = ""
        return exc.code, f"HTTP {exc.code} {exc.reason}: {excerpt}".strip().rstrip(":")
    except urllib.error.URLError as exc:
        return None, f"Connection failed: {exc.reason}"
    except TimeoutError:
        return None, f"Timed out after {timeout_seconds():g} s"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _claim(delivery: WebhookDelivery, now) -> bool:
    """Take attempt number attempts+1 of a due PENDING delivery; False when someone else took it."""
    attempt = delivery.attempts + 1
    lease = timedelta(seconds=timeout_seconds() * 2 + 5)
    retry_at = now + max(timedelta(seconds=backoff_seconds(attempt)), lease)
    return bool(WebhookDelivery.objects
                .filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING, attempts=delivery.attempts)
                .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
                .update(attempts=attempt, last_attempt_at=now, next_attempt_at=retry_at, sending_until=now + lease,
                        updated_at=now))


def delivery_attempt(delivery_id: int) -> WebhookDelivery | None:
    """Send one attempt of a delivery if it is due and nobody else is sending it. Returns the delivery as
    left by this attempt, or None when there was nothing to do. Never raises for network errors."""
    now = _now()
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return None
    endpoint = delivery.endpoint
    if not endpoint.active and delivery.event_type != events.PING:
        WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING,
                                       attempts=delivery.attempts).update(
            status=WebhookDelivery.Status.FAILED, next_attempt_at=None, last_error="Endpoint is not active",
            updated_at=now)
        return None
    if not _claim(delivery, now):
        return None
    attempt = delivery.attempts + 1
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.ID_HEADER: delivery.event_id,
        signing.TIMESTAMP_HEADER: timestamp,
        signing.SIGNATURE_HEADER: signing.sign(endpoint.secret, timestamp, body),
    }
    status, error = _post(endpoint.url, body, headers)
    done = _now()
    result = {"last_response_status": status, "last_error": error[:MAX_ERROR_LENGTH], "sending_until": None,
              "updated_at": done}
    if status is not None and 200 <= status < 300:
        result.update(status=WebhookDelivery.Status.SUCCEEDED, next_attempt_at=None, delivered_at=done,
                      last_error="")
    elif attempt >= max_attempts():
        result.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
        metrics.webhook_delivery_failed(gave_up=True)
    else:
        metrics.webhook_delivery_failed(gave_up=False)
        logger.info("Webhook %s to %s failed (attempt %s): %s", delivery.event_id, endpoint.url, attempt, error)
    # Only the claimer of this attempt writes its outcome.
    WebhookDelivery.objects.filter(pk=delivery.pk, attempts=attempt).update(**result)
    delivery.refresh_from_db()
    return delivery


def deliveries_retry_due(*, limit: int = 500) -> int:
    """Queue a send of every PENDING delivery whose next attempt is due (the beat task). Returns how many."""
    from distribution import selectors
    from distribution.tasks import send_delivery

    ids = selectors.due_delivery_ids(_now(), limit=limit)
    for delivery_id in ids:
        send_delivery.delay(delivery_id)
    return len(ids)


def delivery_retry(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now, whatever its status (a resend of a succeeded one is allowed). A failed
    delivery gets one more attempt; a pending one is moved forward. Refused while an attempt is in flight."""
    now = _now()
    with transaction.atomic():
        updated = (WebhookDelivery.objects.filter(pk=delivery.pk)
                   .filter(Q(sending_until__isnull=True) | Q(sending_until__lte=now))
                   .update(status=WebhookDelivery.Status.PENDING, next_attempt_at=now, updated_at=now))
        if not updated:
            raise Conflict("An attempt of this delivery is in progress; try again in a few seconds",
                           key="webhook_delivery_in_progress")
        _queue([delivery.pk])
    delivery.refresh_from_db()
    return delivery

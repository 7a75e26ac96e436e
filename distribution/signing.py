"""Webhook signatures: `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, keyed with
the endpoint's secret, `<timestamp>` being the X-Webhook-Timestamp header (Unix seconds) and `<body>` the
raw request body. docs/webhooks.md shows a receiver's check; this module is that check's reference."""

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Webhook-Signature"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
ID_HEADER = "X-Webhook-Id"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *,
           tolerance: int = DEFAULT_TOLERANCE_SECONDS, now: float | None = None) -> bool:
    """True when `signature` is ours for this body and the timestamp is within `tolerance` seconds of now
    (a replayed old request fails)."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent_at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")

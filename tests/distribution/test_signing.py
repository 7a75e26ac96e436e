"""Signatures: HMAC-SHA256 of "timestamp.body" with the endpoint secret, checked as docs/webhooks.md shows."""

import hashlib
import hmac
import time

import pytest

from distribution import signing
from distribution.services import delivery_attempt, emit


def test_sign_is_hmac_sha256_of_timestamp_dot_body():
    body = b'{"id":"evt_1"}'
    expected = hmac.new(b"whsec_x", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signing.sign("whsec_x", "1700000000", body) == f"sha256={expected}"


def test_verify_accepts_ours_and_refuses_tampering_other_secrets_and_old_timestamps():
    now = time.time()
    stamp = str(int(now))
    body = b'{"a":1}'
    good = signing.sign("s1", stamp, body)
    assert signing.verify("s1", stamp, body, good, now=now)
    assert not signing.verify("s1", stamp, b'{"a":2}', good, now=now)
    assert not signing.verify("s2", stamp, body, good, now=now)
    assert not signing.verify("s1", str(int(now) + 1), body, good, now=now)
    assert not signing.verify("s1", stamp, body, good, now=now + 301)  # replayed after the tolerance
    assert not signing.verify("s1", "not-a-number", body, good, now=now)
    assert not signing.verify("s1", stamp, body, "", now=now)


@pytest.mark.django_db
def test_a_sent_event_verifies_with_the_endpoint_secret(receiver, make_endpoint, django_capture_on_commit_callbacks):
    endpoint = make_endpoint(receiver.url + "/hook")
    with django_capture_on_commit_callbacks(execute=True):
        emit("campaign.budget_exhausted", {"limit": 1})
    [received] = receiver.requests
    headers = received.headers
    assert signing.verify(endpoint.secret, headers["X-Webhook-Timestamp"], received.body,
                          headers["X-Webhook-Signature"])
    assert headers["X-Webhook-Id"] == received.json["id"]
    assert headers["Content-Type"] == "application/json"
    # The docs' receiver snippet, verbatim logic.
    expected = "sha256=" + hmac.new(endpoint.secret.encode(), headers["X-Webhook-Timestamp"].encode() + b"."
                                    + received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, headers["X-Webhook-Signature"])
    assert delivery_attempt(0) is None  # unknown delivery: nothing to do

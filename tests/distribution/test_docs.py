"""docs/webhooks.md's verification snippet, run against a real signed delivery."""

import re
from pathlib import Path

import pytest

from distribution import services

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


@pytest.mark.django_db
def test_the_documented_verification_accepts_real_deliveries_and_refuses_forgeries(
        receiver, make_endpoint, django_capture_on_commit_callbacks):
    [snippet] = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    namespace: dict = {}
    exec(compile(snippet, str(DOC), "exec"), namespace)  # noqa: S102 (our own documentation)
    verify_webhook = namespace["verify_webhook"]

    endpoint = make_endpoint(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        services.emit("campaign.budget_exhausted", {"limit": 1})
    [received] = receiver.requests
    assert verify_webhook(endpoint.secret, received.headers, received.body)
    assert not verify_webhook("whsec_other", received.headers, received.body)
    assert not verify_webhook(endpoint.secret, received.headers, received.body.replace(b"1", b"2"))
    old = {**received.headers, "X-Webhook-Timestamp": str(int(received.headers["X-Webhook-Timestamp"]) - 600)}
    assert not verify_webhook(endpoint.secret, old, received.body)

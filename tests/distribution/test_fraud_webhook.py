"""Issue 13 end to end: a customer guessing codes through /v1/validations is locked out, and the
`redemption.fraud_suspected` event reaches a real HTTP receiver, signed, once."""

import pytest

from distribution import signing
from promo.models import Lockout
from tests.promo.factories import VoucherFactory

CART = {"amount": 2000, "items": [{"source_id": "watch", "related_object": "product", "quantity": 1, "price": 2000}]}


@pytest.mark.django_db(transaction=True)  # real commits: on_commit fires, the eager task sends inline
def test_fraud_event_is_delivered_once_per_lockout(api, receiver, make_endpoint, settings):
    settings.LOCKOUT_INVALID_CODES_PER_CUSTOMER = 5
    endpoint = make_endpoint(receiver.url + "/hooks/fraud", ["redemption.*"])
    VoucherFactory(code="REAL-CODE")

    def guess(code: str):
        return api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": code}], "order": CART,
                                            "customer": {"source_id": "guesser"}})

    for n in range(4):
        assert guess(f"GUESS-{n}").status_code == 200
    assert receiver.requests == []
    assert guess("GUESS-4").status_code == 200  # the fifth invalid code: locked out from now on
    for code in ("GUESS-5", "REAL-CODE"):
        assert guess(code).status_code == 429

    [received] = receiver.requests
    assert signing.verify(endpoint.secret, received.headers["X-Webhook-Timestamp"], received.body,
                          received.headers["X-Webhook-Signature"])
    event = received.json
    assert event["type"] == "redemption.fraud_suspected"
    assert event["data"]["subject"] == {"type": "customer", "value": "guesser"}
    assert sorted(event["data"]["codes"]) == [f"GUESS-{n}" for n in range(5)]
    assert Lockout.objects.get().event_id == event["id"]

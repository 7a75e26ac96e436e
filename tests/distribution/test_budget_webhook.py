"""Issue 4 end to end: real /v1/redemptions use up a campaign budget, the campaign is disabled, and the
`campaign.budget_exhausted` event reaches a real HTTP receiver, signed, once the redemption commits."""

import pytest

from distribution import signing
from distribution.models import WebhookDelivery
from promo.models import Campaign, CampaignEvent
from tests.promo.factories import CampaignFactory, RuleFactory, VoucherFactory, assign
from tests.rules.test_budgets import CART, budget_campaign


@pytest.mark.django_db(transaction=True)  # real commits: on_commit fires, the eager task sends inline
def test_budget_exhausted_event_is_delivered_after_the_redemption_commits(api, receiver, make_endpoint):
    endpoint = make_endpoint(receiver.url + "/hooks/promo", ["campaign.budget_exhausted"])
    campaign = budget_campaign(limit=3000, off=1000)
    body = {"redeemables": [{"object": "voucher", "id": "BUDGET0"}], "order": CART}
    for _ in range(2):
        assert api.post("/v1/redemptions", body).status_code == 200
    assert receiver.requests == []  # budget not used up yet
    assert api.post("/v1/redemptions", body).status_code == 200

    [received] = receiver.requests
    assert received.path == "/hooks/promo"
    assert signing.verify(endpoint.secret, received.headers["X-Webhook-Timestamp"], received.body,
                          received.headers["X-Webhook-Signature"])
    event = received.json
    assert event["type"] == "campaign.budget_exhausted" and event["id"].startswith("evt_")
    assert event["data"] == {"campaign": {"id": campaign.public_id, "name": "Budgeted", "object": "campaign"},
                             "condition": "campaign.orders.amount_discounted", "limit": 3000, "disabled": True}
    assert Campaign.objects.get(pk=campaign.pk).active is False
    assert CampaignEvent.objects.get(campaign=campaign).type == "campaign.budget_exhausted"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.event_id, delivery.campaign_id) == ("SUCCEEDED", event["id"], campaign.pk)

    # Refused afterwards: no second event.
    assert api.post("/v1/redemptions", body).status_code == 400
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_a_failed_redemption_that_would_exhaust_sends_nothing(api, receiver, make_endpoint,
                                                              django_capture_on_commit_callbacks):
    make_endpoint(receiver.url)
    budget_campaign(limit=2500, off=1000)
    body = {"redeemables": [{"object": "voucher", "id": "BUDGET0"}], "order": CART}
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            api.post("/v1/redemptions", body)
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()  # 500 left: never used up


@pytest.mark.django_db
def test_voucher_budget_exhausted_event(api, receiver, make_endpoint, django_capture_on_commit_callbacks):
    make_endpoint(receiver.url, ["voucher.*"])
    campaign = CampaignFactory(name="Per code")
    voucher = VoucherFactory(code="VBUDGET", campaign=campaign, discount={"type": "AMOUNT", "amount_off": 1000})
    budget = {"name": "campaign.orders.amount_discounted", "conditions": {"$less_than_or_equal": [2000]}}
    assign(RuleFactory(name="Code budget", rules={"1": budget}), voucher)
    body = {"redeemables": [{"object": "voucher", "id": "VBUDGET"}], "order": CART}
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            assert api.post("/v1/redemptions", body).status_code == 200
    [received] = receiver.requests
    assert received.json["type"] == "voucher.budget_exhausted"
    assert received.json["data"] == {
        "voucher": {"id": voucher.public_id, "code": "VBUDGET", "object": "voucher"},
        "campaign": {"id": campaign.public_id, "name": "Per code", "object": "campaign"},
        "condition": "campaign.orders.amount_discounted", "limit": 2000, "disabled": True}

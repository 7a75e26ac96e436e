"""Campaign budgets: enforced atomically, and a used-up budget disables its campaign with an event."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from core import services as core_services
from promo.models import Campaign, CampaignEvent, Redemption
from rules.models import LimitCounter
from tests.conftest import assert_error
from tests.promo.factories import CampaignFactory, RuleFactory, VoucherFactory, assign

CART = {"items": [{"source_id": "x", "related_object": "product", "quantity": 1, "price": 10000}]}


def budget_campaign(limit: int, off: int, codes: int = 1, quantity: int | None = None) -> Campaign:
    campaign = CampaignFactory(name="Budgeted")
    for i in range(codes):
        VoucherFactory(code=f"BUDGET{i}", campaign=campaign, redemption_quantity=quantity,
                       discount={"type": "AMOUNT", "amount_off": off})
    budget = {"name": "campaign.orders.amount_discounted", "conditions": {"$less_than_or_equal": [limit]}}
    assign(RuleFactory(name="Budget", rules={"1": budget}), campaign)
    return campaign


@pytest.mark.django_db
def test_used_up_budget_disables_the_campaign(api):
    campaign = budget_campaign(limit=3000, off=1000)
    body = {"redeemables": [{"object": "voucher", "id": "BUDGET0"}], "order": CART}
    for _ in range(3):
        assert api.post("/v1/redemptions", body).status_code == 200
    campaign.refresh_from_db()
    assert campaign.active is False
    event = CampaignEvent.objects.get(campaign=campaign)
    assert event.type == "campaign.budget_exhausted" and event.data["limit"] == 3000
    assert_error(api.post("/v1/redemptions", body), 400, "voucher_disabled")


@pytest.mark.django_db
def test_a_discount_that_would_pass_the_budget_is_refused(api):
    budget_campaign(limit=2500, off=1000)
    body = {"redeemables": [{"object": "voucher", "id": "BUDGET0"}], "order": CART}
    assert api.post("/v1/redemptions", body).status_code == 200
    assert api.post("/v1/redemptions", body).status_code == 200
    refused = assert_error(api.post("/v1/redemptions", body), 400, "redemption_rules_violated")
    assert "campaign.orders.amount_discounted" in refused["details"]
    assert Campaign.objects.get(name="Budgeted").active is True  # 500 left: not used up


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_64_parallel_redemptions_never_pass_a_1000_budget(live_server):
    """$1,000 budget, $30 off each: at most 33 redemptions (990.00), whatever the concurrency."""
    budget_campaign(limit=100_000, off=3000, codes=64, quantity=1)
    issued = core_services.api_key_create(name="budget")
    headers = {"X-App-Id": issued.app_id, "X-App-Token": issued.app_token}

    def redeem(i: int) -> int:
        body = {"redeemables": [{"object": "voucher", "id": f"BUDGET{i}"}], "order": CART}
        return requests.post(f"{live_server.url}/v1/redemptions", json=body, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=64) as pool:
        statuses = list(pool.map(redeem, range(64)))
    assert statuses.count(200) == 33, statuses
    discounted = sum(Redemption.objects.filter(parent__isnull=False, result="SUCCESS").values_list("amount", flat=True))
    assert discounted == 99_000 == LimitCounter.objects.get().used

"""A promotion tier's use limit under concurrent checkouts, on PostgreSQL, through the real HTTP stack."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from core import services as core_services
from promo.models import PromotionTier, Redemption
from tests.promo.promotion_helpers import cart, line, promotion_campaign, tier

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_32_clients_on_a_tier_limited_to_10(live_server):
    issued = core_services.api_key_create(name="tier concurrency")
    headers = {"X-App-Id": issued.app_id, "X-App-Token": issued.app_token}
    limited = tier(promotion_campaign(), "first 10 orders", {"type": "AMOUNT", "amount_off": 700},
                   redemption_quantity=10)
    body = {"redeemables": [{"object": "promotion_tier", "id": limited.public_id}], "order": cart(line("a", 1, 5000))}

    def redeem(_i: int) -> int:
        return requests.post(live_server.url + "/v1/redemptions", json=body, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(redeem, range(32)))
    limited.refresh_from_db()
    assert statuses.count(200) == 10 and statuses.count(400) == 22
    assert (limited.redeemed_quantity, limited.discounted_amount, limited.orders_amount) == (10, 7000, 43000)
    assert Redemption.objects.filter(parent__isnull=True, result="SUCCESS").count() == 10
    # rolling back in parallel gives each use back once
    parents = list(Redemption.objects.filter(parent__isnull=True, result="SUCCESS").values_list("public_id", flat=True))

    def rollback(parent_id: str) -> int:
        return requests.post(f"{live_server.url}/v1/redemptions/{parent_id}/rollbacks", headers=headers,
                             timeout=60).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        rolled = list(pool.map(rollback, parents * 2))
    assert rolled.count(200) == 10
    limited.refresh_from_db()
    assert (limited.redeemed_quantity, limited.discounted_amount, limited.orders_amount) == (0, 0, 0)
    assert PromotionTier.objects.filter(redeemed_quantity__lt=0).count() == 0

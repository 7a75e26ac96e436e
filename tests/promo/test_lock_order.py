"""Stacked redemptions and their rollbacks take rows in one global order, so checkouts stacking the same
redeemables in opposite orders never deadlock. On PostgreSQL, through the real HTTP stack (live server,
16 threads)."""

from collections import Counter

import pytest
from django.db.models import Sum

from giftcards.models import GiftCard, GiftCardTransaction
from promo.models import PromotionTier, Redemption, Voucher
from rules.models import LimitCounter
from tests.giftcards.factories import gift_card
from tests.promo import test_concurrency as promo_race
from tests.promo.factories import CampaignFactory, RuleFactory, VoucherFactory, assign
from tests.promo.promotion_helpers import promotion_campaign, tier

http = promo_race.http  # the fixture: POST through a live server with an API key
_parallel = promo_race._parallel
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 16
CART = {"amount": 10_000, "items": [{"source_id": "sku-1", "related_object": "sku", "quantity": 1, "price": 10_000}]}


def _budget(campaign, name: str, limit: int) -> None:
    """A lifetime budget of the campaign: a LimitCounter every redemption of its codes takes."""
    assign(RuleFactory(rules={"1": {"name": name, "conditions": {"$less_than_or_equal": [limit]}}}), campaign)


def _code(code: str, *, quantity: int | None = None, amount_off: int = 500) -> Voucher:
    campaign = CampaignFactory()
    return VoucherFactory(code=code, campaign=campaign, redemption_quantity=quantity,
                          discount={"type": "AMOUNT", "amount_off": amount_off})


def _redeem_in_both_orders(http, first: dict, second: dict, requests: int) -> list[tuple[int, dict]]:
    """`requests` checkouts from distinct customers, 16 at a time, half stacking first+second, half second+first."""
    def checkout(i: int) -> tuple[int, dict]:
        redeemables = [first, second] if i % 2 else [second, first]
        return http("/v1/redemptions", {"redeemables": redeemables, "order": CART,
                                        "customer": {"source_id": f"stacker-{i}"}})

    return _pool(checkout, requests)


def _pool(call, count: int) -> list:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(call, range(count)))


def _statuses(results) -> Counter:
    return Counter(status for status, _ in results)


def _roll_back_all(http) -> list[int]:
    parents = list(Redemption.objects.filter(parent__isnull=True, result="SUCCESS").values_list("public_id",
                                                                                                flat=True))
    return _pool(lambda i: http(f"/v1/redemptions/{parents[i]}/rollbacks", {})[0], len(parents))


def test_two_codes_stacked_in_opposite_orders_all_redeem_and_roll_back(http):
    a, b = _code("STACK-A"), _code("STACK-B", quantity=1000)
    _budget(a.campaign, "campaign.orders.amount_discounted", 10**9)
    _budget(b.campaign, "campaign.redemptions.count", 1000)
    results = _redeem_in_both_orders(http, {"object": "voucher", "id": "STACK-A"},
                                     {"object": "voucher", "id": "STACK-B"}, 200)
    assert _statuses(results) == {200: 200}, [p for s, p in results if s != 200][:3]
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.redeemed_quantity, b.redeemed_quantity) == (200, 200)
    assert sorted(LimitCounter.objects.values_list("used", flat=True)) == [200, 200 * 500]
    rolled = _roll_back_all(http)
    assert Counter(rolled) == {200: 200}
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.redeemed_quantity, b.redeemed_quantity) == (0, 0)
    assert list(LimitCounter.objects.values_list("used", flat=True)) == [0, 0]


def test_opposite_orders_at_a_quantity_limit_fail_only_on_the_limit(http):
    a, b = _code("LIMIT-A", quantity=150), _code("LIMIT-B", quantity=1000)
    results = _redeem_in_both_orders(http, {"object": "voucher", "id": "LIMIT-A"},
                                     {"object": "voucher", "id": "LIMIT-B"}, 200)
    assert _statuses(results) == {200: 150, 400: 50}
    assert {payload["key"] for status, payload in results if status == 400} == {"quantity_exceeded"}
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.redeemed_quantity, b.redeemed_quantity) == (150, 150)


def test_a_code_and_a_gift_card_in_opposite_orders(http):
    code = _code("GIFT-AND-CODE", quantity=1000)
    card = gift_card("GC-STACK", 10**9)
    results = _redeem_in_both_orders(http, {"object": "voucher", "id": "GIFT-AND-CODE"},
                                     {"object": "voucher", "id": "GC-STACK", "gift": {"credits": 1000}}, 200)
    assert _statuses(results) == {200: 200}, [p for s, p in results if s != 200][:3]
    code.refresh_from_db()
    card.refresh_from_db()
    assert code.redeemed_quantity == 200
    assert card.balance == 10**9 - 200 * 1000 == _ledger(card)
    assert Counter(_roll_back_all(http)) == {200: 200}
    code.refresh_from_db()
    card.refresh_from_db()
    assert code.redeemed_quantity == 0
    assert card.balance == 10**9 == _ledger(card) and card.redeemed_amount == 0


def test_a_promotion_tier_and_a_code_in_opposite_orders(http):
    campaign = promotion_campaign()
    limited = tier(campaign, "ten off", {"type": "AMOUNT", "amount_off": 1000}, redemption_quantity=1000)
    _budget(campaign, "campaign.redemptions.count", 1000)
    code = _code("TIER-AND-CODE", quantity=1000)
    results = _redeem_in_both_orders(http, {"object": "promotion_tier", "id": limited.public_id},
                                     {"object": "voucher", "id": "TIER-AND-CODE"}, 200)
    assert _statuses(results) == {200: 200}, [p for s, p in results if s != 200][:3]
    limited.refresh_from_db()
    code.refresh_from_db()
    assert (limited.redeemed_quantity, limited.discounted_amount, code.redeemed_quantity) == (200, 200 * 1000, 200)
    assert LimitCounter.objects.get().used == 200
    assert Counter(_roll_back_all(http)) == {200: 200}
    limited.refresh_from_db()
    code.refresh_from_db()
    assert (limited.redeemed_quantity, limited.discounted_amount, code.redeemed_quantity) == (0, 0, 0)
    assert PromotionTier.objects.get().orders_amount == 0 and LimitCounter.objects.get().used == 0


def _redeem_one_by_one(http, first: dict, second: dict, count: int, prefix: str) -> None:
    for i in range(count):
        status, _ = http("/v1/redemptions", {"redeemables": [first, second] if i % 2 else [second, first],
                                             "order": CART, "customer": {"source_id": f"{prefix}-{i}"}})
        assert status == 200


def test_parallel_rollbacks_of_opposite_stacks(http):
    a, b = _code("RB-A", quantity=1000), _code("RB-B", quantity=1000)
    _budget(b.campaign, "campaign.orders.amount_discounted", 10**6)
    _redeem_one_by_one(http, {"object": "voucher", "id": "RB-A"}, {"object": "voucher", "id": "RB-B"}, 120, "rb")
    assert Counter(_roll_back_all(http)) == {200: 120}
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.redeemed_quantity, b.redeemed_quantity) == (0, 0)
    assert LimitCounter.objects.get().used == 0


def test_rollbacks_of_opposite_stacks_racing_new_redemptions(http):
    a, b = _code("MIX-A", quantity=1000), _code("MIX-B", quantity=1000)
    _budget(a.campaign, "campaign.redemptions.count", 1000)
    first, second = {"object": "voucher", "id": "MIX-A"}, {"object": "voucher", "id": "MIX-B"}
    _redeem_one_by_one(http, first, second, 100, "early")  # only the rollbacks race (with new checkouts)
    parents = list(Redemption.objects.filter(parent__isnull=True, result="SUCCESS").values_list("public_id",
                                                                                                flat=True))

    def client(i: int) -> int:
        if i < len(parents):
            return http(f"/v1/redemptions/{parents[i]}/rollbacks", {})[0]
        redeemables = [first, second] if i % 2 else [second, first]
        return http("/v1/redemptions", {"redeemables": redeemables, "order": CART,
                                        "customer": {"source_id": f"late-{i}"}})[0]

    statuses = _pool(client, 2 * len(parents))
    assert Counter(statuses) == {200: 200}
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.redeemed_quantity, b.redeemed_quantity) == (100, 100)
    assert LimitCounter.objects.get().used == 100


def _ledger(card: GiftCard) -> int:
    return GiftCardTransaction.objects.filter(card=card).aggregate(total=Sum("amount"))["total"]


def _lock_queries(redeemables: list[dict]) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from promo import services

    with CaptureQueriesContext(connection) as queries:
        services.redeem({"redeemables": redeemables, "order": CART})
    return [q["sql"] for q in queries.captured_queries if "FOR NO KEY UPDATE" in q["sql"] or "ON CONFLICT" in q["sql"]]


def test_the_lock_order_costs_one_query_per_table_and_none_for_one_code():
    a = _code("COST-A")
    _code("COST-B")
    _budget(a.campaign, "campaign.redemptions.count", 1000)
    assert _lock_queries([{"object": "voucher", "id": "COST-A"}]) == []  # a code and its one counter: in order
    two = _lock_queries([{"object": "voucher", "id": "COST-B"}, {"object": "voucher", "id": "COST-A"}])
    assert len(two) == 1 and "promo_voucher" in two[0]  # both codes' rows; the one counter is taken last
    c = _code("COST-C")
    _budget(c.campaign, "campaign.redemptions.count", 1000)
    three = _lock_queries([{"object": "voucher", "id": code} for code in ("COST-C", "COST-B", "COST-A")])
    assert len(three) == 2 and "promo_voucher" in three[0] and "rules_limitcounter" in three[1]

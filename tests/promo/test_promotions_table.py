"""Carts x active promotions x codes: how codes and promotion tiers stack, with the expected totals worked
out by hand from the rules (docs/promotions.md, "Stacking").

The world (built per test by the `world` fixture):
- categories: VIP (hierarchy 1, exclusive), SEASONAL (hierarchy 2), SHIPPING (hierarchy 3, joint);
- codes: SAVE10 (10.00 off the order), PCT10 (10% off the order, SEASONAL), VIP20 (20% off the order, VIP),
  SOCKS (100% off socks), JEANS50 (50.00 off jeans), BIG50 (50.00 off the order);
- tiers of the combinable campaign "Promos": T_SPEND (15.00 off orders of 100.00+, SEASONAL), T_JEANS
  (25% off jeans), T_SHIP (free shipping, SHIPPING); stack S_JEANS_SPEND = [T_JEANS, T_SPEND];
- tier of the exclusive campaign "Clearance": T_CLEAR (30.00 off).
Carts: C1 = 2 shirts at 25.00 + jeans 60.00 + shipping 10.00 = 120.00; C2 = shirt 25.00 + 2 socks at 5.00 = 35.00.
Unless a case says otherwise: ALL, REQUESTED_ORDER, REDEEM_ANYWAY, the default limits.
"""

import pytest

from promo.models import Campaign
from tests.promo.factories import CategoryFactory, VoucherFactory
from tests.promo.promotion_helpers import line, promotion_campaign, rule, stack, tier

pytestmark = pytest.mark.django_db

SHIPPING_LINE = {"product_id": "prod_5h1pp1ng", "quantity": 1, "price": 1000}
CARTS = {
    "C1": {"items": [line("shirt", 2, 2500), line("jeans", 1, 6000), SHIPPING_LINE]},
    "C2": {"items": [line("shirt", 1, 2500), line("socks", 2, 500)]},
}
OK, SKIP_CAT, SKIP_LIMIT, EXCLUDED, NO_EFFECT, PRECEDING, RULES = (
    "APPLICABLE", "applicable_redeemables_per_category_limit_exceeded", "applicable_redeemables_limit_exceeded",
    "exclusion_rules_not_met", "no_effect", "preceding_validation_failed", "order_rules_violated")

# (case, stacking rules, cart, redeemables, valid, outcome per redeemable, total discount, total amount)
CASES = [
    ("code and item tier combine", {}, "C1", ["SAVE10", "T_JEANS"], True,
     {"SAVE10": OK, "T_JEANS": OK}, 1500 + 1000, 9500),
    # requested order puts the order-level code first; item-level is still calculated first:
    # 25% of jeans = 1500, then 10% of 12000 - 1500 = 1050 (not 10% of 12000)
    ("item level before order level", {}, "C1", ["PCT10", "T_JEANS"], True,
     {"PCT10": OK, "T_JEANS": OK}, 1500 + 1050, 9450),
    ("one per category, ALL fails", {}, "C1", ["PCT10", "T_SPEND"], False,
     {"PCT10": OK, "T_SPEND": SKIP_CAT}, None, None),
    ("one per category, PARTIAL applies the first", {"redeemables_application_mode": "PARTIAL"}, "C1",
     ["PCT10", "T_SPEND"], True, {"PCT10": OK, "T_SPEND": SKIP_CAT}, 1200, 10800),
    ("two per category", {"applicable_redeemables_per_category_limit": 2}, "C1", ["PCT10", "T_SPEND"], True,
     {"PCT10": OK, "T_SPEND": OK}, 1200 + 1500, 9300),  # 10% of 12000, then 15.00 (order.amount 12000 >= 10000)
    ("exclusive first keeps a plain code out", {"redeemables_application_mode": "PARTIAL"}, "C1",
     ["VIP20", "SAVE10"], True, {"VIP20": OK, "SAVE10": EXCLUDED}, 2400, 9600),
    ("exclusive combines with joint", {"redeemables_application_mode": "PARTIAL"}, "C1", ["VIP20", "T_SHIP"], True,
     {"VIP20": OK, "T_SHIP": OK}, 1000 + 2200, 8800),  # shipping free (item level), then 20% of 11000
    ("plain code first keeps the exclusive out", {"redeemables_application_mode": "PARTIAL"}, "C1",
     ["SAVE10", "VIP20"], True, {"SAVE10": OK, "VIP20": EXCLUDED}, 1000, 11000),
    ("exclusive excluded fails ALL", {}, "C1", ["SAVE10", "VIP20"], False,
     {"SAVE10": OK, "VIP20": EXCLUDED}, None, None),
    ("category hierarchy puts the exclusive first", {"redeemables_application_mode": "PARTIAL",
                                                     "redeemables_sorting_rule": "CATEGORY_HIERARCHY"}, "C1",
     ["SAVE10", "VIP20"], True, {"SAVE10": EXCLUDED, "VIP20": OK}, 2400, 9600),
    ("joint, exclusive and a plain code: ALL fails", {}, "C1", ["VIP20", "T_SHIP", "SAVE10"], False,
     {"VIP20": OK, "T_SHIP": OK, "SAVE10": EXCLUDED}, None, None),
    ("exclusive campaign applies alone", {"redeemables_application_mode": "PARTIAL"}, "C1", ["T_CLEAR", "SAVE10"],
     True, {"T_CLEAR": OK, "SAVE10": EXCLUDED}, 3000, 9000),
    ("exclusive campaign after a code", {"redeemables_application_mode": "PARTIAL"}, "C1", ["SAVE10", "T_CLEAR"],
     True, {"SAVE10": OK, "T_CLEAR": EXCLUDED}, 1000, 11000),
    ("exclusive campaign alone is fine", {}, "C1", ["T_CLEAR"], True, {"T_CLEAR": OK}, 3000, 9000),
    ("tier rules not met, PARTIAL", {"redeemables_application_mode": "PARTIAL"}, "C2", ["T_SPEND", "SOCKS"], True,
     {"T_SPEND": RULES, "SOCKS": OK}, 1000, 2500),  # 3500 < 10000; socks free
    ("tier rules not met, ALL", {}, "C2", ["T_SPEND", "SOCKS"], False, {"T_SPEND": RULES, "SOCKS": PRECEDING},
     None, None),
    ("applicable limit", {"redeemables_application_mode": "PARTIAL", "applicable_redeemables_limit": 2}, "C1",
     ["SAVE10", "T_JEANS", "PCT10"], True, {"SAVE10": OK, "T_JEANS": OK, "PCT10": SKIP_LIMIT}, 2500, 9500),
    ("never more than the order", {}, "C2", ["BIG50", "SAVE10"], True, {"BIG50": OK, "SAVE10": OK}, 3500, 0),
    ("no effect skipped", {"redeemables_application_mode": "PARTIAL", "redeemables_no_effect_rule": "SKIP"}, "C2",
     ["BIG50", "SAVE10"], True, {"BIG50": OK, "SAVE10": NO_EFFECT}, 3500, 0),
    # jeans 6000: 25% = 1500, then 50.00 capped at the 4500 left: the line ends at 0, never below
    ("never more than the item", {}, "C1", ["T_JEANS", "JEANS50"], True, {"T_JEANS": OK, "JEANS50": OK},
     6000, 6000),
    ("stack plus a code", {"redeemables_application_mode": "PARTIAL"}, "C1", ["S_JEANS_SPEND", "SAVE10"], True,
     {"T_JEANS": OK, "T_SPEND": OK, "SAVE10": OK}, 1500 + 1500 + 1000, 8000),
    ("stack counts once for the limit", {"applicable_redeemables_limit": 2}, "C1", ["S_JEANS_SPEND", "SAVE10"],
     True, {"T_JEANS": OK, "T_SPEND": OK, "SAVE10": OK}, 4000, 8000),
    ("stack's category slot taken", {"redeemables_application_mode": "PARTIAL"}, "C1", ["PCT10", "S_SPEND"],
     True, {"PCT10": OK, "T_SPEND": SKIP_CAT}, 1200, 10800),
    ("stack on a small cart: none of it", {"redeemables_application_mode": "PARTIAL"}, "C2",
     ["S_JEANS_SPEND", "SAVE10"], True, {"T_JEANS": PRECEDING, "T_SPEND": "missing_or_rules", "SAVE10": OK},
     1000, 2500),
]


@pytest.fixture
def world():
    vip = CategoryFactory(name="VIP", hierarchy=1)
    seasonal = CategoryFactory(name="SEASONAL", hierarchy=2)
    shipping = CategoryFactory(name="SHIPPING", hierarchy=3)
    codes = {
        "SAVE10": VoucherFactory(code="SAVE10", discount={"type": "AMOUNT", "amount_off": 1000}),
        "PCT10": VoucherFactory(code="PCT10", discount={"type": "PERCENT", "percent_off": 10}, category=seasonal),
        "VIP20": VoucherFactory(code="VIP20", discount={"type": "PERCENT", "percent_off": 20}, category=vip),
        "SOCKS": VoucherFactory(code="SOCKS", discount={"type": "PERCENT", "percent_off": 100,
                                                        "effect": "APPLY_TO_ITEMS"}),
        "JEANS50": VoucherFactory(code="JEANS50", discount={"type": "AMOUNT", "amount_off": 5000,
                                                            "effect": "APPLY_TO_ITEMS"}),
        "BIG50": VoucherFactory(code="BIG50", discount={"type": "AMOUNT", "amount_off": 5000}),
    }
    rule(codes["SOCKS"], [], applicable_to=[{"object": "product", "id": "socks"}])
    rule(codes["JEANS50"], [], applicable_to=[{"object": "product", "id": "jeans"}])
    promos = promotion_campaign("Promos")
    tiers = {
        "T_SPEND": tier(promos, "spend 100 save 15", {"type": "AMOUNT", "amount_off": 1500}, category=seasonal,
                        rules=[{"name": "order.amount", "conditions": {"$more_than_or_equal": [10000]}}]),
        "T_JEANS": tier(promos, "jeans 25%", {"type": "PERCENT", "percent_off": 25, "effect": "APPLY_TO_ITEMS"},
                        applicable_to=[{"object": "product", "id": "jeans"}]),
        "T_SHIP": tier(promos, "free shipping", {"type": "UNIT", "unit_off": 1, "unit_type": "prod_5h1pp1ng",
                                                 "effect": "ADD_MISSING_ITEMS"}, category=shipping),
        "T_CLEAR": tier(promotion_campaign("Clearance", exclusive=True), "clearance",
                        {"type": "AMOUNT", "amount_off": 3000}),
    }
    stacks = {"S_JEANS_SPEND": stack(promos, "jeans and spend", [tiers["T_JEANS"], tiers["T_SPEND"]]),
              "S_SPEND": stack(promos, "spend", [tiers["T_SPEND"]])}
    refs = {name: ("voucher", name) for name in codes}
    refs.update({name: ("promotion_tier", t.public_id) for name, t in tiers.items()})
    refs.update({name: ("promotion_stack", s.public_id) for name, s in stacks.items()})
    names = {ref_id: name for name, (_kind, ref_id) in refs.items()}
    return {"refs": refs, "names": names, "vip": vip, "shipping": shipping}


@pytest.mark.parametrize("case, rules, cart_name, sent, valid, outcomes, discount, total", CASES,
                         ids=[c[0] for c in CASES])
def test_stacking_table(api, settings, world, case, rules, cart_name, sent, valid, outcomes, discount, total):
    settings.STACKING_RULES = {"exclusive_categories": [world["vip"].public_id],
                               "joint_categories": [world["shipping"].public_id], **rules}
    body = {"redeemables": [{"object": world["refs"][n][0], "id": world["refs"][n][1]} for n in sent],
            "order": CARTS[cart_name]}
    response = api.post("/v1/validations", body)
    assert response.status_code == 200, response.content
    result = response.json()

    def outcome(redeemable) -> str:
        if redeemable["status"] == "APPLICABLE":
            return OK
        if redeemable["status"] == "INAPPLICABLE":
            return redeemable["result"]["error"]["key"]
        return redeemable["result"]["details"]["key"]

    seen = {world["names"][r["id"]]: outcome(r) for r in result["redeemables"]}
    expected = dict(outcomes)
    if expected.get("T_SPEND") == "missing_or_rules":  # the stack's second tier fails on C2: rules not met
        expected["T_SPEND"] = RULES
    assert result["valid"] is valid, result
    assert seen == expected
    if valid:
        assert result["order"]["total_discount_amount"] == discount
        assert result["order"]["total_amount"] == total
        assert result["order"]["total_amount"] >= 0
        for item in result["order"]["items"]:
            assert 0 <= item["discount_amount"] <= item["amount"]
        redeemed = api.post("/v1/redemptions", body)  # the redemption agrees with the validation
        assert redeemed.status_code == 200, redeemed.content
        assert redeemed.json()["order"]["total_amount"] == total


def test_exclusive_flag_through_the_campaign_api(api):
    created = api.post("/v1/campaigns", {"name": "Solo", "campaign_type": "PROMOTION", "exclusive": True,
                                         "promotion": {"tiers": [{"name": "t", "action": {"discount": {
                                             "type": "AMOUNT", "amount_off": 100}}}]}}).json()
    assert created["exclusive"] is True and Campaign.objects.get(public_id=created["id"]).exclusive
    updated = api.put(f"/v1/campaigns/{created['id']}", {"exclusive": False}).json()
    assert updated["exclusive"] is False

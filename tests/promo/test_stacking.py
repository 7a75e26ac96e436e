"""Stacking rules with worked carts: limits, exclusive and joint categories, ALL vs PARTIAL, sorting, no effect."""

import pytest

from promo.stacking import build_stacking_rules
from tests.promo.factories import CategoryFactory, VoucherFactory

pytestmark = pytest.mark.django_db

CART = {"items": [{"source_id": "a", "related_object": "product", "quantity": 1, "price": 10000}]}


def validate(api, *codes):
    response = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": c} for c in codes],
                                             "order": CART})
    assert response.status_code == 200, response.content
    return response.json()


def statuses(body):
    return [(r["id"], r["status"], (r["result"].get("details") or {}).get("key") if r["status"] != "APPLICABLE"
             else None) for r in body["redeemables"]]


def amount_codes(*codes, category=None, off=1000):
    return [VoucherFactory(code=c, discount={"type": "AMOUNT", "amount_off": off}, category=category) for c in codes]


def test_applicable_limit_skips_the_rest(api, settings):
    settings.STACKING_RULES = {"applicable_redeemables_limit": 2}
    amount_codes("A", "B", "C")
    body = validate(api, "A", "B", "C")
    assert statuses(body) == [("A", "APPLICABLE", None), ("B", "APPLICABLE", None),
                              ("C", "SKIPPED", "applicable_redeemables_limit_exceeded")]
    assert body["valid"] is False  # ALL mode: a skipped code means the cart is not as requested
    settings.STACKING_RULES = {"applicable_redeemables_limit": 2, "redeemables_application_mode": "PARTIAL"}
    body = validate(api, "A", "B", "C")
    assert body["valid"] is True and body["order"]["total_discount_amount"] == 2000


def test_per_category_limit(api, settings):
    settings.STACKING_RULES = {"redeemables_application_mode": "PARTIAL"}
    shoes = CategoryFactory(name="Shoes")
    amount_codes("S1", "S2", category=shoes)
    amount_codes("X")
    body = validate(api, "S1", "S2", "X")
    assert statuses(body) == [("S1", "APPLICABLE", None),
                              ("S2", "SKIPPED", "applicable_redeemables_per_category_limit_exceeded"),
                              ("X", "APPLICABLE", None)]


def test_exclusive_category_combines_only_with_joint(api, settings):
    exclusive, joint, other = CategoryFactory(name="VIP"), CategoryFactory(name="Shipping"), CategoryFactory()
    settings.STACKING_RULES = {"redeemables_application_mode": "PARTIAL",
                               "exclusive_categories": [exclusive.public_id], "joint_categories": [joint.public_id]}
    amount_codes("VIP", category=exclusive)
    amount_codes("SHIP", category=joint)
    amount_codes("OTHER", category=other)
    body = validate(api, "VIP", "SHIP", "OTHER")
    assert statuses(body) == [("VIP", "APPLICABLE", None), ("SHIP", "APPLICABLE", None),
                              ("OTHER", "SKIPPED", "exclusion_rules_not_met")]
    # the other way round: a plain code first keeps the exclusive one out
    body = validate(api, "OTHER", "VIP")
    assert statuses(body) == [("OTHER", "APPLICABLE", None), ("VIP", "SKIPPED", "exclusion_rules_not_met")]


def test_exclusive_limit(api, settings):
    vip = CategoryFactory(name="VIP")
    staff = CategoryFactory(name="Staff")
    settings.STACKING_RULES = {"redeemables_application_mode": "PARTIAL",
                               "exclusive_categories": [vip.public_id, staff.public_id]}
    amount_codes("V", category=vip)
    amount_codes("T", category=staff)
    body = validate(api, "V", "T")
    assert statuses(body)[1] == ("T", "SKIPPED", "applicable_exclusive_redeemables_limit_exceeded")


def test_category_hierarchy_sorting_changes_the_order_of_application(api, settings):
    first, second = CategoryFactory(hierarchy=1), CategoryFactory(hierarchy=2)
    VoucherFactory(code="PCT", discount={"type": "PERCENT", "percent_off": 10}, category=first)
    VoucherFactory(code="AMT", discount={"type": "AMOUNT", "amount_off": 5000}, category=second)
    requested = validate(api, "AMT", "PCT")  # 5000 off, then 10% of 5000
    assert requested["order"]["total_discount_amount"] == 5500
    settings.STACKING_RULES = {"redeemables_sorting_rule": "CATEGORY_HIERARCHY"}
    by_hierarchy = validate(api, "AMT", "PCT")  # 10% of 10000, then 5000 off
    assert by_hierarchy["order"]["total_discount_amount"] == 6000


def test_no_effect_rule(api, settings):
    VoucherFactory(code="BIG", discount={"type": "AMOUNT", "amount_off": 10000})
    VoucherFactory(code="MORE", discount={"type": "AMOUNT", "amount_off": 100})
    assert statuses(validate(api, "BIG", "MORE"))[1] == ("MORE", "APPLICABLE", None)
    settings.STACKING_RULES = {"redeemables_no_effect_rule": "SKIP", "redeemables_application_mode": "PARTIAL"}
    assert statuses(validate(api, "BIG", "MORE"))[1] == ("MORE", "SKIPPED", "no_effect")


@pytest.mark.parametrize("overrides", [
    {"applicable_redeemables_limit": 31}, {"applicable_exclusive_redeemables_limit": 0},
    {"redeemables_application_mode": "SOME"}, {"redeemables_limit": True}, {"unknown_rule": 1},
])
def test_stacking_rules_are_checked(overrides):
    with pytest.raises(ValueError):
        build_stacking_rules(overrides)

"""gift.effect APPLY_TO_ITEMS: the credits go onto the items in proportion to what is left to pay on each
(largest remainder), not onto the order; what the items cannot take stays order-level."""

import pytest

from giftcards.handlers import credits_effect
from promo.discounts import Line, OrderState
from tests.giftcards.factories import gift_card
from tests.promo.factories import VoucherFactory
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

# 3000 + 2000 + 1001 = 6001
ITEMS = [{"source_id": "a", "related_object": "product", "quantity": 3, "price": 1000},
         {"source_id": "b", "related_object": "product", "quantity": 1, "price": 2000},
         {"source_id": "c", "related_object": "product", "quantity": 1, "price": 1001}]


def _items_card(code: str, amount: int):
    return gift_card(code, amount, gift={"amount": amount, "effect": "APPLY_TO_ITEMS"})


def test_credits_split_over_the_items_by_largest_remainder(api):
    _items_card("GC-ITEMS", 1000)
    response = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": "GC-ITEMS"}],
                                            "order": {"amount": 6001, "items": ITEMS}})
    body = assert_matches_spec(response, "/v1/validations", "post")
    # 1000 x 3000/6001 = 499.92, x 2000/6001 = 333.28, x 1001/6001 = 166.81: floors 499 + 333 + 166 = 998,
    # the 2 units left go to the largest remainders (a: .92, c: .81) -> 500, 333, 167
    order = body["order"]
    assert [item["applied_discount_amount"] for item in order["items"]] == [500, 333, 167]
    assert [item["subtotal_amount"] for item in order["items"]] == [2500, 1667, 834]
    assert (order["discount_amount"], order["items_discount_amount"], order["total_amount"]) == (0, 1000, 5001)
    assert body["redeemables"][0]["result"]["gift"]["credits"] == 1000
    redeemed = api.post("/v1/redemptions", {"redeemables": [{"object": "voucher", "id": "GC-ITEMS"}],
                                            "order": {"amount": 6001, "items": ITEMS}})
    assert redeemed.status_code == 200, redeemed.content
    assert redeemed.json()["order"]["items_discount_amount"] == 1000
    assert api.get("/v1/vouchers/GC-ITEMS").json()["gift"]["balance"] == 0


def test_after_a_coupon_on_the_items_and_with_shipping_left_to_the_order(api):
    _items_card("GC-SHIP", 10_000)
    VoucherFactory(code="TENOFF", discount={"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ITEMS"})
    response = api.post("/v1/redemptions", {
        "redeemables": [{"object": "voucher", "id": "GC-SHIP"}, {"object": "voucher", "id": "TENOFF"}],
        "order": {"amount": 6501, "items": ITEMS}})  # 500 of shipping beyond the items
    assert response.status_code == 200, response.content
    order = response.json()["order"]
    # the coupon first: 300 + 200 + 100 (100.1 rounded) = 600 off; the card pays every item's rest (5401)
    # and the 500 of shipping at order level
    assert [item["subtotal_amount"] for item in order["items"]] == [0, 0, 0]
    assert order["items_discount_amount"] == 6001 and order["discount_amount"] == 500
    assert order["total_amount"] == 0
    assert api.get("/v1/vouchers/GC-SHIP").json()["gift"]["balance"] == 10_000 - 5901


def test_without_items_the_credits_apply_to_the_order(api):
    _items_card("GC-NOITEMS", 1000)
    body = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": "GC-NOITEMS",
                                                         "gift": {"credits": 400}}],
                                        "order": {"amount": 2000}}).json()
    assert body["valid"] and body["order"]["discount_amount"] == 400


def test_credits_effect_worked_numbers():
    state = OrderState(lines=[Line(index=0, quantity=1, price=999, amount=999),
                              Line(index=1, quantity=1, price=1, amount=1, discount_amount=1),
                              Line(index=2, quantity=2, price=500, amount=1000)], amount=1999)
    effect = credits_effect(state, 1000, "APPLY_TO_ITEMS")
    # weights 999 and 1000 (the free line takes nothing): 499.75 and 500.25 -> 500 and 500
    assert effect.item_discounts == {0: 500, 2: 500} and effect.order_discount == 0
    assert credits_effect(state, 1000, "APPLY_TO_ORDER").order_discount == 1000

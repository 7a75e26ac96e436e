"""Item sub-rules: conditions on the items matched by product / SKU / collection, with quantity and price,
through real /v1/validations calls. Every case states its numbers.

Catalog: product X at 7.00, product Y at 15.00, product Z at 3.00; collection C = {X, Y}.
"""

import pytest

from catalog.models import Product, ProductCollection, ProductCollectionItem
from tests.conftest import assert_error
from tests.promo.factories import RuleFactory, VoucherFactory, assign

pytestmark = pytest.mark.django_db

CODES = iter(f"ITEMS{n}" for n in range(1000))


@pytest.fixture
def catalog():
    x = Product.objects.create(source_id="x", name="X", price=700)
    y = Product.objects.create(source_id="y", name="Y", price=1500)
    Product.objects.create(source_id="z", name="Z", price=300)
    collection = ProductCollection.objects.create(name="C", type="STATIC")
    ProductCollectionItem.objects.bulk_create([ProductCollectionItem(collection=collection, product=x),
                                               ProductCollectionItem(collection=collection, product=y)])
    return {"x": x, "y": y, "c": collection}


def line(source_id: str, quantity: int, price: int, **extra) -> dict:
    return {"source_id": source_id, "related_object": "product", "quantity": quantity, "price": price, **extra}


def coupon(rules: dict) -> str:
    code = next(CODES)
    voucher = VoucherFactory(code=code, discount={"type": "AMOUNT", "amount_off": 100})
    assign(RuleFactory(rules=rules), voucher)
    return code


def check(api, code: str, items: list[dict]) -> tuple[str, str | None]:
    body = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": code}],
                                        "order": {"items": items}}).json()
    redeemable = body["redeemables"][0]
    return redeemable["status"], (redeemable["result"].get("error") or {}).get("key")


def items_rule(kind: str, ref: dict, sub_rules: dict) -> dict:
    return {"1": {"name": f"order.items.{kind}", "conditions": {"$is": [ref]}, "rules": sub_rules}}


def at_least(name: str, value: int) -> dict:
    return {"1": {"name": name, "conditions": {"$more_than_or_equal": [value]}}}


def test_at_least_2_units_of_product_x(api, catalog):
    x = {"object": "product", "id": catalog["x"].public_id}
    together = coupon(items_rule("any", x, {"1": {"name": "order.items.aggregated_quantity",
                                                  "conditions": {"$more_than_or_equal": [2]}}}))
    one_line = coupon(items_rule("any", x, {"1": {"name": "order.items.quantity",
                                                  "conditions": {"$more_than_or_equal": [2]}}}))
    split = [line("x", 1, 700), line("x", 1, 700), line("z", 5, 300)]  # X: 1 + 1 = 2 units, on two lines
    assert check(api, together, split) == ("APPLICABLE", None)
    assert check(api, one_line, split) == ("INAPPLICABLE", "order_rules_violated")  # no line holds 2
    assert check(api, one_line, [line("x", 2, 700)])[0] == "APPLICABLE"
    assert check(api, together, [line("x", 1, 700), line("z", 5, 300)])[0] == "INAPPLICABLE"  # Z's 5 do not count


def test_items_of_collection_c_priced_at_least_10(api, catalog):
    c = {"object": "products_collection", "id": catalog["c"].public_id}
    code = coupon(items_rule("any", c, at_least("order.items.price", 1000)))
    assert check(api, code, [line("x", 3, 700), line("y", 1, 1500)])[0] == "APPLICABLE"  # Y: 15.00 >= 10.00
    assert check(api, code, [line("x", 3, 700), line("z", 1, 3000)])[0] == "INAPPLICABLE"  # Z is dear but not in C


def test_matched_items_worth_30_together(api, catalog):
    c = {"object": "products_collection", "id": catalog["c"].public_id}
    code = coupon(items_rule("any", c, {"1": {"name": "order.items.aggregated_amount",
                                              "conditions": {"$more_than_or_equal": [3000]}}}))
    # C lines: 3 x 7.00 + 1 x 15.00 = 36.00 >= 30.00 (Z's 9.00 is not counted)
    assert check(api, code, [line("x", 3, 700), line("y", 1, 1500), line("z", 3, 300)])[0] == "APPLICABLE"
    # C lines: 2 x 7.00 = 14.00; with Z's 30.00 the order is 44.00, but Z is not in C
    assert check(api, code, [line("x", 2, 700), line("z", 10, 300)])[0] == "INAPPLICABLE"


def test_every_and_none_with_sub_rules_and_logic(api, catalog):
    c = {"object": "products_collection", "id": catalog["c"].public_id}
    every = coupon(items_rule("every", c, at_least("order.items.price", 500)))
    none = coupon(items_rule("none", c, at_least("order.items.quantity", 3)))
    either = coupon(items_rule("any", c, {
        "1": {"name": "order.items.quantity", "conditions": {"$more_than_or_equal": [5]}},
        "2": {"name": "order.items.metadata", "property": "gift", "conditions": {"$is": [True]}},
        "logic": "1 or 2"}))
    cart = [line("x", 3, 700), line("y", 1, 1500)]
    assert check(api, every, cart)[0] == "APPLICABLE"  # 7.00 and 15.00 are both >= 5.00
    assert check(api, every, [*cart, line("z", 1, 300)])[0] == "INAPPLICABLE"  # Z is not in C
    assert check(api, none, cart)[0] == "INAPPLICABLE"  # X has 3 units
    assert check(api, none, [line("x", 2, 700), line("z", 9, 300)])[0] == "APPLICABLE"  # Z's 9 are not in C
    assert check(api, either, cart)[0] == "INAPPLICABLE"  # 3 < 5 units and no gift
    assert check(api, either, [line("x", 1, 700, metadata={"gift": True})])[0] == "APPLICABLE"


def test_price_any_and_price_each(api, catalog):
    dear = coupon({"1": {"name": "order.items.price_any", "conditions": {"$more_than_or_equal": [1500]}}})
    cheap = coupon({"1": {"name": "order.items.price_each", "conditions": {"$less_than": [1000]}}})
    cart = [line("x", 1, 700), line("y", 1, 1500)]
    assert check(api, dear, cart)[0] == "APPLICABLE"
    assert check(api, dear, [line("x", 1, 700)])[0] == "INAPPLICABLE"
    assert check(api, cheap, cart)[0] == "INAPPLICABLE"  # Y costs 15.00
    assert check(api, cheap, [line("x", 2, 700), line("z", 1, 300)])[0] == "APPLICABLE"


def test_failure_explains_which_condition(api, catalog):
    code = coupon({"1": {"name": "order.items.price_each", "conditions": {"$less_than": [1000]}}})
    body = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": code}],
                                        "order": {"items": [line("x", 1, 700), line("y", 1, 1500)]}}).json()
    details = body["redeemables"][0]["result"]["error"]["details"]
    assert "order.items.price_each {'$less_than': [1000]} (actual: 1500)" in details  # the first price that fails


def test_sub_rules_through_the_rules_api(api, catalog):
    rule = {"name": "Two X", "rules": items_rule("any", {"object": "product", "id": catalog["x"].public_id}, {
        "1": {"name": "order.items.aggregated_quantity", "conditions": {"$more_than_or_equal": [2]}}})}
    created = api.post("/v1/validation-rules", rule)
    assert created.status_code == 201, created.content
    assert created.json()["rules"]["1"]["rules"]["1"]["name"] == "order.items.aggregated_quantity"
    bad = {"name": "Bad", "rules": items_rule("any", {"object": "product", "id": "x"}, {
        "1": {"name": "order.items.price", "conditions": {"$more_than": [9.99]}}})}
    assert_error(api.post("/v1/validation-rules", bad), 400, "invalid_payload")  # amounts are minor units

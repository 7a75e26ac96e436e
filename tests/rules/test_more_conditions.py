"""Item, purchase-history and custom-event conditions through the engine, with the brief's examples."""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import Product, ProductCollection, ProductCollectionItem
from customers import services as customer_services
from tests.promo.factories import RuleFactory, VoucherFactory, assign

pytestmark = pytest.mark.django_db


def validate(api, code, customer="ana", items=None):
    items = items or [{"source_id": "tee", "related_object": "product", "quantity": 1, "price": 2000}]
    body = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": code}],
                                        "customer": {"source_id": customer}, "order": {"items": items}}).json()
    redeemable = body["redeemables"][0]
    return redeemable["status"], (redeemable["result"].get("error") or {}).get("key")


def coupon_with(rules: dict, logic: str | None = None, code: str = "RULED"):
    voucher = VoucherFactory(code=code, discount={"type": "PERCENT", "percent_off": 20})
    definition = dict(rules, logic=logic) if logic else rules
    assign(RuleFactory(rules=definition), voucher)
    return voucher


def order(customer: str, amount: int, days_ago: int, number: list[int] = [0]):  # noqa: B006 - a counter
    number[0] += 1
    placed = (timezone.now() - timedelta(days=days_ago)).isoformat()
    customer_services.order_create_or_update({"source_id": f"o-{customer}-{number[0]}", "status": "PAID",
                                              "amount": amount, "customer": {"source_id": customer},
                                              "created_at": placed})


def test_spent_at_least_1000_last_year(api):
    coupon_with({"1": {"name": "customer.orders.amount_in_period", "property": "365",
                       "conditions": {"$more_than_or_equal": [100000]}}})
    order("ana", 60000, days_ago=30)
    order("ana", 50000, days_ago=400)  # too old to count
    assert validate(api, "RULED") == ("INAPPLICABLE", "customer_rules_violated")
    order("ana", 40000, days_ago=200)
    assert validate(api, "RULED") == ("APPLICABLE", None)


def _months_back(count: int) -> list:
    """A moment in each of the last `count` calendar months, this month first."""
    moments, cursor = [], timezone.localtime() - timedelta(minutes=1)
    for _ in range(count):
        moments.append(cursor)
        cursor = cursor.replace(day=1, hour=12, minute=0) - timedelta(days=15)
    return moments


def _order_at(customer: str, moment, number: list[int] = [0]):  # noqa: B006 - a counter
    number[0] += 1
    customer_services.order_create_or_update({"source_id": f"m-{customer}-{number[0]}", "status": "PAID",
                                              "amount": 1000, "customer": {"source_id": customer},
                                              "created_at": moment.isoformat()})


def test_one_purchase_every_month_for_a_year(api):
    coupon_with({"1": {"name": "customer.orders.months_with_orders", "property": "12",
                       "conditions": {"$more_than_or_equal": [12]}}})
    months = _months_back(12)
    for moment in months:
        _order_at("ben", moment)
    for moment in months[:5] + months[6:]:  # one month without an order
        _order_at("ana", moment)
    _order_at("ana", months[0])  # two orders in one month do not make up for it
    assert validate(api, "RULED", customer="ben")[0] == "APPLICABLE"
    assert validate(api, "RULED", customer="ana") == ("INAPPLICABLE", "customer_rules_violated")


def test_spent_50_or_placed_2_orders(api):
    coupon_with({"1": {"name": "customer.orders.amount", "conditions": {"$more_than_or_equal": [5000]}},
                 "2": {"name": "customer.orders.count", "conditions": {"$more_than_or_equal": [2]}}}, logic="1 or 2")
    order("ana", 1000, days_ago=1)
    assert validate(api, "RULED")[0] == "INAPPLICABLE"
    order("ana", 1000, days_ago=1)
    assert validate(api, "RULED")[0] == "APPLICABLE"  # two orders
    order("cy", 6000, days_ago=1)
    assert validate(api, "RULED", customer="cy")[0] == "APPLICABLE"  # one order, but spent 60


def test_delivery_address_in_porto(api):
    coupon_with({"1": {"name": "customer.address.city", "conditions": {"$is": ["Porto"]}}})
    customer_services.customer_create_or_update({"source_id": "pt", "address": {"city": "Porto"}})
    customer_services.customer_create_or_update({"source_id": "uk", "address": {"city": "London"}})
    assert validate(api, "RULED", customer="pt")[0] == "APPLICABLE"
    assert validate(api, "RULED", customer="uk") == ("INAPPLICABLE", "customer_rules_violated")


def test_items_any_every_none_with_products_and_collections(api):
    Product.objects.create(source_id="shoe", name="Shoe", price=5000, metadata={"brand": "Acme"})
    sock = Product.objects.create(source_id="sock", name="Sock", price=500)
    brand_is_acme = {"junction": "and", "metadata.brand": {"conditions": {"$is": ["Acme"]}}}
    acme = ProductCollection.objects.create(name="Acme", type="AUTO_UPDATE", filter=brand_is_acme)
    socks = ProductCollection.objects.create(name="Socks", type="STATIC")
    ProductCollectionItem.objects.create(collection=socks, product=sock)
    coupon_with({"1": {"name": "order.items.any", "conditions": {"$is": [{"object": "products_collection",
                                                                          "id": acme.public_id}]}}}, code="ANY")
    coupon_with({"1": {"name": "order.items.every", "conditions": {"$is": [{"object": "products_collection",
                                                                            "id": acme.public_id}]}}}, code="EVERY")
    coupon_with({"1": {"name": "order.items.none", "conditions": {"$is": [{"object": "product", "id": sock.public_id},
                                                                          {"object": "products_collection",
                                                                           "id": socks.public_id}]}}}, code="NONE")
    line = {"related_object": "product", "quantity": 1}
    mixed = [{**line, "source_id": "shoe", "price": 5000}, {**line, "source_id": "sock", "price": 500}]
    only_shoes = [{**line, "source_id": "shoe", "price": 5000}]
    assert validate(api, "ANY", items=mixed)[0] == "APPLICABLE"
    assert validate(api, "EVERY", items=mixed) == ("INAPPLICABLE", "order_rules_violated")
    assert validate(api, "EVERY", items=only_shoes)[0] == "APPLICABLE"
    assert validate(api, "NONE", items=mixed)[0] == "INAPPLICABLE"
    assert validate(api, "NONE", items=only_shoes)[0] == "APPLICABLE"


def test_custom_event_count_in_the_last_days(api):
    coupon_with({"1": {"name": "custom_event.count", "property": "app_opened:30",
                       "conditions": {"$more_than_or_equal": [3]}}})
    for _ in range(3):
        customer_services.custom_event_track({"event": "app_opened", "customer": {"source_id": "ana"}})
    assert validate(api, "RULED")[0] == "APPLICABLE"
    assert validate(api, "RULED", customer="zed")[0] == "INAPPLICABLE"


def test_a_stored_rule_with_a_non_text_property_refuses_instead_of_failing(api):
    """The API refuses a list `property`; a row stored another way (admin JSON) must not cause a 500."""
    from rules.models import ValidationRule

    voucher = coupon_with({"1": {"name": "customer.metadata", "conditions": {"$is": ["pharma"]},
                                 "property": "industry"}})
    stored = ValidationRule.objects.get(assignments__related_object_id=voucher.public_id)
    stored.rules["1"]["property"] = ["industry"]
    stored.save()
    response = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": "RULED"}],
                                            "customer": {"source_id": "x", "metadata": {"industry": "pharma"}},
                                            "order": {"amount": 1000}})
    assert response.status_code == 200
    assert response.json()["valid"] is False

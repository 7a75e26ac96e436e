"""The brief's promotion kinds as promotion tiers, each with real carts through the API: flash sales and
happy hours (windows in the project's time zone), buy one get one / buy X get Y / cheapest item free,
free samples, free shipping, bundles, volume discounts, and personalisation by location, average spend,
loyalty tier and segment. Expected amounts are worked out by hand in the comments."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from customers.models import Customer
from promo.context import build_context
from promo.engine import evaluate
from promo.stacking import build_stacking_rules
from tests.promo.factories import CategoryFactory
from tests.promo.promotion_helpers import cart, collection, line, products, promotion_campaign, tier

pytestmark = pytest.mark.django_db

SHIPPING = {"product_id": "prod_5h1pp1ng", "quantity": 1, "price": 1500}


def validate(api, tier_ids, order, customer=None, expect_valid=True) -> dict:
    body = {"redeemables": [{"object": "promotion_tier", "id": t.public_id} for t in tier_ids], "order": order}
    if customer:
        body["customer"] = customer
    response = api.post("/v1/validations", body)
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["valid"] is expect_valid, result
    return result


def qualified(api, order, customer=None, **options) -> list[str]:
    body = {"order": order, "options": {"limit": 50, **options}}
    if customer:
        body["customer"] = customer
    response = api.post("/v1/qualifications", body)
    assert response.status_code == 200, response.content
    return [d["id"] for d in response.json()["redeemables"]["data"]]


# ---------------------------------------------------------------- flash sales and happy hours

@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland", "America/Los_Angeles"])
def test_happy_hour_is_evaluated_in_the_project_time_zone(api, settings, zone):
    settings.TIME_ZONE = zone
    local = timezone.localtime(timezone.now())
    window = {"start_time": (local - timedelta(minutes=30)).strftime("%H:%M"),
              "expiration_time": (local + timedelta(minutes=30)).strftime("%H:%M"),
              "days_of_week": [local.isoweekday() % 7]}
    later = {"start_time": (local + timedelta(hours=2)).strftime("%H:%M"),
             "expiration_time": (local + timedelta(hours=3)).strftime("%H:%M")}
    campaign = promotion_campaign()
    now_on = tier(campaign, "happy hour", {"type": "PERCENT", "percent_off": 50}, validity_hours={"daily": [window]})
    not_yet = tier(campaign, "evening", {"type": "PERCENT", "percent_off": 50}, validity_hours={"daily": [later]})
    order = cart(line("beer", 4, 600))  # 2400
    assert validate(api, [now_on], order)["order"]["total_amount"] == 1200
    refused = validate(api, [not_yet], order, expect_valid=False)
    assert refused["redeemables"][0]["result"]["error"]["key"] == "promotion_not_active_now"
    assert qualified(api, order) == [now_on.public_id]


def _evaluate_at(tier_obj, order: dict, moment: datetime):
    ctx = build_context({"redeemables": [{"object": "promotion_tier", "id": tier_obj.public_id}], "order": order})
    ctx.now = moment
    return evaluate(ctx, build_stacking_rules({}))


def test_happy_hour_from_five_to_seven_on_weekdays(settings):
    settings.TIME_ZONE = "Europe/Warsaw"
    happy = tier(promotion_campaign(), "5-7pm weekdays", {"type": "AMOUNT", "amount_off": 300},
                 validity_hours={"daily": [{"start_time": "17:00", "expiration_time": "19:00",
                                            "days_of_week": [1, 2, 3, 4, 5]}]})
    order = cart(line("pizza", 1, 3000))
    zone = timezone.get_current_timezone()
    wednesday_6pm = datetime(2026, 11, 25, 18, 0, tzinfo=zone)  # 17:00 UTC
    assert _evaluate_at(happy, order, wednesday_6pm).valid
    assert not _evaluate_at(happy, order, wednesday_6pm.replace(hour=19, minute=0)).valid  # the end is exclusive
    assert not _evaluate_at(happy, order, wednesday_6pm.replace(hour=16, minute=59)).valid
    assert not _evaluate_at(happy, order, datetime(2026, 11, 28, 18, 0, tzinfo=zone)).valid  # Saturday


def test_flash_sale_recurring_daily_hour():
    start = timezone.now() - timedelta(days=3, minutes=10)  # every day for an hour from this moment
    flash = tier(promotion_campaign(), "flash", {"type": "PERCENT", "percent_off": 30}, start_date=start,
                 expiration_date=start + timedelta(days=7),
                 validity_timeframe={"interval": "P1D", "duration": "PT1H"})
    order = cart(line("tv", 1, 100000))
    assert _evaluate_at(flash, order, timezone.now()).candidates[0].applied.amount == 30000
    assert not _evaluate_at(flash, order, timezone.now() + timedelta(hours=2)).valid
    assert _evaluate_at(flash, order, timezone.now() + timedelta(days=1)).valid
    assert not _evaluate_at(flash, order, start + timedelta(days=8)).valid  # the sale is over


# ---------------------------------------------------------------- buy one get one, buy X get Y, cheapest free

def test_buy_one_get_one_free_same_product(api):
    # every 2 mugs make a bundle (up to 10); per bundle the cheapest mug is free
    bogo = tier(promotion_campaign(), "BOGO mugs", {"type": "PERCENT", "percent_off": 100},
                bundle={"items": [{"object": "product", "id": "mug", "quantity": 2}], "limit": 10},
                applicable_to=[{"object": "product", "id": "mug", "effect": "APPLY_FROM_CHEAPEST",
                                "aggregated_quantity_limit": 1}])
    five = validate(api, [bogo], cart(line("mug", 5, 1000), line("tea", 1, 700)))  # 2 bundles: 2 mugs free
    assert five["order"]["items_discount_amount"] == 2000 and five["order"]["total_amount"] == 3700
    assert five["redeemables"][0]["result"]["bundle"]["quantity"] == 2
    one = validate(api, [bogo], cart(line("mug", 1, 1000)), expect_valid=False)
    error = one["redeemables"][0]["result"]["error"]
    assert error["key"] == "order_rules_violated" and "missing 1 x product mug" in error["details"]


def test_buy_two_shirts_get_a_cap_free(api):
    products(cap=1200)
    deal = tier(promotion_campaign(), "2 shirts + cap", {"type": "UNIT", "unit_off": 1, "unit_type": "cap",
                                                         "effect": "ADD_MISSING_ITEMS"},
                bundle={"items": [{"object": "product", "id": "shirt", "quantity": 2}], "limit": 3})
    without_cap = validate(api, [deal], cart(line("shirt", 2, 2500)))  # the cap is added, free
    order = without_cap["order"]
    assert order["amount"] == 6200 and order["total_amount"] == 5000 and order["items"][1]["quantity"] == 1
    four_shirts = validate(api, [deal], cart(line("shirt", 4, 2500), line("cap", 1, 1200)))  # 2 bundles, 2 caps
    assert four_shirts["order"]["items"][1]["quantity"] == 2
    assert four_shirts["order"]["total_amount"] == 10000


def test_cheapest_item_of_three_free(api):
    shoes = products(boots=9000, sneakers=6000, sandals=3000, belt=2000)
    footwear = collection("Footwear", [shoes["boots"], shoes["sneakers"], shoes["sandals"]])
    deal = tier(promotion_campaign(), "3 for 2 shoes", {"type": "PERCENT", "percent_off": 100},
                bundle={"items": [{"object": "products_collection", "id": footwear.public_id, "quantity": 3}]},
                applicable_to=[{"object": "products_collection", "id": footwear.public_id,
                                "effect": "APPLY_FROM_CHEAPEST", "aggregated_quantity_limit": 1}])
    order = cart(line("boots", 1, 9000), line("sneakers", 1, 6000), line("sandals", 1, 3000), line("belt", 1, 2000))
    result = validate(api, [deal], order)
    assert result["order"]["items"][2]["discount_amount"] == 3000 and result["order"]["total_amount"] == 17000
    validate(api, [deal], cart(line("boots", 1, 9000), line("belt", 3, 2000)), expect_valid=False)


# ---------------------------------------------------------------- free samples and free shipping

def test_free_sample_added_over_50(api):
    from tests.promo.promotion_helpers import rule

    products(sample=400)
    sample = tier(promotion_campaign(), "free sample", {"type": "UNIT", "unit_off": 1, "unit_type": "sample",
                                                        "effect": "ADD_MISSING_ITEMS"})
    rule(sample, [{"name": "order.amount", "conditions": {"$more_than_or_equal": [5000]}}])
    result = validate(api, [sample], cart(line("cream", 2, 2500)))
    items = result["order"]["items"]
    assert items[1]["product_id"].startswith("prod_") and items[1]["quantity"] == 1 and items[1]["price"] == 400
    assert items[1]["discount_amount"] == 400 and result["order"]["total_amount"] == 5000
    validate(api, [sample], cart(line("cream", 1, 2500)), expect_valid=False)


def test_free_shipping_over_100(api):
    ship = tier(promotion_campaign(), "free shipping over 100", {"type": "UNIT", "unit_off": 1,
                                                                  "unit_type": "prod_5h1pp1ng",
                                                                  "effect": "ADD_MISSING_ITEMS"},
                rules=[{"name": "order.amount", "conditions": {"$more_than_or_equal": [10000]}}])
    result = validate(api, [ship], cart(line("desk", 1, 12000), SHIPPING))
    assert result["order"]["items"][1]["product_id"] == "prod_5h1pp1ng"
    assert result["order"]["items_discount_amount"] == 1500 and result["order"]["total_amount"] == 12000
    validate(api, [ship], cart(line("lamp", 1, 3000), SHIPPING), expect_valid=False)
    redeemed = api.post("/v1/redemptions", {"redeemables": [{"object": "promotion_tier", "id": ship.public_id}],
                                            "order": cart(line("desk", 1, 12000), SHIPPING)})
    assert redeemed.status_code == 200 and redeemed.json()["order"]["total_amount"] == 12000


# ---------------------------------------------------------------- bundles

def test_bundle_at_a_fixed_price(api):
    # camera + lens for 50.00 a set, up to 2 sets
    kit = tier(promotion_campaign(), "kit price", {"type": "FIXED", "fixed_amount": 5000},
               bundle={"items": [{"object": "product", "id": "camera", "quantity": 1},
                                 {"object": "product", "id": "lens", "quantity": 1}], "limit": 2})
    one_set = validate(api, [kit], cart(line("camera", 2, 4000), line("lens", 1, 2000)))
    # one set: 4000 + 2000 = 6000 for 5000: 1000 off, split 667 / 333 by value; the second camera pays full price
    assert [i["discount_amount"] for i in one_set["order"]["items"]] == [667, 333]
    assert one_set["order"]["total_amount"] == 9000
    bundle = one_set["redeemables"][0]["result"]["bundle"]
    assert bundle["quantity"] == 1 and bundle["limit"] == 2
    assert [(b["item_index"], b["item_quantity"]) for b in bundle["identified"]] == [(0, 1), (1, 1)]
    two_sets = validate(api, [kit], cart(line("camera", 2, 4000), line("lens", 3, 2000)))
    assert two_sets["order"]["total_discount_amount"] == 2000 and two_sets["order"]["total_amount"] == 12000


def test_bundle_with_a_percent_discount(api):
    pair = tier(promotion_campaign(), "console + game 20%", {"type": "PERCENT", "percent_off": 20},
                bundle={"items": [{"object": "product", "id": "console", "quantity": 1},
                                  {"object": "product", "id": "game", "quantity": 1}]})
    result = validate(api, [pair], cart(line("console", 1, 30000), line("game", 2, 6000)))
    # one bundle: 20% of 30000 + 20% of one game (6000) = 6000 + 1200
    assert result["order"]["items_discount_amount"] == 7200 and result["order"]["total_amount"] == 34800
    missing = validate(api, [pair], cart(line("console", 1, 30000)), expect_valid=False)
    assert "missing 1 x product game" in missing["redeemables"][0]["result"]["error"]["details"]


# ---------------------------------------------------------------- volume discounts

def test_spend_y_save_x(api):
    spend = tier(promotion_campaign(), "spend 100 save 15", {"type": "AMOUNT", "amount_off": 1500},
                 rules=[{"name": "order.amount", "conditions": {"$more_than_or_equal": [10000]}}])
    assert validate(api, [spend], cart(line("a", 4, 2500)))["order"]["total_amount"] == 8500
    validate(api, [spend], cart(line("a", 3, 2500)), expect_valid=False)


def test_percent_off_selected_products(api):
    kitchen = products(pan=4000, pot=6000, towel=1000)
    selected = collection("Kitchen", [kitchen["pan"], kitchen["pot"]])
    pct = tier(promotion_campaign(), "15% off kitchen", {"type": "PERCENT", "percent_off": 15,
                                                          "effect": "APPLY_TO_ITEMS"},
               applicable_to=[{"object": "products_collection", "id": selected.public_id}])
    result = validate(api, [pct], cart(line("pan", 1, 4000), line("pot", 1, 6000), line("towel", 2, 1000)))
    assert [i["discount_amount"] for i in result["order"]["items"]] == [600, 900, 0]


def test_tiered_by_quantity(api, settings):
    # one category, one redeemable per category, highest tier first (tier hierarchy 1 before 2)
    volume = CategoryFactory(name="Volume", hierarchy=1)
    settings.STACKING_RULES = {"redeemables_application_mode": "PARTIAL",
                               "redeemables_sorting_rule": "CATEGORY_HIERARCHY"}
    campaign = promotion_campaign(category=volume)
    five = tier(campaign, "5+ items: 15%", {"type": "PERCENT", "percent_off": 15}, hierarchy=1,
                rules=[{"name": "order.items.count", "conditions": {"$more_than_or_equal": [5]}}])
    three = tier(campaign, "3+ items: 10%", {"type": "PERCENT", "percent_off": 10}, hierarchy=2,
                 rules=[{"name": "order.items.count", "conditions": {"$more_than_or_equal": [3]}}])
    six = validate(api, [three, five], cart(line("book", 6, 1000)))  # sent in any order: 15% wins
    assert six["order"]["total_discount_amount"] == 900
    assert {r["id"]: r["status"] for r in six["redeemables"]} == {five.public_id: "APPLICABLE",
                                                                 three.public_id: "SKIPPED"}
    four = validate(api, [three, five], cart(line("book", 4, 1000)))
    assert four["order"]["total_discount_amount"] == 400
    assert qualified(api, cart(line("book", 6, 1000)), sorting_rule="BEST_DEAL") == [five.public_id, three.public_id]


# ---------------------------------------------------------------- personalisation through rules

def test_personalised_by_location_average_spend_and_loyalty_tier(api):
    Customer.objects.create(source_id="warsaw-gold", address_city="Warsaw", address_country="PL",
                            metadata={"loyalty_tier": "gold"}, orders_total_count=4, orders_total_amount=60000)
    Customer.objects.create(source_id="berlin-new", address_city="Berlin", address_country="DE")
    campaign = promotion_campaign()
    local = tier(campaign, "Warsaw stores", {"type": "AMOUNT", "amount_off": 500},
                 rules=[{"name": "customer.address.city", "conditions": {"$is": ["Warsaw"]}}])
    big_basket = tier(campaign, "avg spend 100+", {"type": "PERCENT", "percent_off": 5},
                      rules=[{"name": "customer.orders.average_amount",
                              "conditions": {"$more_than_or_equal": [10000]}}])
    gold = tier(campaign, "gold and platinum", {"type": "PERCENT", "percent_off": 10},
                rules=[{"name": "customer.metadata", "property": "loyalty_tier",
                        "conditions": {"$in": ["gold", "platinum"]}}])
    newcomer = tier(campaign, "first order", {"type": "AMOUNT", "amount_off": 1000},
                    rules=[{"name": "customer.orders.count", "conditions": {"$is": [0]}}])
    order = cart(line("coat", 1, 20000))
    assert set(qualified(api, order, {"source_id": "warsaw-gold"})) == {local.public_id, big_basket.public_id,
                                                                        gold.public_id}
    assert qualified(api, order, {"source_id": "berlin-new"}) == [newcomer.public_id]
    # a location sent with the request counts too
    assert local.public_id in qualified(api, order, {"address": {"city": "Warsaw"}})
    refused = validate(api, [gold], order, {"source_id": "berlin-new"}, expect_valid=False)
    assert refused["redeemables"][0]["result"]["error"]["key"] == "customer_rules_violated"


def test_personalised_by_segment(api):
    from segments import services as segment_services

    Customer.objects.create(source_id="vip-1", metadata={"vip": True})
    segment = segment_services.segment_create({"name": "VIPs", "type": "static", "customers": ["vip-1"]})
    vip = tier(promotion_campaign(), "VIP segment", {"type": "AMOUNT", "amount_off": 800},
               rules=[{"name": "customer.segment", "conditions": {"$in": [segment.public_id]}}])
    order = cart(line("coat", 1, 20000))
    assert qualified(api, order, {"source_id": "vip-1"}) == [vip.public_id]
    assert qualified(api, order, {"source_id": "someone-else"}) == []

"""POST /v1/qualifications: scenarios, sorting, cursor pagination, filters, request errors, conformance
with the spec, and a fixed number of queries whatever the number of tiers."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer
from promo.models import PromotionTier, Voucher
from tests.conftest import assert_error
from tests.promo.factories import CategoryFactory, VoucherFactory
from tests.promo.promotion_helpers import cart, line, promotion_campaign, rule, stack, tier
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

CART = cart(line("shirt", 2, 2500), line("socks", 1, 500))  # 5500


def qualify(api, **body) -> dict:
    body.setdefault("order", CART)
    return assert_matches_spec(api.post("/v1/qualifications", body), "/v1/qualifications", "post")


def ids(body) -> list[str]:
    return [d["id"] for d in body["redeemables"]["data"]]


@pytest.fixture
def promos():
    """Five tiers created one after another (created_at order a < b < ... ), one stack, one wallet code."""
    campaign = promotion_campaign()
    ann = Customer.objects.create(source_id="ann", address_country="PL", metadata={"loyalty_tier": "gold"})
    made = {
        "ten": tier(campaign, "10 off", {"type": "AMOUNT", "amount_off": 1000}),
        "pct": tier(campaign, "20% off", {"type": "PERCENT", "percent_off": 20}),  # 1100
        "socks": tier(campaign, "socks half price", {"type": "PERCENT", "percent_off": 50, "effect": "APPLY_TO_ITEMS"},
                      applicable_to=[{"object": "product", "id": "socks"}]),  # 250
        "big": tier(campaign, "big spender", {"type": "AMOUNT", "amount_off": 5000},
                    rules=[{"name": "order.amount", "conditions": {"$more_than": [100000]}}]),
        "gold": tier(campaign, "gold members", {"type": "AMOUNT", "amount_off": 700},
                     rules=[{"name": "customer.metadata", "property": "loyalty_tier",
                             "conditions": {"$is": ["gold"]}}]),
    }
    base = timezone.now() - timedelta(hours=1)
    for index, found in enumerate(made.values()):  # distinct, ordered created_at
        PromotionTier.objects.filter(pk=found.pk).update(created_at=base + timedelta(minutes=index))
    made["stack"] = stack(campaign, "ten and socks", [made["ten"], made["socks"]])
    made["code"] = VoucherFactory(code="ANN-5", holder=ann, discount={"type": "AMOUNT", "amount_off": 500})
    Voucher.objects.filter(pk=made["code"].pk).update(created_at=base - timedelta(days=1))
    made["other_code"] = VoucherFactory(code="NOT-ANNS", discount={"type": "AMOUNT", "amount_off": 500})
    return {k: (v.code if isinstance(v, Voucher) else v.public_id) for k, v in made.items()}


def test_all_lists_tiers_stacks_and_wallet_newest_first(api, promos):
    body = qualify(api, customer={"source_id": "ann"}, options={"limit": 50})
    assert ids(body) == [promos["stack"], promos["gold"], promos["socks"], promos["pct"], promos["ten"],
                         promos["code"]]
    stacked = body["redeemables"]["data"][0]
    assert stacked["object"] == "promotion_stack"
    assert [r["id"] for r in stacked["redeemables"]] == [promos["ten"], promos["socks"]]
    assert stacked["order"]["total_applied_discount_amount"] == 1250
    assert body["order"]["amount"] == 5500 and body["order"]["total_discount_amount"] == 0
    assert "stacking_rules" in body and body["redeemables"]["has_more"] is False
    pct = next(d for d in body["redeemables"]["data"] if d["id"] == promos["pct"])
    assert pct["order"]["total_applied_discount_amount"] == 1100 and pct["result"]["discount"]["percent_off"] == 20
    assert pct["name"] == "20% off" and pct["campaign_name"] == "Promotions"


def test_anonymous_customer_gets_no_personal_offers(api, promos):
    assert promos["gold"] not in ids(qualify(api, options={"limit": 50}))
    assert promos["gold"] not in ids(qualify(api, customer={"source_id": "bob"}, options={"limit": 50}))


def test_best_and_least_deal(api, promos):
    best = qualify(api, customer={"source_id": "ann"}, options={"limit": 3, "sorting_rule": "BEST_DEAL"})
    assert ids(best) == [promos["stack"], promos["pct"], promos["ten"]]  # 1250, 1100, 1000
    least = qualify(api, customer={"source_id": "ann"}, options={"limit": 2, "sorting_rule": "LEAST_DEAL"})
    assert ids(least) == [promos["socks"], promos["code"]]  # 250, 500


def test_pages_follow_the_cursor(api, promos):
    seen, cursor = [], None
    for _ in range(5):
        options = {"limit": 2, **({"starting_after": cursor} if cursor else {})}
        page = qualify(api, customer={"source_id": "ann"}, options=options)
        seen += ids(page)
        if not page["redeemables"]["has_more"]:
            assert "more_starting_after" not in page["redeemables"]
            break
        cursor = page["redeemables"]["more_starting_after"]
        assert cursor == page["redeemables"]["data"][-1]["created_at"]
    assert len(seen) == 6 and len(set(seen)) == 6
    best_pages = []
    cursor = None
    for _ in range(4):
        options = {"limit": 4, "sorting_rule": "BEST_DEAL", **({"starting_after": cursor} if cursor else {})}
        page = qualify(api, customer={"source_id": "ann"}, options=options)
        best_pages += ids(page)
        cursor = page["redeemables"].get("more_starting_after")
        if not cursor:
            break
    assert best_pages[:3] == [promos["stack"], promos["pct"], promos["ten"]] and len(set(best_pages)) == 6


def test_customer_wallet(api, promos):
    assert ids(qualify(api, scenario="CUSTOMER_WALLET", customer={"source_id": "ann"})) == [promos["code"]]
    assert ids(qualify(api, scenario="CUSTOMER_WALLET", customer={"source_id": "bob"})) == []


def test_audience_only_ignores_order_rules(api, promos):
    body = qualify(api, scenario="AUDIENCE_ONLY", customer={"source_id": "ann"}, options={"limit": 50})
    assert promos["big"] in ids(body) and promos["gold"] in ids(body)
    no_cart = qualify(api, scenario="AUDIENCE_ONLY", customer={"source_id": "ann"}, order=None,
                      options={"limit": 50})
    socks = next(d for d in no_cart["redeemables"]["data"] if d["id"] == promos["socks"])
    assert "order" not in socks and socks["result"]["discount"]["percent_off"] == 50  # worth unknown without a cart


def test_products_scenarios(api, promos):
    products = qualify(api, scenario="PRODUCTS", options={"limit": 50})
    assert ids(products) == [promos["socks"]]
    discounted = qualify(api, scenario="PRODUCTS_DISCOUNT", options={"limit": 50})
    item = discounted["redeemables"]["data"][0]
    assert item["order"]["items"][1]["applied_discount_amount"] == 250
    assert ids(qualify(api, scenario="PRODUCTS", order=cart(line("shirt", 1, 2500)))) == []
    assert ids(qualify(api, scenario="PRODUCTS_BY_CUSTOMER", customer={"source_id": "ann"})) == [promos["socks"]]


def test_customer_rules_ignored_only_without_by_customer(api):
    campaign = promotion_campaign()
    polish = tier(campaign, "PL socks", {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ITEMS"},
                  rules=[{"name": "customer.address.country", "conditions": {"$is": ["PL"]}}],
                  applicable_to=[{"object": "product", "id": "socks"}])
    assert ids(qualify(api, scenario="PRODUCTS_DISCOUNT")) == [polish.public_id]
    assert ids(qualify(api, scenario="PRODUCTS_DISCOUNT_BY_CUSTOMER", customer={"address": {"country": "DE"}})) == []
    assert ids(qualify(api, scenario="PRODUCTS_DISCOUNT_BY_CUSTOMER",
                       customer={"address": {"country": "PL"}})) == [polish.public_id]


def test_promotion_stacks_scenario(api, promos):
    body = qualify(api, scenario="PROMOTION_STACKS")
    assert ids(body) == [promos["stack"]]
    # a stack whose tier does not qualify is not offered
    PromotionTier.objects.filter(public_id=promos["socks"]).update(active=False)
    assert ids(qualify(api, scenario="PROMOTION_STACKS")) == []


def test_filters(api, promos):
    only_tiers = qualify(api, customer={"source_id": "ann"}, options={"limit": 50, "filters": {
        "resource_type": {"conditions": {"$in": ["voucher", "promotion_stack"]}}}})
    assert ids(only_tiers) == [promos["stack"], promos["code"]]
    either = qualify(api, customer={"source_id": "ann"}, options={"limit": 50, "filters": {
        "junction": "or", "resource_id": {"conditions": {"$is": [promos["ten"]]}},
        "code": {"conditions": {"$has_value": True}}}})
    assert ids(either) == [promos["ten"], promos["code"]]


def test_categories_show_their_stacking_type(api, settings):
    exclusive = CategoryFactory(name="VIP")
    settings.STACKING_RULES = {"exclusive_categories": [exclusive.public_id]}
    tier(promotion_campaign(category=exclusive), "vip", {"type": "AMOUNT", "amount_off": 100})
    item = qualify(api)["redeemables"]["data"][0]
    assert item["categories"][0]["id"] == exclusive.public_id
    assert item["categories"][0]["stacking_rules_type"] == "EXCLUSIVE"


def test_disabled_future_and_deleted_campaigns_are_not_offered(api):
    live = tier(promotion_campaign("live"), "live", {"type": "AMOUNT", "amount_off": 100})
    tier(promotion_campaign("off", active=False), "off", {"type": "AMOUNT", "amount_off": 100})
    tier(promotion_campaign("future", start_date=timezone.now() + timedelta(days=1)), "f",
         {"type": "AMOUNT", "amount_off": 100})
    tier(promotion_campaign("gone", deleted_at=timezone.now()), "g", {"type": "AMOUNT", "amount_off": 100})
    tier(promotion_campaign("tier off"), "t", {"type": "AMOUNT", "amount_off": 100}, active=False)
    assert ids(qualify(api, options={"limit": 50})) == [live.public_id]


@pytest.mark.parametrize("body, where", [
    ({"scenario": "EVERYTHING"}, "scenario"),
    ({"options": {"limit": 51}}, "options.limit"),
    ({"options": {"limit": "5"}}, "options.limit"),
    ({"options": {"sorting_rule": "CHEAPEST"}}, "options.sorting_rule"),
    ({"options": {"starting_after": "yesterday"}}, "options.starting_after"),
    ({"options": {"filters": {"colour": {"conditions": {"$is": ["red"]}}}}}, "options.filters.colour"),
    ({"options": {"filters": {"code": {"conditions": {"$like": ["A"]}}}}}, "options.filters.code"),
    ({"order": {"items": [{"quantity": 1.5}]}}, "order.items[0].quantity"),
    ({"customer": "ann"}, "customer"),
])
def test_request_errors(api, body, where):
    assert where in assert_error(api.post("/v1/qualifications", body), 400, "invalid_payload")["details"]


def test_query_count_does_not_grow_with_tiers(api):
    campaign = promotion_campaign()
    Customer.objects.create(source_id="ann")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.post("/v1/qualifications", {"order": CART, "customer": {"source_id": "ann"}}).status_code == 200
        return len(captured.captured_queries)

    for index in range(3):
        rule(tier(campaign, f"t{index}", {"type": "AMOUNT", "amount_off": 100}),
             [{"name": "order.amount", "conditions": {"$more_than": [index]}}])
    queries()  # warm: the API key and per-process caches
    few = queries()
    for index in range(3, 40):
        rule(tier(campaign, f"t{index}", {"type": "AMOUNT", "amount_off": 100}),
             [{"name": "order.amount", "conditions": {"$more_than": [index]}}])
    assert queries() == few


def test_products_counts_items_required_by_rules(api):
    campaign = promotion_campaign()
    with_socks = tier(campaign, "5 off with socks", {"type": "AMOUNT", "amount_off": 500},
                      rules=[{"name": "order.items.any",
                              "conditions": {"$is": [{"object": "product", "id": "socks"}]}}])
    assert ids(qualify(api, scenario="PRODUCTS")) == [with_socks.public_id]
    assert ids(qualify(api, scenario="PRODUCTS_DISCOUNT")) == []  # an order-level discount
    assert ids(qualify(api, scenario="PRODUCTS", order=cart(line("shirt", 1, 2500)))) == []


def test_cached_definitions_are_checked_against_the_database_and_kept_while_unchanged(api, settings):
    """Every QUALIFICATIONS_CACHE_SECONDS one query tells whether anything they come from changed outside
    promo.promotions; unchanged, the loaded tiers (with their compiled rules and bounds) are kept."""
    import time

    from promo import qualifications

    settings.QUALIFICATIONS_CACHE_SECONDS = 300
    campaign = promotion_campaign()
    first = tier(campaign, "first", {"type": "AMOUNT", "amount_off": 100})
    soon = tier(campaign, "soon", {"type": "AMOUNT", "amount_off": 500},
                start_date=timezone.now() + timedelta(seconds=1))
    assert ids(qualify(api)) == [first.public_id]  # loaded, but not started yet
    loaded = qualifications._cached[connection.alias]

    def expire():
        qualifications._cached[connection.alias].loaded -= 301

    expire()
    with CaptureQueriesContext(connection) as captured:
        qualify(api, order=cart(line("shirt", 3, 2500)))  # another cart: not from the result cache
    assert qualifications._cached[connection.alias] is loaded  # nothing changed: kept
    assert sum("COUNT(*)" in q["sql"] for q in captured.captured_queries) == 1
    time.sleep(max(0.0, (soon.start_date - timezone.now()).total_seconds()) + 0.05)
    started = qualify(api, order=cart(line("shirt", 6, 2500)))
    assert ids(started) == [soon.public_id, first.public_id]  # started: no reload needed
    assert qualifications._cached[connection.alias] is loaded
    edited = PromotionTier.objects.get(pk=first.pk)
    edited.name = "renamed"
    edited.save()  # straight to the database: the generation does not move
    assert qualifications._cached[connection.alias] is loaded
    expire()
    qualify(api, order=cart(line("shirt", 4, 2500)))
    reloaded = qualifications._cached[connection.alias]
    assert reloaded is not loaded and {t.name for t in reloaded.tiers} == {"renamed", "soon"}
    PromotionTier.objects.filter(pk=soon.pk).delete()
    expire()
    assert ids(qualify(api, order=cart(line("shirt", 5, 2500)))) == [first.public_id]  # a deletion changes the count


def test_cached_definitions_refresh_on_tier_writes(api, settings, django_capture_on_commit_callbacks):
    settings.QUALIFICATIONS_CACHE_SECONDS = 300
    campaign = promotion_campaign()
    first = tier(campaign, "first", {"type": "AMOUNT", "amount_off": 100})
    assert ids(qualify(api)) == [first.public_id]
    second = tier(campaign, "second", {"type": "AMOUNT", "amount_off": 200})  # straight to the database
    assert ids(qualify(api)) == [first.public_id]  # served from the cache
    with django_capture_on_commit_callbacks(execute=True):
        added = api.post(f"/v1/promotions/{campaign.public_id}/tiers", {
            "name": "third", "action": {"discount": {"type": "AMOUNT", "amount_off": 300}}}).json()
    assert set(ids(qualify(api, options={"limit": 50}))) == {first.public_id, second.public_id, added["id"]}
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/v1/promotions/tiers/{first.public_id}/disable")
    assert first.public_id not in ids(qualify(api, options={"limit": 50}))


def test_a_key_limited_to_categories_sees_only_their_tiers_stacks_and_codes(api):
    from core import services
    from tests.conftest import JsonClient

    food, toys = CategoryFactory(name="food"), CategoryFactory(name="toys")
    ann = Customer.objects.create(source_id="ann")
    in_food = promotion_campaign("Food", category=food)
    in_toys = promotion_campaign("Toys", category=toys)
    soup = tier(in_food, "soup", {"type": "AMOUNT", "amount_off": 100})
    lego = tier(in_toys, "lego", {"type": "AMOUNT", "amount_off": 200})
    pair = stack(in_toys, "toys pair", [lego, tier(in_toys, "dolls", {"type": "AMOUNT", "amount_off": 50})])
    code = VoucherFactory(code="FOOD-ANN", holder=ann, discount={"type": "AMOUNT", "amount_off": 70})
    code.campaign.category = food
    code.campaign.save()
    everything = set(ids(qualify(api, customer={"source_id": "ann"}, options={"limit": 50})))
    assert {soup.public_id, lego.public_id, pair.public_id, "FOOD-ANN"} <= everything
    issued = services.api_key_create(name="food only", categories=[food])
    food_only = JsonClient({"X-App-Id": issued.app_id, "X-App-Token": issued.app_token})
    seen = set(ids(qualify(food_only, customer={"source_id": "ann"}, options={"limit": 50})))
    assert seen == {soup.public_id, "FOOD-ANN"}

"""Qualifications' shortcuts change no answer: DEFAULT pages judged newest first only as far as needed, and
the short-lived result cache (QUALIFICATIONS_CACHE_SECONDS) keyed by request, caller, customer row and
definitions."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer
from promo.models import PromotionStack, PromotionTier, Voucher
from tests.promo.factories import VoucherFactory
from tests.promo.promotion_helpers import cart, line, promotion_campaign, stack, tier

pytestmark = pytest.mark.django_db

CART = cart(line("shirt", 2, 2500), line("socks", 1, 500))  # 5500


def qualify(api, **body) -> dict:
    body.setdefault("order", CART)
    body.setdefault("customer", {"source_id": "ann"})
    response = api.post("/v1/qualifications", body)
    assert response.status_code == 200, response.content
    return response.json()


def ids(body) -> list[str]:
    return [d["id"] for d in body["redeemables"]["data"]]


@pytest.fixture
def many():
    """14 tiers (some failing their rules, some giving this cart nothing), 2 stacks and 2 wallet codes, with
    distinct created_at, interleaved."""
    campaign = promotion_campaign()
    ann = Customer.objects.create(source_id="ann", address_country="PL", metadata={"loyalty_tier": "gold"})
    made = []
    for index in range(14):
        if index % 4 == 1:
            made.append(tier(campaign, f"t{index} fails", {"type": "AMOUNT", "amount_off": 100 + index},
                             rules=[{"name": "order.amount", "conditions": {"$more_than": [100000]}}]))
        elif index % 4 == 2:
            made.append(tier(campaign, f"t{index} nothing", {"type": "PERCENT", "percent_off": 10,
                                                              "effect": "APPLY_TO_ITEMS"},
                             applicable_to=[{"object": "product", "id": "hats"}]))
        else:
            made.append(tier(campaign, f"t{index}", {"type": "AMOUNT", "amount_off": 100 * (index % 5 + 1)},
                             rules=[{"name": "customer.address.country", "conditions": {"$in": ["PL"]}}]))
    made.append(stack(campaign, "s1", [made[0], made[3]]))
    made.append(stack(campaign, "s2", [made[0], made[1]]))  # t1 fails: the stack does not qualify
    made.append(VoucherFactory(code="ANN-1", holder=ann, discount={"type": "AMOUNT", "amount_off": 250}))
    made.append(VoucherFactory(code="ANN-2", holder=ann, discount={"type": "AMOUNT", "amount_off": 50}))
    base = timezone.now() - timedelta(hours=2)
    for index, obj in enumerate(made):
        type(obj).objects.filter(pk=obj.pk).update(created_at=base + timedelta(minutes=(index * 7) % 19))
    return made


def test_default_pages_are_the_full_list_in_order(api, many):
    full = qualify(api, options={"limit": 50})
    assert full["redeemables"]["has_more"] is False
    everything = ids(full)
    assert set(everything) == set(ids(qualify(api, options={"limit": 50, "sorting_rule": "BEST_DEAL"})))
    created = {**{t.public_id: t.created_at for t in PromotionTier.objects.all()},
               **{s.public_id: s.created_at for s in PromotionStack.objects.all()},
               **{v.code: v.created_at for v in Voucher.objects.all()}}
    assert everything == sorted(everything, key=lambda i: (created[i], i), reverse=True)
    assert len(everything) == 14 - 7 + 1 + 2  # 7 tiers fail or give nothing; one stack; two codes
    for limit in (1, 3, 4):
        pages, cursor = [], None
        while True:
            options = {"limit": limit, **({"starting_after": cursor} if cursor else {})}
            body = qualify(api, options=options)
            pages += ids(body)
            assert body["redeemables"]["has_more"] is (len(pages) < len(everything))
            if not body["redeemables"]["has_more"]:
                break
            cursor = body["redeemables"]["more_starting_after"]
        assert pages == everything


def test_default_pages_with_filters(api, many):
    everything = ids(qualify(api, options={"limit": 50}))
    tiers = [i for i in everything if i.startswith("promo_")]
    body = qualify(api, options={"limit": 2, "filters": {"resource_type": {"conditions": {"$in": ["promotion_tier"]}}}})
    assert ids(body) == tiers[:2]
    assert body["redeemables"]["has_more"] is True


def test_result_cache_answers_the_same_request_until_something_it_depends_on_changes(api, many, settings):
    settings.QUALIFICATIONS_CACHE_SECONDS = 300
    first = qualify(api, options={"limit": 50})
    PromotionTier.objects.filter(pk=many[0].pk).update(active=False)  # straight to the database: no refresh
    with CaptureQueriesContext(connection) as captured:
        again = qualify(api, options={"limit": 50})
    assert again == first
    assert len(captured.captured_queries) <= 2  # the API key's row (read on every request) and the customer's
    # Another cart, other options, another customer row: evaluated (the tiers as cached: t0 still there).
    bigger = qualify(api, options={"limit": 50}, order=cart(line("shirt", 3, 2500), line("socks", 1, 500)))
    assert bigger["order"]["amount"] == 8000
    assert many[0].public_id in ids(bigger)  # the tiers themselves are cached as long (no write went through the API)
    assert ids(qualify(api, options={"limit": 2})) == ids(first)[:2]
    ann = Customer.objects.get(source_id="ann")
    ann.address_country = "FR"
    ann.save()
    assert many[0].public_id not in ids(qualify(api, options={"limit": 50}))  # the country rule fails now


def test_no_result_cache_when_the_cache_is_off(api, many, settings):
    settings.QUALIFICATIONS_CACHE_SECONDS = 0
    first = qualify(api, options={"limit": 50})
    PromotionTier.objects.filter(pk=many[0].pk).update(active=False)
    assert many[0].public_id in ids(first)
    assert many[0].public_id not in ids(qualify(api, options={"limit": 50}))


def test_best_deal_pages_judge_fewer_and_answer_the_same(api, many, monkeypatch):
    from promo import qualifications

    judged = []
    single = qualifications._single
    monkeypatch.setattr(qualifications, "_single", lambda *args: judged.append(args[3]) or single(*args))
    searched = {}
    for limit in (1, 2, 3, 5):
        judged.clear()
        searched[limit] = qualify(api, options={"limit": limit, "sorting_rule": "BEST_DEAL"})
        assert len(judged) < 14 + 2  # not every tier and code
    monkeypatch.setattr(qualifications, "_best_deals", lambda candidates, options: qualifications._page(
        qualifications._sort([q for q in (c.evaluate() for c in candidates) if q is not None], "BEST_DEAL"),
        options))
    for limit, body in searched.items():
        judged.clear()
        everything = qualify(api, options={"limit": limit, "sorting_rule": "BEST_DEAL"})
        assert len(judged) == 14 + 2
        assert ids(body) == ids(everything) and body["redeemables"]["has_more"] == everything["redeemables"]["has_more"]
        assert body["redeemables"]["data"] == everything["redeemables"]["data"]


def test_best_deal_pages_with_bundles_judge_fewer_and_answer_the_same(api, monkeypatch):
    """Bundle prices and per-bundle amounts are bounded by the bundles the cart can hold (promo.bundles.most_worth)."""
    from promo import qualifications

    campaign = promotion_campaign()
    Customer.objects.create(source_id="ann")
    order = cart(line("shirt", 3, 2500), line("socks", 2, 500), line("hat", 1, 1200))
    pair = {"items": [{"object": "product", "id": "shirt", "quantity": 1},
                      {"object": "product", "id": "socks", "quantity": 1}]}
    made = [
        tier(campaign, "pair at 2000", {"type": "FIXED", "fixed_amount": 2000}, bundle=pair),  # 1000 off
        tier(campaign, "two pairs at 2200", {"type": "FIXED", "fixed_amount": 2200}, bundle={**pair, "limit": 2}),
        tier(campaign, "300 per pair", {"type": "AMOUNT", "amount_off": 300}, bundle={**pair, "limit": 3}),
        tier(campaign, "hat pair", {"type": "FIXED", "fixed_amount": 100},  # no complete bundle
             bundle={"items": [{"object": "product", "id": "hat", "quantity": 2}]}),
        tier(campaign, "800 off", {"type": "AMOUNT", "amount_off": 800}),
        tier(campaign, "5%", {"type": "PERCENT", "percent_off": 5}),
    ]
    judged = []
    single = qualifications._single
    monkeypatch.setattr(qualifications, "_single", lambda *args: judged.append(args[3]) or single(*args))
    searched = {}
    for limit in (1, 2, 3):
        judged.clear()
        searched[limit] = qualify(api, order=order, options={"limit": limit, "sorting_rule": "BEST_DEAL"})
        assert len(judged) < len(made)
    # 1600 (two pairs: 6000 for 4400), 1000 (a pair: 3000 for 2000), 800, then 600 (two pairs at 300 each)
    assert [(d["id"], d["order"]["total_applied_discount_amount"]) for d in searched[3]["redeemables"]["data"]] == [
        (made[1].public_id, 1600), (made[0].public_id, 1000), (made[4].public_id, 800)]
    monkeypatch.setattr(qualifications, "_best_deals", lambda candidates, options: qualifications._page(
        qualifications._sort([q for q in (c.evaluate() for c in candidates) if q is not None], "BEST_DEAL"),
        options))
    for limit, body in searched.items():
        everything = qualify(api, order=order, options={"limit": limit, "sorting_rule": "BEST_DEAL"})
        assert body["redeemables"] == everything["redeemables"]


def test_result_cache_keeps_json_within_its_byte_budget(api, many, settings, monkeypatch):
    """Kept answers are the JSON sent (no objects for the garbage collector to walk, nothing to encode again),
    at most RESULTS_BYTES of it, the oldest dropped first; an answer from the cache is the answer as first
    given, byte for byte."""
    from promo import qualifications

    settings.QUALIFICATIONS_CACHE_SECONDS = 300
    first = api.post("/v1/qualifications", {"order": CART, "customer": {"source_id": "ann"}, "options": {"limit": 50}})
    again = api.post("/v1/qualifications", {"order": CART, "customer": {"source_id": "ann"}, "options": {"limit": 50}})
    kept = next(iter(qualifications._results.values()))[1]
    assert again.content == first.content == kept and len(kept) > 1000
    assert again["Content-Type"] == first["Content-Type"] == "application/json"
    monkeypatch.setattr(qualifications, "RESULTS_BYTES", len(kept) * 3)
    for quantity in range(2, 8):
        qualify(api, options={"limit": 50}, order=cart(line("shirt", quantity, 2500)))
    assert qualifications._results_bytes == sum(len(text) for _at, text in qualifications._results.values())
    assert qualifications._results_bytes <= len(kept) * 3 and 1 <= len(qualifications._results) <= 3
    newest = qualify(api, options={"limit": 50}, order=cart(line("shirt", 7, 2500)))
    assert newest["order"]["amount"] == 17500


def test_tiers_share_a_bound_only_with_the_same_discount_and_targets(api, settings):
    from promo import qualifications

    settings.QUALIFICATIONS_CACHE_SECONDS = 300
    campaign = promotion_campaign()
    ten = {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ITEMS"}
    made = [tier(campaign, "10% socks", ten, applicable_to=[{"object": "product", "id": "socks"}]),
            tier(campaign, "10% shirts", ten, applicable_to=[{"object": "product", "id": "shirt"}]),
            tier(campaign, "10% shirts for PL", ten, applicable_to=[{"object": "product", "id": "shirt"}],
                 rules=[{"name": "customer.address.country", "conditions": {"$in": ["PL"]}}])]
    Customer.objects.create(source_id="ann", address_country="PL")
    body = qualify(api, options={"limit": 2, "sorting_rule": "BEST_DEAL"})
    assert ids(body) == [made[2].public_id, made[1].public_id] and body["redeemables"]["has_more"] is True
    plans = {t.public_id: t.__dict__["_bound_plan"] for t in qualifications._cached[connection.alias].tiers}
    assert plans[made[1].public_id] is plans[made[2].public_id] is not plans[made[0].public_id]


def test_products_discount_scenarios_judge_only_item_level_discounts(api, many, monkeypatch):
    from promo import qualifications

    judged = []
    single = qualifications._single
    monkeypatch.setattr(qualifications, "_single", lambda *args: judged.append(args[1]) or single(*args))
    body = qualify(api, scenario="PRODUCTS_DISCOUNT_BY_CUSTOMER", options={"limit": 50})
    assert judged and all(qualifications._item_level(obj) for obj in judged)
    item_level = [t.public_id for t in many[:14] if qualifications._item_level(t)]
    assert set(ids(body)) <= set(item_level)

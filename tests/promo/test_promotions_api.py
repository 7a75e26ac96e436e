"""PROMOTION campaigns through the HTTP API: tiers and stacks CRUD (spec-conformant answers), and tiers and
stacks as redeemables in validations, redemptions and rollbacks (counters taken once, given back once)."""

import pytest

from promo.models import Campaign, PromotionStack, PromotionTier, Redemption
from rules.models import ValidationRuleAssignment
from tests.conftest import assert_error
from tests.promo.promotion_helpers import cart, line, promotion_campaign, rule, stack, tier
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

TEN_OFF = {"type": "AMOUNT", "amount_off": 1000}
CART = cart(line("shirt", 2, 2500), line("socks", 1, 500))  # 5500


def create_campaign(api, **extra) -> dict:
    body = {"name": "Summer sale", "campaign_type": "PROMOTION", "promotion": {"tiers": [
        {"name": "10 off over 50", "banner": "Spend 50, save 10", "action": {"discount": TEN_OFF}},
        {"name": "20% off over 100", "action": {"discount": {"type": "PERCENT", "percent_off": 20}},
         "metadata": {"level": "gold"}, "validity_day_of_week": [1, 2, 3]},
    ]}, **extra}
    response = api.post("/v1/campaigns", body)
    return assert_matches_spec(response, "/v1/campaigns", "post")


def test_create_promotion_campaign_with_tiers(api):
    body = create_campaign(api)
    assert body["campaign_type"] == "PROMOTION" and body["exclusive"] is False
    tiers = body["promotion"]["tiers"]
    assert [t["name"] for t in tiers] == ["10 off over 50", "20% off over 100"]
    assert [t["hierarchy"] for t in tiers] == [1, 2]
    assert tiers[0]["id"].startswith("promo_") and tiers[0]["banner"] == "Spend 50, save 10"
    assert tiers[1]["validity_day_of_week"] == [1, 2, 3] and tiers[1]["metadata"] == {"level": "gold"}
    assert tiers[0]["campaign_id"] == body["id"] and tiers[0]["summary"]["redemptions"]["total_redeemed"] == 0
    assert PromotionTier.objects.filter(campaign__public_id=body["id"]).count() == 2


def test_promotion_campaign_refuses_codes_and_bad_tiers(api):
    response = api.post("/v1/campaigns", {"name": "X", "campaign_type": "PROMOTION", "vouchers_count": 3})
    assert_error(response, 400, "invalid_payload")
    response = api.post("/v1/campaigns", {"name": "Y", "campaign_type": "PROMOTION",
                                          "promotion": {"tiers": [{"name": "no action"}]}})
    assert_error(response, 400, "invalid_payload")
    assert "promotion.tiers[0].action" in response.json()["details"]
    assert not Campaign.objects.filter(name="Y").exists()  # all or nothing


def test_tier_crud(api):
    campaign = create_campaign(api)
    path = f"/v1/promotions/{campaign['id']}/tiers"
    created = assert_matches_spec(api.post(path, {"name": "Free socks", "action": {"discount": {
        "type": "UNIT", "unit_off": 1, "unit_type": "socks", "effect": "ADD_MISSING_ITEMS"}},
        "start_date": "2030-01-01T00:00:00Z"}), "/v1/promotions/{campaignId}/tiers", "post")
    assert created["hierarchy"] == 3 and created["start_date"] == "2030-01-01T00:00:00Z"
    listed = assert_matches_spec(api.get(path), "/v1/promotions/{campaignId}/tiers", "get")
    assert listed["total"] == 3 and [t["id"] for t in listed["tiers"]][-1] == created["id"]
    one = f"/v1/promotions/tiers/{created['id']}"
    assert assert_matches_spec(api.get(one), "/v1/promotions/tiers/{promotionTierId}", "get")["name"] == "Free socks"
    updated = assert_matches_spec(api.put(one, {"name": "Free socks!", "hierarchy": 0, "metadata": {"a": 1}}),
                                  "/v1/promotions/tiers/{promotionTierId}", "put")
    assert (updated["name"], updated["hierarchy"], updated["metadata"]) == ("Free socks!", 0, {"a": 1})
    assert updated["action"]["discount"]["unit_type"] == "socks"  # untouched fields stay
    disabled = assert_matches_spec(api.post(one + "/disable"), "/v1/promotions/tiers/{promotionTierId}/disable",
                                   "post")
    assert disabled["active"] is False
    assert api.post(one + "/enable").json()["active"] is True
    everything = assert_matches_spec(api.get("/v1/promotions/tiers", limit=2), "/v1/promotions/tiers", "get")
    assert everything["total"] == 3 and len(everything["tiers"]) == 2 and everything["has_more"] is True
    assert api.delete(one).status_code == 204
    assert_error(api.get(one), 404, "not_found")


def test_tier_input_errors(api):
    campaign = create_campaign(api)
    path = f"/v1/promotions/{campaign['id']}/tiers"
    assert_error(api.post(path, {"name": "x", "action": {"discount": {"type": "AMOUNT", "amount_off": 10.5}}}), 400,
                 "invalid_payload")
    assert_error(api.post(path, {"name": "x", "action": {"discount": {"type": "PERCENT", "percent_off": 150}}}),
                 400, "invalid_payload")
    assert_error(api.post(path, {"name": "", "action": {"discount": TEN_OFF}}), 400, "invalid_payload")
    assert_error(api.post(path, {"name": "x", "action": {"discount": TEN_OFF}, "validation_rules": ["val_nope"]}),
                 404, "not_found")
    assert_error(api.post("/v1/promotions/camp_missing/tiers", {"name": "x", "action": {"discount": TEN_OFF}}),
                 404, "not_found")
    coupons = api.post("/v1/campaigns", {"name": "Coupons", "voucher": {"discount": TEN_OFF}}).json()
    assert_error(api.post(f"/v1/promotions/{coupons['id']}/tiers", {"name": "x", "action": {"discount": TEN_OFF}}),
                 400, "invalid_campaign_type")
    assert_error(api.put("/v1/promotions/tiers/promo_missing", {"name": "x"}), 404, "not_found")
    assert_error(api.get("/v1/promotions/tiers", order="name"), 400, "invalid_payload")


def test_tier_with_validation_rules(api):
    created = api.post("/v1/validation-rules", {"name": "over 50", "rules": {
        "1": {"name": "order.amount", "conditions": {"$more_than_or_equal": [5000]}}}}).json()
    campaign = create_campaign(api)
    tier_body = api.post(f"/v1/promotions/{campaign['id']}/tiers", {
        "name": "Ruled", "action": {"discount": TEN_OFF}, "validation_rules": [created["id"]]}).json()
    assert tier_body["validation_rule_assignments"]["total"] == 1
    assert tier_body["validation_rule_assignments"]["data"][0]["related_object_type"] == "promotion_tier"
    small = api.post("/v1/validations", {"redeemables": [{"object": "promotion_tier", "id": tier_body["id"]}],
                                         "order": cart(line("socks", 1, 500))}).json()
    assert small["valid"] is False
    assert small["redeemables"][0]["result"]["error"]["key"] == "order_rules_violated"
    big = api.post("/v1/validations", {"redeemables": [{"object": "promotion_tier", "id": tier_body["id"]}],
                                       "order": CART}).json()
    assert big["valid"] is True and big["order"]["total_amount"] == 4500
    api.delete(f"/v1/promotions/tiers/{tier_body['id']}")
    assert not ValidationRuleAssignment.objects.filter(related_object_id=tier_body["id"]).exists()


def test_stack_crud(api):
    campaign = create_campaign(api)
    tier_ids = [t["id"] for t in campaign["promotion"]["tiers"]]
    path = f"/v1/promotions/{campaign['id']}/stacks"
    category = api.post("/v1/categories", {"name": "Seasonal", "hierarchy": 2}).json()
    created = assert_matches_spec(api.post(path, {"name": "Both", "tiers": {"ids": tier_ids[::-1]},
                                                  "category_id": category["id"]}),
                                  "/v1/promotions/{campaignId}/stacks", "post")
    assert created["id"].startswith("stack_") and created["tiers"] == {"ids": tier_ids[::-1],
                                                                       "hierarchy_mode": "MANUAL"}
    assert created["category_id"] == category["id"]
    one = f"{path}/{created['id']}"
    assert assert_matches_spec(api.get(one), "/v1/promotions/{campaignId}/stacks/{stackId}", "get")["name"] == "Both"
    updated = assert_matches_spec(api.put(one, {"name": "Renamed", "tiers": {"ids": tier_ids[:1]}}),
                                  "/v1/promotions/{campaignId}/stacks/{stackId}", "put")
    assert updated["name"] == "Renamed" and updated["tiers"]["ids"] == tier_ids[:1]
    assert assert_matches_spec(api.get(path), "/v1/promotions/{campaignId}/stacks", "get")["total"] == 1
    listed = assert_matches_spec(api.get("/v1/promotions/stacks", order="name"), "/v1/promotions/stacks", "get")
    assert [s["id"] for s in listed["data"]] == [created["id"]]
    assert api.get("/v1/promotions/stacks", **{"created_at[before]": "2000-01-01"}).json()["total"] == 0
    # a tier's deletion takes it out of the stacks that hold it
    api.delete(f"/v1/promotions/tiers/{tier_ids[0]}")
    assert PromotionStack.objects.get(public_id=created["id"]).tier_ids == []
    assert api.delete(one).status_code == 204
    assert_error(api.get(one), 404, "not_found")


def test_stack_input_errors(api):
    campaign = create_campaign(api)
    other = create_campaign(api, name="Other sale")
    path = f"/v1/promotions/{campaign['id']}/stacks"
    mine = campaign["promotion"]["tiers"][0]["id"]
    assert_error(api.post(path, {"name": "x", "tiers": {"ids": []}}), 400, "invalid_payload")
    assert_error(api.post(path, {"name": "x", "tiers": {"ids": [mine, mine]}}), 400, "invalid_payload")
    assert_error(api.post(path, {"name": "x", "tiers": {"ids": [other["promotion"]["tiers"][0]["id"]]}}), 404,
                 "not_found")
    assert_error(api.post(path, {"name": "x", "tiers": {"ids": [mine], "hierarchy_mode": "AUTO"}}), 400,
                 "invalid_payload")
    assert_error(api.get(f"{path}/stack_missing"), 404, "not_found")


def test_tier_redeemable_validate_redeem_rollback(api):
    campaign = promotion_campaign()
    ten = tier(campaign, "10 off", TEN_OFF, redemption_quantity=1)
    body = {"redeemables": [{"object": "promotion_tier", "id": ten.public_id}], "order": CART,
            "customer": {"source_id": "ann"}}
    validation = assert_matches_spec(api.post("/v1/validations", body), "/v1/validations", "post")
    redeemable = validation["redeemables"][0]
    assert redeemable["object"] == "promotion_tier" and redeemable["name"] == "10 off"
    assert redeemable["campaign_id"] == campaign.public_id and validation["order"]["total_amount"] == 4500
    redeemed = assert_matches_spec(api.post("/v1/redemptions", body), "/v1/redemptions", "post")
    child = redeemed["redemptions"][0]
    assert child["related_object_type"] == "promotion_tier" and child["related_object_id"] == ten.public_id
    ten.refresh_from_db()
    assert (ten.redeemed_quantity, ten.discounted_amount, ten.orders_amount) == (1, 1000, 4500)
    again = api.post("/v1/redemptions", body)
    assert_error(again, 400, "quantity_exceeded")
    parent_id = redeemed["parent_redemption"]["id"]
    assert api.post(f"/v1/redemptions/{parent_id}/rollbacks").status_code == 200
    assert_error(api.post(f"/v1/redemptions/{parent_id}/rollbacks"), 400, "already_rolled_back")
    ten.refresh_from_db()
    assert (ten.redeemed_quantity, ten.discounted_amount, ten.orders_amount) == (0, 0, 0)
    assert api.post("/v1/redemptions", body).status_code == 200  # the use is back


def test_disabled_expired_and_missing_tiers(api):
    campaign = promotion_campaign()
    off = tier(campaign, "off", TEN_OFF, active=False)
    old = tier(campaign, "old", TEN_OFF, expiration_date="2000-01-01T00:00:00Z")
    body = {"redeemables": [{"object": "promotion_tier", "id": off.public_id},
                            {"object": "promotion_tier", "id": old.public_id},
                            {"object": "promotion_tier", "id": "promo_missing"}], "order": CART}
    result = api.post("/v1/validations", body).json()
    assert [r["result"]["error"]["key"] for r in result["inapplicable_redeemables"]] == [
        "promotion_tier_disabled", "promotion_expired", "not_found"]


def test_stack_redeems_its_tiers_together_or_not_at_all(api):
    campaign = promotion_campaign()
    ten = tier(campaign, "10 off", TEN_OFF)
    socks = tier(campaign, "socks 50%", {"type": "PERCENT", "percent_off": 50, "effect": "APPLY_TO_ITEMS"},
                 applicable_to=[{"object": "product", "id": "socks"}])
    both = stack(campaign, "both", [ten, socks])
    body = {"redeemables": [{"object": "promotion_stack", "id": both.public_id}], "order": CART}
    validation = assert_matches_spec(api.post("/v1/validations", body), "/v1/validations", "post")
    assert [(r["id"], r["status"]) for r in validation["redeemables"]] == [(ten.public_id, "APPLICABLE"),
                                                                           (socks.public_id, "APPLICABLE")]
    # item-level first: 50% of socks (250), then 10 off the order
    assert validation["order"]["items_discount_amount"] == 250 and validation["order"]["discount_amount"] == 1000
    redeemed = api.post("/v1/redemptions", body).json()
    assert sorted(r["related_object_id"] for r in redeemed["redemptions"]) == sorted([ten.public_id, socks.public_id])
    # a tier that does not qualify keeps the whole stack out
    rule(socks, [{"name": "order.amount", "conditions": {"$more_than": [100000]}}])
    refused = api.post("/v1/validations", body).json()
    assert refused["valid"] is False
    assert {(r["id"], r["status"]) for r in refused["redeemables"]} == {(ten.public_id, "SKIPPED"),
                                                                         (socks.public_id, "INAPPLICABLE")}
    assert_error(api.post("/v1/redemptions", body), 400, "order_rules_violated")
    assert Redemption.objects.filter(parent__isnull=True, result="SUCCESS").count() == 1


def test_stack_counts_once_for_the_limits(api, settings):
    settings.STACKING_RULES = {"applicable_redeemables_limit": 2}
    campaign = promotion_campaign()
    tiers = [tier(campaign, f"t{i}", {"type": "AMOUNT", "amount_off": 100}) for i in range(3)]
    three = stack(campaign, "three", tiers)
    extra = tier(campaign, "extra", {"type": "AMOUNT", "amount_off": 100})
    body = {"redeemables": [{"object": "promotion_stack", "id": three.public_id},
                            {"object": "promotion_tier", "id": extra.public_id}], "order": CART}
    result = api.post("/v1/validations", body).json()
    assert result["valid"] is True and result["order"]["total_discount_amount"] == 400


def test_unknown_stack_is_inapplicable(api):
    result = api.post("/v1/validations", {"redeemables": [{"object": "promotion_stack", "id": "stack_missing"}],
                                          "order": CART}).json()
    assert result["valid"] is False
    assert result["redeemables"][0]["result"]["error"]["key"] == "not_found"

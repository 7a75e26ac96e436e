"""Categories and campaigns through the HTTP stack, checked against the Voucherify spec."""

import pytest

from core.models import AsyncAction
from promo.models import Campaign, Category, Redemption, Voucher
from rules.models import ValidationRuleAssignment
from tests.conftest import assert_error
from tests.promo.factories import CampaignFactory, CategoryFactory, RuleFactory, VoucherFactory
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

DISCOUNT = {"type": "AMOUNT", "amount_off": 1000}


def campaign_body(**extra):
    body = {"name": "Summer", "voucher": {"type": "DISCOUNT_VOUCHER", "discount": DISCOUNT,
                                          "redemption": {"quantity": 3},
                                          "code_config": {"length": 10, "prefix": "SUM-"}}}
    body.update(extra)
    return body


def create(api, capture=None, **extra):
    if capture is None:
        return api.post("/v1/campaigns", campaign_body(**extra))
    with capture(execute=True):
        return api.post("/v1/campaigns", campaign_body(**extra))


# ---------------------------------------------------------------- categories

def test_category_crud(api):
    created = api.post("/v1/categories", {"name": "Electronics", "hierarchy": 2})
    assert created.status_code == 201, created.content
    body = assert_matches_spec(created, "/v1/categories", "post")
    assert body["id"].startswith("cat_") and body["name"] == "Electronics" and body["hierarchy"] == 2
    assert body["object"] == "category"

    got = assert_matches_spec(api.get(f"/v1/categories/{body['id']}"), "/v1/categories/{categoryId}", "get")
    assert got["name"] == "Electronics"
    assert api.get("/v1/categories/Electronics").json()["id"] == body["id"]  # by name too

    updated = api.put(f"/v1/categories/{body['id']}", {"hierarchy": 5, "name": None})
    assert assert_matches_spec(updated, "/v1/categories/{categoryId}", "put")["hierarchy"] == 5
    assert Category.objects.get(public_id=body["id"]).name == "Electronics"

    CategoryFactory(name="Books", hierarchy=1)
    listed = assert_matches_spec(api.get("/v1/categories"), "/v1/categories", "get")
    assert [c["name"] for c in listed["data"]] == ["Books", "Electronics"] and listed["total"] == 2

    assert api.delete(f"/v1/categories/{body['id']}").status_code == 204
    assert_error(api.get(f"/v1/categories/{body['id']}"), 404, "not_found")


def test_category_bad_input(api):
    CategoryFactory(name="Taken")
    assert_error(api.post("/v1/categories", {"name": "Taken"}), 409, "duplicate_found")
    assert_error(api.post("/v1/categories", {"hierarchy": 1}), 400, "invalid_payload")
    assert_error(api.post("/v1/categories", {"name": "x", "hierarchy": 1.5}), 400, "invalid_payload")
    assert_error(api.post("/v1/categories", {"name": "x", "hierarchy": True}), 400, "invalid_payload")
    assert_error(api.post("/v1/categories", {"name": "x" * 121}), 400, "invalid_payload")
    assert_error(api.post("/v1/categories", raw="{nope"), 400, "invalid_json")
    assert_error(api.put("/v1/categories/cat_missing", {"name": "y"}), 404, "not_found")
    other = CategoryFactory(name="Other")
    assert_error(api.put(f"/v1/categories/{other.public_id}", {"name": "Taken"}), 409, "duplicate_found")


# ---------------------------------------------------------------- campaigns

def test_create_campaign_with_codes(api, django_capture_on_commit_callbacks):
    category = CategoryFactory(name="Seasonal")
    rule = RuleFactory()
    response = create(api, django_capture_on_commit_callbacks, vouchers_count=25, category_id=category.public_id,
                      description="Ten off", metadata={"region": "EU"}, validation_rules=[rule.public_id],
                      start_date="2030-06-01T00:00:00Z", expiration_date="2030-09-01T00:00:00Z",
                      validity_day_of_week=[1, 2], join_once=True)
    assert response.status_code == 201, response.content
    body = assert_matches_spec(response, "/v1/campaigns", "post")
    assert body["id"].startswith("camp_") and body["name"] == "Summer" and body["object"] == "campaign"
    assert body["campaign_type"] == "DISCOUNT_COUPONS" and body["type"] == "AUTO_UPDATE"
    assert body["voucher"]["code_config"] == {"length": 10, "charset": body["voucher"]["code_config"]["charset"],
                                              "prefix": "SUM-", "postfix": ""}
    assert body["voucher"]["discount"]["amount_off"] == 1000
    assert body["voucher"]["redemption"] == {"quantity": 3}
    assert body["category"] == "Seasonal" and body["category_id"] == category.public_id
    assert body["categories"][0]["id"] == category.public_id
    assert body["start_date"] == "2030-06-01T00:00:00Z" and body["validity_day_of_week"] == [1, 2]
    assert body["join_once"] is True and body["metadata"] == {"region": "EU"}
    assert body["validation_rules_assignments"]["data"][0]["rule_id"] == rule.public_id
    # The codes are generated once the campaign is committed (here: when the captured callbacks run).
    assert body["vouchers_generation_status"] == "IN_PROGRESS"
    again = api.get(f"/v1/campaigns/{body['id']}").json()
    assert again["vouchers_count"] == 25 and again["vouchers_generation_status"] == "DONE"

    vouchers = Voucher.objects.filter(campaign__public_id=body["id"])
    assert vouchers.count() == 25
    assert all(v.code.startswith("SUM-") and len(v.code) == 14 for v in vouchers)
    assert {v.redemption_quantity for v in vouchers} == {3}
    assert {v.discount["amount_off"] for v in vouchers} == {1000}
    action = AsyncAction.objects.get(type="CAMPAIGN_VOUCHERS_GENERATE")
    assert action.status == "DONE" and action.processed == 25 and action.progress == 100
    assert ValidationRuleAssignment.objects.filter(related_object_type="campaign",
                                                   related_object_id=body["id"]).count() == 1


def test_get_list_update_campaign(api):
    campaign = Campaign.objects.get(public_id=create(api).json()["id"])
    other = CampaignFactory(name="Winter", voucher_template={"code_config": {"length": 8}})
    got = assert_matches_spec(api.get(f"/v1/campaigns/{campaign.public_id}"), "/v1/campaigns/{campaignId}", "get")
    assert got["name"] == "Summer"
    assert api.get("/v1/campaigns/Summer").json()["id"] == campaign.public_id  # by name

    listed = assert_matches_spec(api.get("/v1/campaigns", limit=1), "/v1/campaigns", "get")
    assert listed["total"] == 2 and listed["has_more"] is True and listed["campaigns"][0]["id"] == other.public_id
    by_name = api.get("/v1/campaigns", order="name").json()
    assert [c["name"] for c in by_name["campaigns"]] == ["Summer", "Winter"]
    CampaignFactory(name="Friends", voucher_template={"is_referral_code": True, "code_config": {"length": 8}})
    referral = api.get("/v1/campaigns", is_referral_code="true").json()
    assert [c["name"] for c in referral["campaigns"]] == ["Friends"]
    assert {c["name"] for c in api.get("/v1/campaigns", is_referral_code="false").json()["campaigns"]} == {
        "Summer", "Winter"}
    assert api.get("/v1/campaigns", campaign_type="PROMOTION").json()["total"] == 0

    voucher = VoucherFactory(campaign=campaign, discount=DISCOUNT)
    updated = api.put(f"/v1/campaigns/{campaign.public_id}", {
        "description": "New", "discount": {"type": "PERCENT", "percent_off": 15}, "metadata": {"a": 1, "b": 2},
        "expiration_date": "2031-01-01", "type": "STATIC", "category": None})
    body = assert_matches_spec(updated, "/v1/campaigns/{campaignId}", "put")
    assert body["description"] == "New" and body["type"] == "STATIC"
    assert body["voucher"]["discount"]["percent_off"] == 15 and body["metadata"] == {"a": 1, "b": 2}
    assert body["expiration_date"].startswith("2031-01-01T00:00:00")
    voucher.refresh_from_db()
    assert voucher.discount["type"] == "PERCENT"  # the new discount reaches every code

    unset = api.put(f"/v1/campaigns/{campaign.public_id}", {"unset_metadata_fields": ["a"]}).json()
    assert unset["metadata"] == {"b": 2}


def test_enable_disable_and_summary(api):
    campaign = Campaign.objects.get(public_id=create(api).json()["id"])
    disabled = api.post(f"/v1/campaigns/{campaign.public_id}/disable")
    assert_matches_spec(disabled, "/v1/campaigns/{campaignId}/disable", "post")
    assert disabled.json()["active"] is False
    assert api.post(f"/v1/campaigns/{campaign.public_id}/enable").json()["active"] is True

    voucher = VoucherFactory(campaign=campaign, redeemed_quantity=1)
    VoucherFactory(campaign=campaign)
    parent = Redemption.objects.create(result="SUCCESS", status="SUCCEEDED", related_object_type="redemption")
    Redemption.objects.create(parent=parent, result="SUCCESS", status="SUCCEEDED", related_object_type="voucher",
                              voucher=voucher, campaign=campaign, amount=1000)
    Redemption.objects.create(parent=parent, result="SUCCESS", status="ROLLED_BACK", related_object_type="voucher",
                              voucher=voucher, campaign=campaign, amount=500)
    Redemption.objects.create(parent=parent, result="FAILURE", status="FAILED", related_object_type="voucher",
                              voucher=voucher, campaign=campaign, failure_code="quantity_exceeded")
    summary = api.get(f"/v1/campaigns/{campaign.public_id}/summary")
    body = assert_matches_spec(summary, "/v1/campaigns/{campaignId}/summary", "get")
    assert body["object"] == "campaign_summary" and body["campaign"]["id"] == campaign.public_id
    assert (body["redemptions"], body["redemptions_succeeded"], body["redemptions_failed"],
            body["redemptions_rolled_back"]) == (3, 2, 1, 1)
    assert body["discounted_amount"] == 1500
    assert (body["vouchers_count"], body["vouchers_redeemed"], body["redeemed_quantity"]) == (2, 1, 1)
    future = api.get(f"/v1/campaigns/{campaign.public_id}/summary", start_date="2999-01-01").json()
    assert future["redemptions"] == 0 and future["vouchers_created"] == 0
    assert_error(api.get(f"/v1/campaigns/{campaign.public_id}/summary", start_date="soon"), 400, "invalid_payload")


def test_delete_is_soft_and_keeps_history(api):
    campaign = Campaign.objects.get(public_id=create(api).json()["id"])
    voucher = VoucherFactory(campaign=campaign, code="KEEPME")
    Redemption.objects.create(result="SUCCESS", status="SUCCEEDED", related_object_type="voucher",
                              voucher=voucher, campaign=campaign, amount=100)
    response = api.delete(f"/v1/campaigns/{campaign.public_id}")
    assert response.status_code == 202
    assert_matches_spec(response, "/v1/campaigns/{campaignId}", "delete")
    assert response.json()["async_action_id"].startswith("aa_")
    assert_error(api.get(f"/v1/campaigns/{campaign.public_id}"), 404, "not_found")
    assert_error(api.get("/v1/vouchers/KEEPME"), 404, "not_found")
    campaign.refresh_from_db()
    assert campaign.deleted_at is not None and campaign.name == "Summer"
    assert Redemption.objects.filter(campaign=campaign).count() == 1 and Voucher.objects.filter(pk=voucher.pk)
    # Without force the name stays taken; with force it is freed.
    assert_error(create(api), 409, "duplicate_found")
    second = CampaignFactory(name="Autumn")
    assert api.delete(f"/v1/campaigns/{second.public_id}", force="true").status_code == 202
    assert create(api, name="Autumn").status_code == 201
    assert_error(api.delete("/v1/campaigns/camp_unknown"), 404, "not_found")


def test_campaign_bad_input(api):
    assert create(api).status_code == 201
    assert_error(create(api), 409, "duplicate_found")
    assert_error(create(api, name=None), 400, "invalid_payload")
    cases = [
        {"voucher": {"discount": {"type": "AMOUNT", "amount_off": 10.5}}},
        {"voucher": {"discount": {"type": "AMOUNT", "amount_off": True}}},
        {"voucher": {"discount": {"type": "BOGUS", "amount_off": 10}}},
        {"voucher": {"discount": {"type": "PERCENT", "percent_off": 10, "effect": "ADD_NEW_ITEMS"}}},
        {"voucher": {"discount": {"type": "PERCENT", "percent_off": 150}}},
        {"voucher": {"discount": {"type": "AMOUNT"}}},
        {"voucher": {"discount": {"type": "UNIT", "unit_off": 1}}},
        {"voucher": {"discount": {"type": "AMOUNT", "amount_off": 100, "amount_off_formula": "x*2"}}},
        {"voucher": {"type": "GIFT_VOUCHER", "discount": DISCOUNT}},
        {"voucher": {"discount": DISCOUNT, "redemption": {"quantity": 0}}},
        {"voucher": {"discount": DISCOUNT, "code_config": {"length": 0}}},
        {"voucher": {"discount": DISCOUNT, "code_config": {"pattern": "ABC"}}},
        {"voucher": {"discount": DISCOUNT, "code_config": {"charset": "a b"}}},
        {"voucher": {"discount": DISCOUNT, "code_config": {"prefix": "a/"}}},
        {"voucher": {"discount": DISCOUNT, "code_config": {"length": 300}}},
        {"voucher": {}},
        {"vouchers_count": 1.0},
        {"vouchers_count": -1},
        {"campaign_type": "LOYALTY_PROGRAM"},
        {"campaign_type": "NOPE"},
        {"start_date": "yesterday"},
        {"start_date": "2030-02-01", "expiration_date": "2030-01-01"},
        {"validity_timeframe": {"interval": "P1D", "duration": "PT1H"}},  # needs a start_date
        {"validity_timeframe": {"interval": "1 day", "duration": "PT1H"}, "start_date": "2030-01-01"},
        {"validity_timeframe": {"interval": "P99999999999D", "duration": "PT1H"}, "start_date": "2030-01-01"},
        {"validity_timeframe": {"interval": "P1D", "duration": "PT99999999999999H"}, "start_date": "2030-01-01"},
        {"start_date": "2030-01-01T10:61:00Z"},
        {"validity_day_of_week": [7]},
        {"validity_hours": {"daily": [{"start_time": "25:00", "expiration_time": "26:00"}]}},
        {"metadata": "x"},
        {"description": "\x00"},
        {"join_once": "yes"},
    ]
    for index, extra in enumerate(cases):
        body = campaign_body(name=f"Bad {index}")
        if "voucher" in extra:
            body["voucher"] = extra.pop("voucher")
        body.update(extra)
        response = api.post("/v1/campaigns", body)
        assert response.status_code == 400, (extra, body, response.content)
        assert response.json()["key"] in ("invalid_payload", "invalid_json", "campaign_type_not_supported")
    assert Campaign.objects.count() == 1
    assert_error(create(api, name="Rules", validation_rules=["val_missing"]), 404, "not_found")
    assert_error(create(api, name="Cat", category_id="cat_missing"), 404, "not_found")
    assert_error(api.post("/v1/campaigns", raw="[1, 2]"), 400, "invalid_payload")
    assert_error(api.get("/v1/campaigns/camp_missing"), 404, "not_found")
    assert_error(api.get("/v1/campaigns/bad%00id"), 400, "invalid_characters")
    assert_error(api.get("/v1/campaigns", order="sideways"), 400, "invalid_payload")
    assert_error(api.put("/v1/campaigns/Summer", {"type": "STANDALONE"}), 400, "invalid_payload")
    assert_error(api.put("/v1/campaigns/Summer", {"discount": {"type": "FIXED"}}), 400, "invalid_payload")
    assert Campaign.objects.count() == 1


def test_code_space_too_small_is_refused(api):
    body = campaign_body(vouchers_count=10)
    body["voucher"]["code_config"] = {"length": 6, "charset": "0123456789"}
    response = api.post("/v1/campaigns", body)
    details = assert_error(response, 400, "code_space_too_small")["details"]
    assert "10^6" in details
    assert not Campaign.objects.exists()
    # 36^8 = 2.8e12 holds 2,821 codes at a billion each: 1000 pass, 5000 do not.
    body["voucher"]["code_config"] = {"length": 8, "charset": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    body["vouchers_count"] = 5000
    assert_error(api.post("/v1/campaigns", body), 400, "code_space_too_small")


def test_explicit_nulls_are_not_given(api):
    body = {"name": "Nulls", "description": None, "category": None, "category_id": None, "start_date": None,
            "expiration_date": None, "validity_timeframe": None, "validity_day_of_week": None,
            "validity_hours": None, "metadata": None, "join_once": None, "auto_join": None, "type": None,
            "vouchers_count": None, "validation_rules": None, "campaign_type": None,
            "voucher": {"type": None, "discount": {"type": "PERCENT", "percent_off": 10, "amount_limit": None,
                                                   "effect": None, "amount_off": None},
                        "redemption": {"quantity": None}, "code_config": {"length": None, "charset": None,
                                                                          "pattern": None, "prefix": None},
                        "is_referral_code": None}}
    response = api.post("/v1/campaigns", body)
    assert response.status_code == 201, response.content
    created = assert_matches_spec(response, "/v1/campaigns", "post")
    assert created["voucher"]["redemption"]["quantity"] is None
    assert created["voucher"]["discount"] == {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ORDER",
                                              "is_dynamic": False}


def test_read_only_key_cannot_write(api, anon_api):
    from core import services

    issued = services.api_key_create(name="reader", scope="read_only")
    headers = {"X-App-Id": issued.app_id, "X-App-Token": issued.app_token}
    assert anon_api.request("GET", "/v1/campaigns", headers=headers).status_code == 200
    assert_error(anon_api.request("POST", "/v1/campaigns", campaign_body(), headers=headers), 403, "forbidden")
    assert_error(anon_api.get("/v1/campaigns"), 401, "unauthorized")

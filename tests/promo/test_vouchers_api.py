"""Vouchers through the HTTP stack: standalone codes, codes added to campaigns, lists, images,
CSV imports and bulk updates; responses checked against the Voucherify spec."""

import csv
import io
from urllib.parse import urlparse

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from core.models import AsyncAction
from customers.models import Customer
from promo.models import Campaign, Voucher
from tests.conftest import assert_error
from tests.promo.factories import CampaignFactory, CategoryFactory, RuleFactory, VoucherFactory
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

BLACK_FRIDAY = {"code": "BLACKFRIDAY19", "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "PERCENT", "percent_off": 20, "amount_limit": 5000},
                "redemption": {"quantity": 100}, "metadata": {"channel": "web"},
                "start_date": "2019-11-29T00:00:00Z", "expiration_date": "2019-12-03T00:00:00Z",
                "additional_info": "Black Friday"}


def template_campaign(**extra) -> Campaign:
    template = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 700},
                "redemption": {"quantity": 2}, "code_config": {"length": 8, "charset": "ABCDEFGHJKLMNPQRSTUVWXYZ",
                                                               "prefix": "TPL-", "postfix": ""},
                "is_referral_code": False, "expiration_date": "2040-01-01T00:00:00Z"}
    return CampaignFactory(voucher_template=template, **extra)


# ---------------------------------------------------------------- standalone vouchers

def test_create_get_update_enable_disable_delete(api):
    created = api.post("/v1/vouchers", BLACK_FRIDAY)
    assert created.status_code == 201, created.content
    body = assert_matches_spec(created, "/v1/vouchers", "post")
    assert body["code"] == "BLACKFRIDAY19" and body["id"].startswith("v_") and body["object"] == "voucher"
    assert body["campaign"] is None and body["campaign_id"] is None and body["gift"] is None
    assert body["discount"] == {"type": "PERCENT", "percent_off": 20, "amount_limit": 5000,
                                "effect": "APPLY_TO_ORDER", "is_dynamic": False}
    assert body["redemption"] == {"object": "list", "quantity": 100, "redeemed_quantity": 0,
                                  "url": "/v1/vouchers/BLACKFRIDAY19/redemption?page=1&limit=10"}
    assert body["publish"] == {"object": "list", "count": 0, "url": "/v1/vouchers/BLACKFRIDAY19/publications"}
    assert body["start_date"] == "2019-11-29T00:00:00Z" and body["metadata"] == {"channel": "web"}
    assert body["assets"]["qr"]["url"].startswith("http://") and "/v1/vouchers/BLACKFRIDAY19/qr.png?token=" in \
        body["assets"]["qr"]["url"]
    assert body["active"] is True and body["additional_info"] == "Black Friday"

    got = assert_matches_spec(api.get("/v1/vouchers/BLACKFRIDAY19"), "/v1/vouchers/{code}", "get")
    assert got["id"] == body["id"]
    assert_error(api.get("/v1/vouchers/blackfriday19"), 404, "not_found")  # case-sensitive

    updated = api.put("/v1/vouchers/BLACKFRIDAY19", {"metadata": {"channel": "store"}, "active": None,
                                                     "discount": {"type": "AMOUNT", "amount_off": 500},
                                                     "redemption": {"quantity": 5}})
    body = assert_matches_spec(updated, "/v1/vouchers/{code}", "put")
    assert body["metadata"] == {"channel": "store"} and body["discount"]["amount_off"] == 500
    assert body["redemption"]["quantity"] == 5 and body["active"] is True

    disabled = assert_matches_spec(api.post("/v1/vouchers/BLACKFRIDAY19/disable"), "/v1/vouchers/{code}/disable",
                                   "post")
    assert disabled["active"] is False
    enabled = assert_matches_spec(api.post("/v1/vouchers/BLACKFRIDAY19/enable"), "/v1/vouchers/{code}/enable", "post")
    assert enabled["active"] is True

    assert api.delete("/v1/vouchers/BLACKFRIDAY19").status_code == 204
    assert_error(api.get("/v1/vouchers/BLACKFRIDAY19"), 404, "not_found")
    assert api.post("/v1/vouchers", BLACK_FRIDAY).status_code == 201  # the code may be created again


def test_create_with_code_in_path_and_generated_codes(api):
    response = api.post("/v1/vouchers/WELCOME-10", {"discount": {"type": "AMOUNT", "amount_off": 1000}})
    assert response.status_code == 201, response.content
    assert assert_matches_spec(response, "/v1/vouchers/{code}", "post")["code"] == "WELCOME-10"

    generated = api.post("/v1/vouchers", {"discount": {"type": "AMOUNT", "amount_off": 100},
                                          "code_config": {"pattern": "GIFT-####-####", "charset": "ABCDEFGHJKMNPQRS"}})
    code = generated.json()["code"]
    assert generated.status_code == 201 and len(code) == 14 and code.startswith("GIFT-") and code[9] == "-"
    assert set(code[5:9] + code[10:]) <= set("ABCDEFGHJKMNPQRS")
    default = api.post("/v1/vouchers", {"discount": {"type": "AMOUNT", "amount_off": 100}}).json()["code"]
    assert len(default) == 8 and default.isalnum()


def test_voucher_bad_input(api):
    VoucherFactory(code="TAKEN")
    discount = {"type": "AMOUNT", "amount_off": 100}
    assert_error(api.post("/v1/vouchers", {"code": "TAKEN", "discount": discount}), 409, "duplicate_found")
    assert_error(api.post("/v1/vouchers/TAKEN", {"discount": discount}), 409, "duplicate_found")
    bad = [
        {"code": "X1", "discount": {"type": "AMOUNT", "amount_off": 99.9}},
        {"code": "X1", "discount": {"type": "AMOUNT", "amount_off": "100"}},
        {"code": "X1", "discount": {"type": "MAGIC", "amount_off": 1}},
        {"code": "X1", "discount": {"type": "AMOUNT", "amount_off": 1, "effect": "ADD_NEW_ITEMS"}},
        {"code": "X1"},  # a standalone discount voucher needs its discount
        {"code": "X1", "discount": discount, "type": "GIFT_VOUCHER"},
        {"code": "X1", "discount": discount, "redemption": {"quantity": 2.5}},
        {"code": "X1", "discount": discount, "start_date": "2030-01-02", "expiration_date": "2030-01-01"},
        {"code": "has space ", "discount": discount},
        {"code": "a/b", "discount": discount},
        {"code": "", "discount": discount},
        {"code": "X1", "discount": discount, "metadata": [1]},
        {"code": "X1", "discount": discount, "active": "no"},
        {"discount": discount, "code_config": {"length": 4, "charset": "AB"}},
    ]
    for payload in bad:
        response = api.post("/v1/vouchers", payload)
        assert response.status_code == 400, (payload, response.content)
    assert_error(api.post("/v1/vouchers", {"discount": discount, "code_config": {"length": 4}}), 400,
                 "code_space_too_small")
    assert_error(api.post("/v1/vouchers", {"code": "X2", "discount": discount, "campaign": "nope"}), 404, "not_found")
    assert_error(api.post("/v1/vouchers", {"code": "X2", "discount": discount, "holder_id": "ghost"}), 404,
                 "not_found")
    assert_error(api.put("/v1/vouchers/MISSING", {"active": False}), 404, "not_found")
    assert_error(api.put("/v1/vouchers/TAKEN", {"discount": {"type": "PERCENT"}}), 400, "invalid_payload")
    assert_error(api.put("/v1/vouchers/TAKEN", {"type": "GIFT_VOUCHER"}), 400, "invalid_payload")
    assert_error(api.post("/v1/vouchers/MISSING/enable"), 404, "not_found")
    assert_error(api.delete("/v1/vouchers/MISSING"), 404, "not_found")
    assert Voucher.objects.count() == 1


def test_quantity_cannot_drop_below_what_was_redeemed(api):
    VoucherFactory(code="USED", redemption_quantity=5, redeemed_quantity=3, locked_quantity=1)
    assert_error(api.put("/v1/vouchers/USED", {"redemption": {"quantity": 3}}), 400, "quantity_below_redeemed")
    assert api.put("/v1/vouchers/USED", {"redemption": {"quantity": 4}}).json()["redemption"]["quantity"] == 4
    voucher = Voucher.objects.get(code="USED")
    assert (voucher.redemption_quantity, voucher.redeemed_quantity, voucher.locked_quantity) == (4, 3, 1)


def test_edits_never_touch_the_redemption_counters(api):
    voucher = VoucherFactory(code="COUNTED", redemption_quantity=10)
    stale = Voucher.objects.get(pk=voucher.pk)
    Voucher.objects.filter(pk=voucher.pk).update(redeemed_quantity=4)  # a redemption meanwhile
    api.put("/v1/vouchers/COUNTED", {"additional_info": "edited"})
    api.post("/v1/vouchers/COUNTED/disable")
    assert stale.redeemed_quantity == 0
    assert Voucher.objects.get(pk=voucher.pk).redeemed_quantity == 4


def test_holder_and_join_once(api):
    campaign = template_campaign(join_once=True)
    alice = Customer.objects.create(source_id="alice")
    first = api.post(f"/v1/campaigns/{campaign.public_id}/vouchers", {"holder_id": "alice"})
    assert first.status_code == 201, first.content
    assert first.json()["holder_id"] == alice.public_id
    assert_error(api.post(f"/v1/campaigns/{campaign.public_id}/vouchers", {"holder_id": alice.public_id}), 409,
                 "duplicate_found")
    listed = api.get("/v1/vouchers", customer="alice").json()
    assert [v["code"] for v in listed["vouchers"]] == [first.json()["code"]]


# ---------------------------------------------------------------- codes in campaigns

def test_add_one_code_inherits_the_template(api):
    category = CategoryFactory(name="Promo")
    campaign = template_campaign(category=category)
    response = api.post(f"/v1/campaigns/{campaign.public_id}/vouchers",
                        {"metadata": {"batch": 1}, "additional_info": "one", "redemption": {"quantity": 9}})
    assert response.status_code == 201, response.content
    body = assert_matches_spec(response, "/v1/campaigns/{campaignId}/vouchers", "post")
    assert body["code"].startswith("TPL-") and len(body["code"]) == 12
    assert body["campaign"] == campaign.name and body["campaign_id"] == campaign.public_id
    assert body["discount"]["amount_off"] == 700 and body["redemption"]["quantity"] == 9
    assert body["expiration_date"] == "2040-01-01T00:00:00Z" and body["metadata"] == {"batch": 1}
    assert body["category"] == "Promo" and body["categories"][0]["name"] == "Promo"

    specific = api.post(f"/v1/campaigns/{campaign.name}/vouchers/MY-CODE", {"redemption": {"quantity": None}})
    assert specific.status_code == 201, specific.content
    body = assert_matches_spec(specific, "/v1/campaigns/{campaignId}/vouchers/{code}", "post")
    assert body["code"] == "MY-CODE" and body["redemption"]["quantity"] == 2
    assert_error(api.post(f"/v1/campaigns/{campaign.public_id}/vouchers/MY-CODE", {}), 409, "duplicate_found")
    assert_error(api.post("/v1/campaigns/camp_nope/vouchers/OTHER", {}), 404, "not_found")


def test_add_many_codes_is_an_async_action(api, django_capture_on_commit_callbacks):
    campaign = template_campaign()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/v1/campaigns/{campaign.public_id}/vouchers?vouchers_count=40",
                            {"metadata": {"wave": 2}, "code_config": {"pattern": "W2-######"}})
    assert response.status_code == 202, response.content
    assert_matches_spec(response, "/v1/campaigns/{campaignId}/vouchers", "post")
    action = AsyncAction.objects.get(public_id=response.json()["async_action_id"])
    assert action.status == "DONE" and action.processed == 40 and action.result["count"] == 40
    vouchers = Voucher.objects.filter(campaign=campaign)
    assert vouchers.count() == 40 and all(v.code.startswith("W2-") and len(v.code) == 9 for v in vouchers)
    assert {v.metadata["wave"] for v in vouchers} == {2}
    status = api.get(f"/v1/async-actions/{action.public_id}").json()
    assert status["status"] == "DONE" and status["progress"] == 100
    assert_error(api.post(f"/v1/campaigns/{campaign.public_id}/vouchers?vouchers_count=2", {"code": "ONE"}), 400,
                 "invalid_payload")
    assert_error(api.post(f"/v1/campaigns/{campaign.public_id}/vouchers?vouchers_count=x", {}), 400,
                 "invalid_payload")
    assert_error(api.post(f"/v1/campaigns/{campaign.public_id}/vouchers?vouchers_count=5000",
                          {"code_config": {"length": 4}}), 400, "code_space_too_small")


def test_list_filters_and_pages(api):
    category = CategoryFactory(name="Shoes")
    summer, winter = template_campaign(name="Summer", category=category), template_campaign(name="Winter")
    for n in range(3):
        VoucherFactory(code=f"S{n}", campaign=summer)
    VoucherFactory(code="W0", campaign=winter)
    VoucherFactory(code="FREE", campaign=None)
    rule = RuleFactory()
    from tests.promo.factories import assign

    assign(rule, Voucher.objects.get(code="S0"))

    everything = assert_matches_spec(api.get("/v1/vouchers"), "/v1/vouchers", "get")
    assert everything["total"] == 5 and everything["data_ref"] == "vouchers"
    assert everything["vouchers"][0]["code"] == "FREE"  # newest first
    s0 = next(v for v in everything["vouchers"] if v["code"] == "S0")
    assert s0["validation_rules_assignments"]["data"][0]["rule_id"] == rule.public_id

    def codes(**params):
        return sorted(v["code"] for v in api.get("/v1/vouchers", **params).json()["vouchers"])

    assert codes(campaign="Summer") == ["S0", "S1", "S2"]
    assert codes(campaign_id=winter.public_id) == ["W0"]
    assert codes(category="Shoes") == ["S0", "S1", "S2"] == codes(category=category.public_id)
    assert codes(category="Nope") == [] and codes(campaign="Nope") == []
    assert codes(code="W0") == ["W0"]
    page = api.get("/v1/vouchers", limit=2, page=2, order="code").json()
    assert [v["code"] for v in page["vouchers"]] == ["S1", "S2"] and page["has_more"] is True
    assert_error(api.get("/v1/vouchers", limit=500), 400, "invalid_payload")
    assert_error(api.get("/v1/vouchers", order="random"), 400, "invalid_payload")
    assert_error(api.get("/v1/vouchers", **{"created_at[after]": "later"}), 400, "invalid_payload")
    assert codes(**{"created_at[after]": "2999-01-01"}) == []
    assert_error(api.get("/v1/vouchers", **{"created_at[after]": "0001-01-01T00:00:00+05:00"}), 400,
                 "invalid_payload")


def test_vouchers_of_deleted_campaigns_disappear(api):
    campaign = template_campaign()
    VoucherFactory(code="GONE", campaign=campaign)
    api.delete(f"/v1/campaigns/{campaign.public_id}")
    assert_error(api.get("/v1/vouchers/GONE"), 404, "not_found")
    assert api.get("/v1/vouchers").json()["total"] == 0


# ---------------------------------------------------------------- images

@override_settings(PUBLIC_BASE_URL="https://promo.example.com")
def test_qr_and_barcode_images(api, anon_api):
    VoucherFactory(code="PIC-123")
    body = api.get("/v1/vouchers/PIC-123").json()
    qr, barcode = body["assets"]["qr"], body["assets"]["barcode"]
    assert qr["url"].startswith("https://promo.example.com/v1/vouchers/PIC-123/qr.png?token=")
    assert qr["id"] != barcode["id"]

    signed = urlparse(qr["url"])
    image = anon_api.client.get(signed.path, {"token": qr["id"]})
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert image.content.startswith(b"\x89PNG") and "public" in image["Cache-Control"]
    svg = anon_api.client.get("/v1/vouchers/PIC-123/qr.svg", {"token": qr["id"]})
    assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
    bar = anon_api.client.get("/v1/vouchers/PIC-123/barcode.png", {"token": barcode["id"]})
    assert bar.status_code == 200 and bar.content.startswith(b"\x89PNG")
    bar_svg = anon_api.client.get("/v1/vouchers/PIC-123/barcode.svg", {"token": barcode["id"], "size": 3})
    assert bar_svg.status_code == 200 and b"<svg" in bar_svg.content

    # Without a valid token an API key is needed, so codes cannot be enumerated.
    assert_error(anon_api.get("/v1/vouchers/PIC-123/qr.png"), 401, "unauthorized")
    assert_error(anon_api.get("/v1/vouchers/PIC-123/qr.png", token=barcode["id"]), 401, "unauthorized")
    assert_error(anon_api.get("/v1/vouchers/PIC-124/qr.png", token=qr["id"]), 401, "unauthorized")
    keyed = api.get("/v1/vouchers/PIC-123/qr.png")
    assert keyed.status_code == 200 and "private" in keyed["Cache-Control"]
    assert_error(api.get("/v1/vouchers/NOPE/qr.png"), 404, "not_found")
    assert_error(api.get("/v1/vouchers/PIC-123/qr.png", size=1000), 400, "invalid_payload")


def test_barcode_of_a_non_ascii_code_is_refused(api):
    VoucherFactory(code="ÉTÉ-2030")
    assert api.get("/v1/vouchers/%C3%89T%C3%89-2030/qr.png").status_code == 200
    assert_error(api.get("/v1/vouchers/%C3%89T%C3%89-2030/barcode.png"), 400, "barcode_not_supported")


# ---------------------------------------------------------------- CSV import, bulk updates, export

def upload(api, path: str, text: str, capture):
    with capture(execute=True):
        response = api.client.post(path, {"file": SimpleUploadedFile("codes.csv", text.encode(), "text/csv")},
                                   headers=api.headers)
    assert response.status_code == 202, response.content
    return AsyncAction.objects.get(public_id=response.json()["async_action_id"])


def test_campaign_import_csv(api, django_capture_on_commit_callbacks):
    campaign = template_campaign()
    VoucherFactory(code="OLD")
    text = ("Code,Redemption Limit,Active,Expiration Date,Category,tier,metadata_score\n"
            "IMP-1,5,true,2035-01-01,,gold,7\n"
            "IMP-2,,false,,,silver,\n"
            "OLD,,,,,,\n"
            "IMP-1,,,,,,\n"
            "IMP-3,lots,,,,,\n"
            "IMP-4,,,someday,,,\n"
            "IMP-5,,,,NoSuchCategory,,\n"
            "IMP-6,,,0001-01-01T00:00:00+05:00,,,\n"
            "bad/code,,,,,,\n")
    action = upload(api, f"/v1/campaigns/{campaign.public_id}/importCSV", text, django_capture_on_commit_callbacks)
    assert action.status == "DONE", action.result
    assert action.result["done_count"] == 2 and action.result["failed_count"] == 7
    rows = {e["row"]: e for e in action.result["errors"]}
    assert set(rows) == {4, 5, 6, 7, 8, 9, 10}
    assert "already exists" in rows[4]["message"] and rows[4]["code"] == "OLD"
    assert "already exists" in rows[5]["message"]
    assert "whole number" in rows[6]["message"] and "ISO 8601" in rows[7]["message"]
    one = Voucher.objects.get(code="IMP-1")
    assert one.campaign == campaign and one.redemption_quantity == 5 and one.discount["amount_off"] == 700
    assert one.metadata == {"tier": "gold", "score": "7"} and one.expiration_date.year == 2035
    two = Voucher.objects.get(code="IMP-2")
    assert two.active is False and two.redemption_quantity == 2  # the template's quantity


def test_standalone_import_csv_needs_discounts(api, django_capture_on_commit_callbacks):
    text = ("code,discount_type,discount_value,discount_effect,amount_limit\n"
            "CSV-A,AMOUNT,500,,\n"
            "CSV-B,PERCENT,12.5,,1000\n"
            "CSV-C,,,,\n"
            "CSV-D,AMOUNT,5.5,,\n"
            "CSV-E,PERCENT,10,ADD_NEW_ITEMS,\n")
    action = upload(api, "/v1/vouchers/importCSV", text, django_capture_on_commit_callbacks)
    assert action.result["done_count"] == 2 and action.result["failed_count"] == 3
    assert Voucher.objects.get(code="CSV-B").discount["percent_off"] == 12.5
    assert Voucher.objects.get(code="CSV-A").campaign is None


def test_import_csv_bad_files(api):
    def post(text, path="/v1/vouchers/importCSV"):
        return api.client.post(path, {"file": SimpleUploadedFile("x.csv", text, "text/csv")}, headers=api.headers)

    assert_error(post(b"name,value\nA,1\n"), 400, "invalid_csv")
    assert_error(post(b""), 400, "invalid_csv")
    assert_error(post(b"\xff\xfe code"), 400, "invalid_csv")
    assert_error(post(b"code,code\nA,B\n"), 400, "invalid_csv")
    assert_error(api.client.post("/v1/vouchers/importCSV", {}, headers=api.headers), 400, "invalid_payload")
    assert_error(post(b"code\nA\n", "/v1/campaigns/camp_nope/importCSV"), 404, "not_found")


def test_bulk_update_and_metadata_update(api, django_capture_on_commit_callbacks):
    VoucherFactory(code="B1", metadata={"keep": True})
    VoucherFactory(code="B2")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/v1/vouchers/bulk/async", [
            {"code": "B1", "metadata": {"lang": "en"}}, {"code": "B2", "active": False},
            {"code": "NOPE", "metadata": {"x": 1}}, {"code": "B2", "redemption": {"quantity": 0}}])
    assert response.status_code == 202, response.content
    assert_matches_spec(response, "/v1/vouchers/bulk/async", "post")
    action = AsyncAction.objects.get(public_id=response.json()["async_action_id"])
    assert action.result["done_count"] == 2 and action.result["failed_count"] == 2
    assert [e["row"] for e in action.result["errors"]] == [3, 4]
    assert Voucher.objects.get(code="B1").metadata == {"keep": True, "lang": "en"}
    assert Voucher.objects.get(code="B2").active is False

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/v1/vouchers/metadata/async", {"codes": ["B1", "B2", "B9"], "metadata": {"season": 3}})
    assert response.status_code == 202
    assert_matches_spec(response, "/v1/vouchers/metadata/async", "post")
    action = AsyncAction.objects.get(public_id=response.json()["async_action_id"])
    assert action.result["done_count"] == 2 and action.result["errors"][0]["code"] == "B9"
    assert Voucher.objects.get(code="B1").metadata == {"keep": True, "lang": "en", "season": 3}

    assert_error(api.post("/v1/vouchers/bulk/async", []), 400, "invalid_payload")
    assert_error(api.post("/v1/vouchers/bulk/async", {"code": "B1"}), 400, "invalid_payload")
    assert_error(api.post("/v1/vouchers/bulk/async", [{"metadata": {}}]), 400, "invalid_payload")
    assert_error(api.post("/v1/vouchers/metadata/async", {"codes": [], "metadata": {"a": 1}}), 400, "invalid_payload")
    assert_error(api.post("/v1/vouchers/metadata/async", {"codes": ["B1"], "metadata": {}}), 400, "invalid_payload")


def test_export_csv_streams_every_code(api):
    campaign = template_campaign()
    for n in range(7):
        VoucherFactory(code=f"EXP{n}", campaign=campaign, redemption_quantity=3 if n else None)
    VoucherFactory(code="ELSEWHERE")
    response = api.get(f"/v1/campaigns/{campaign.public_id}/vouchers/export.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["code"] for r in rows] == [f"EXP{n}" for n in range(7)]
    assert rows[0]["redemption_quantity"] == "" and rows[1]["redemption_quantity"] == "3"
    assert rows[0]["active"] == "true" and rows[0]["id"].startswith("v_") and rows[0]["created_at"].endswith("Z")
    assert_error(api.get("/v1/campaigns/camp_nope/vouchers/export.csv"), 404, "not_found")

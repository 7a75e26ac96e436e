"""No input a client can send makes the campaign, voucher or category endpoints answer 500."""

import pytest

from tests.promo.factories import CampaignFactory, VoucherFactory

pytestmark = pytest.mark.django_db

ODD_VALUES = [None, True, 0, -1, 1.5, 10**30, "", "x" * 5000, "\u202e", [], [None], {}, {"a": None},
              "2030-13-45", "P", "0001-01-01T00:00:00+05:00", "..", "%00", {"type": {"nested": []}}]

FIELDS = ["name", "description", "campaign_type", "type", "category", "category_id", "start_date",
          "expiration_date", "validity_timeframe", "validity_day_of_week", "validity_hours", "metadata", "join_once",
          "vouchers_count", "validation_rules", "voucher", "code", "code_config", "campaign", "campaign_id",
          "discount", "redemption", "active", "additional_info", "holder_id", "hierarchy", "unset_metadata_fields"]

NESTED = [("voucher", "discount"), ("voucher", "code_config"), ("voucher", "redemption"), ("discount", "type"),
          ("discount", "percent_off"), ("discount", "units"), ("code_config", "length"), ("code_config", "charset"),
          ("code_config", "pattern"), ("validity_hours", "daily"), ("validity_timeframe", "interval"),
          ("redemption", "quantity")]


@pytest.fixture
def targets():
    campaign = CampaignFactory(name="Fuzz", voucher_template={"type": "DISCOUNT_VOUCHER",
                                                              "discount": {"type": "AMOUNT", "amount_off": 1},
                                                              "code_config": {"length": 12}})
    VoucherFactory(code="FUZZ", campaign=campaign)
    return [("POST", "/v1/campaigns"), ("PUT", f"/v1/campaigns/{campaign.public_id}"), ("POST", "/v1/vouchers"),
            ("POST", "/v1/vouchers/FUZZ-NEW"), ("PUT", "/v1/vouchers/FUZZ"), ("POST", "/v1/categories"),
            ("POST", f"/v1/campaigns/{campaign.public_id}/vouchers"),
            ("POST", f"/v1/campaigns/{campaign.public_id}/vouchers/FUZZ-2"),
            ("POST", "/v1/vouchers/metadata/async"), ("POST", "/v1/vouchers/bulk/async")]


def test_odd_values_in_every_field(api, targets):
    base = {"name": "Base", "voucher": {"discount": {"type": "AMOUNT", "amount_off": 1}}}
    for method, path in targets:
        for field in FIELDS:
            for value in ODD_VALUES:
                response = api.request(method, path, {**base, field: value})
                assert response.status_code < 500, (method, path, field, value, response.content[:300])


def test_odd_values_in_nested_fields(api, targets):
    for method, path in targets:
        for outer, inner in NESTED:
            for value in ODD_VALUES:
                body = {"name": f"N{inner}", outer: {inner: value}}
                if outer in ("discount", "code_config", "redemption"):
                    body = {"name": f"N{inner}", "voucher": {outer: {inner: value}}, outer: {inner: value}}
                response = api.request(method, path, body)
                assert response.status_code < 500, (method, path, outer, inner, value, response.content[:300])


def test_odd_bodies_and_query_strings(api, targets):
    for method, path in targets:
        for raw in ("", "null", "[]", "[{}]", "\"text\"", "12", "{\"a\":", "{}"):
            response = api.request(method, path, raw=raw)
            assert response.status_code < 500, (method, path, raw, response.content[:300])
    for params in ({"limit": "0"}, {"limit": "abc"}, {"page": "-1"}, {"ids": "\x00"}, {"customer": "x\x00"},
                   {"category": "%"}, {"order": "-code"}, {"updated_at[before]": "nope"}, {"campaign": "Fuzz"}):
        assert api.get("/v1/vouchers", **params).status_code < 500, params
    for params in ({"campaign_type": "X"}, {"is_referral_code": "maybe"}, {"campaign_status": "DONE"}):
        assert api.get("/v1/campaigns", **params).status_code < 500, params
    for path in ("/v1/vouchers/%00", "/v1/campaigns/%00/summary", "/v1/categories/%00",
                 "/v1/vouchers/FUZZ/qr.png?size=x", "/v1/campaigns/Fuzz/summary?end_date=0001-01-01T00:00:00%2B05:00"):
        assert api.get(path).status_code < 500, path

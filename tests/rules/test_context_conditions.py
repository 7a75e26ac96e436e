"""Context conditions: channel, device, store, day of week, time of day, redemption metadata."""

from datetime import datetime

import pytest
from django.utils import timezone

from promo.context import build_context
from rules.conditions import CONDITIONS
from rules.operators import apply_operator
from tests.promo.factories import RuleFactory, VoucherFactory, assign

pytestmark = pytest.mark.django_db


def context(**payload):
    return build_context({"redeemables": [{"object": "voucher", "id": "X"}], **payload})


def value(name, ctx, prop=None):
    return CONDITIONS[name].value(ctx, {"property": prop}, "voucher:v_1")


def test_where_the_redemption_happens():
    ctx = context(channel="pos", metadata={"device": "ios", "store": "porto-1", "campaign_source": "sms"})
    assert value("context.channel", ctx) == "pos"
    assert value("context.device", ctx) == "ios"
    assert value("context.store", ctx) == "porto-1"
    assert value("redemption.metadata", ctx, "campaign_source") == "sms"
    from_order = context(order={"metadata": {"store": "lisbon-2", "channel": "app"}})
    assert value("context.store", from_order) == "lisbon-2"
    assert value("context.channel", from_order) == "app"


def test_when_it_happens(settings):
    settings.TIME_ZONE = "Europe/Lisbon"
    ctx = context()
    ctx.now = timezone.make_aware(datetime(2026, 11, 21, 17, 45), timezone.get_fixed_timezone(0))  # a Saturday
    assert value("context.day_of_week", ctx) == 6
    assert value("context.time", ctx) == "17:45"
    happy_hour = {"$more_than_or_equal": ["17:00"], "$less_than": ["19:00"]}
    assert all(apply_operator(op, "17:45", v) for op, v in happy_hour.items())
    assert not all(apply_operator(op, "19:05", v) for op, v in happy_hour.items())


def test_app_only_coupon_through_the_engine(api):
    voucher = VoucherFactory(code="APPONLY")
    assign(RuleFactory(rules={"1": {"name": "context.channel", "conditions": {"$is": ["app"]}}}), voucher)
    body = {"redeemables": [{"object": "voucher", "id": "APPONLY"}], "order": {"amount": 5000}}
    assert api.post("/v1/validations", {**body, "channel": "app"}).json()["valid"] is True
    assert api.post("/v1/validations", {**body, "metadata": {"channel": "web"}}).json()["valid"] is False


def test_personal_code_is_redeemable_only_by_its_holder(api):
    from customers.services import customer_create_or_update

    holder = customer_create_or_update({"source_id": "holder"})[0]
    customer_create_or_update({"source_id": "someone-else"})
    voucher = VoucherFactory(code="PERSONAL", holder=holder)
    assign(RuleFactory(rules={"1": {"name": "publication.redeemable_by_linked_customer",
                                    "conditions": {"$is": [True]}}}), voucher.campaign)
    body = {"redeemables": [{"object": "voucher", "id": "PERSONAL"}], "order": {"amount": 5000}}
    assert api.post("/v1/validations", {**body, "customer": {"source_id": "holder"}}).json()["valid"] is True
    refused = api.post("/v1/validations", {**body, "customer": {"source_id": "someone-else"}}).json()
    assert refused["redeemables"][0]["result"]["error"]["key"] == "customer_rules_violated"
    assert api.post("/v1/validations", body).json()["valid"] is False  # anonymous

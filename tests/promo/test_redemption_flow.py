"""Validate, redeem and roll back through the HTTP stack, with responses checked against the spec."""

from datetime import timedelta

import pytest
from django.utils import timezone

from promo.locks import MAX_TTL
from promo.models import Redemption, RedemptionRollback, SessionLock, Voucher
from tests.conftest import assert_error
from tests.promo.factories import RuleFactory, VoucherFactory, assign
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

CART = {"amount": 2700, "items": [{"source_id": "watch", "related_object": "product", "quantity": 1, "price": 2000},
                                   {"source_id": "roses", "related_object": "product", "quantity": 1, "price": 700}]}


def stacked(*codes, **extra):
    return {"redeemables": [{"object": "voucher", "id": c} for c in codes], "order": CART, **extra}


def test_validation_of_two_codes(api):
    VoucherFactory(code="TEN", discount={"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ITEMS"})
    VoucherFactory(code="PCT", discount={"type": "PERCENT", "percent_off": 40})
    response = api.post("/v1/validations", stacked("TEN", "PCT"))
    body = assert_matches_spec(response, "/v1/validations", "post")
    assert body["valid"] is True
    first, second = body["redeemables"]
    assert first["status"] == second["status"] == "APPLICABLE"
    assert first["order"]["items_discount_amount"] == 1700
    assert second["order"]["applied_discount_amount"] == 400  # 40% of what is left (1000)
    assert body["order"]["total_discount_amount"] == 2100
    assert body["order"]["total_amount"] == 600
    assert body["stacking_rules"]["redeemables_application_mode"] == "ALL"
    assert Redemption.objects.count() == 0


def test_unknown_code_is_inapplicable_and_fails_all(api):
    VoucherFactory(code="TEN")
    body = assert_matches_spec(api.post("/v1/validations", stacked("NOPE", "TEN")), "/v1/validations", "post")
    assert body["valid"] is False
    nope, ten = body["redeemables"]
    assert nope["status"] == "INAPPLICABLE" and nope["result"]["error"]["key"] == "not_found"
    assert ten["status"] == "SKIPPED" and ten["result"]["details"]["key"] == "preceding_validation_failed"


def test_redeem_then_roll_back_restores_the_use_once(api):
    voucher = VoucherFactory(code="ONCE", redemption_quantity=1)
    payload = stacked("ONCE", customer={"source_id": "alice", "email": "alice@example.com"})
    response = api.post("/v1/redemptions", payload)
    assert response.status_code == 200, response.content
    body = assert_matches_spec(response, "/v1/redemptions", "post")
    parent_id = body["parent_redemption"]["id"]
    assert body["order"]["total_amount"] == 1700
    assert body["redemptions"][0]["voucher"]["code"] == "ONCE"
    voucher.refresh_from_db()
    assert voucher.redeemed_quantity == 1

    again = api.post("/v1/redemptions", payload)
    assert_error(again, 400, "quantity_exceeded")
    failed = Redemption.objects.get(public_id=again.json()["redemption_id"])
    assert failed.result == "FAILURE" and failed.failure_code == "quantity_exceeded"
    assert failed.children.get().failure_code == "quantity_exceeded"

    rolled = api.post(f"/v1/redemptions/{parent_id}/rollbacks", {"reason": "refund"})
    assert rolled.status_code == 200, rolled.content
    assert_matches_spec(rolled, "/v1/redemptions/{parentRedemptionId}/rollbacks", "post")
    voucher.refresh_from_db()
    assert voucher.redeemed_quantity == 0
    assert_error(api.post(f"/v1/redemptions/{parent_id}/rollbacks"), 400, "already_rolled_back")
    assert RedemptionRollback.objects.filter(redemption__public_id=parent_id).count() == 1
    got = api.get(f"/v1/redemptions/{parent_id}")
    assert assert_matches_spec(got, "/v1/redemptions/{redemptionId}", "get")["status"] == "ROLLED_BACK"


def test_single_rollback_path_accepts_a_child_of_a_one_code_redemption(api):
    VoucherFactory(code="SOLO")
    body = api.post("/v1/redemptions", stacked("SOLO")).json()
    child_id = body["redemptions"][0]["id"]
    rolled = api.post(f"/v1/redemptions/{child_id}/rollback?reason=mistake")
    assert rolled.status_code == 200, rolled.content


def test_once_per_customer_rule(api):
    voucher = VoucherFactory(code="WELCOME")
    once = {"name": "redemption.count.per_customer", "conditions": {"$less_than_or_equal": [1]}}
    rule = RuleFactory(rules={"1": once, "logic": "1"})
    assign(rule, voucher)
    payload = stacked("WELCOME", customer={"source_id": "bob"})
    assert api.post("/v1/redemptions", payload).status_code == 200
    body = assert_error(api.post("/v1/redemptions", payload), 400, "redemption_rules_violated")
    assert "redemption.count.per_customer" in body["details"]
    other = stacked("WELCOME", customer={"source_id": "carol"})
    assert api.post("/v1/redemptions", other).status_code == 200


def test_order_rule_explains_the_failed_condition(api):
    voucher = VoucherFactory(code="SPEND300")
    spend = {"name": "order.amount", "conditions": {"$more_than_or_equal": [30000]}}
    rule = RuleFactory(name="Spend 300", rules={"1": spend}, error_message="Spend at least 300 to use this code")
    assign(rule, voucher.campaign)
    body = api.post("/v1/validations", stacked("SPEND300")).json()
    error = body["redeemables"][0]["result"]["error"]
    assert error["key"] == "order_rules_violated"
    assert error["message"] == "Spend at least 300 to use this code"
    assert "order.amount" in error["details"] and "2700" in error["details"]


def test_idempotent_redemption(api):
    voucher = VoucherFactory(code="IDEM", redemption_quantity=5)
    payload = stacked("IDEM")
    first = api.post("/v1/redemptions", payload, headers={"Idempotency-Key": "k-1"})
    replay = api.post("/v1/redemptions", payload, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == replay.status_code == 200
    assert first.json() == replay.json()
    voucher.refresh_from_db()
    assert voucher.redeemed_quantity == 1
    assert_error(api.post("/v1/redemptions", stacked("IDEM", tracking_id="x"), headers={"Idempotency-Key": "k-1"}),
                 422, "idempotency_key_reused")


def test_session_lock_reserves_the_last_use(api):
    voucher = VoucherFactory(code="LAST", redemption_quantity=1)
    locked = api.post("/v1/validations", stacked("LAST", session={"type": "LOCK", "ttl": 1, "ttl_unit": "HOURS"}))
    session = locked.json()["session"]
    assert session["key"].startswith("ssn_")
    voucher.refresh_from_db()
    assert voucher.locked_quantity == 1
    # another checkout cannot take it
    assert_error(api.post("/v1/redemptions", stacked("LAST")), 400, "quantity_exceeded")
    # the session's own redemption consumes the reservation
    ok = api.post("/v1/redemptions", stacked("LAST", session={"key": session["key"], "type": "LOCK"}))
    assert ok.status_code == 200, ok.content
    voucher.refresh_from_db()
    assert (voucher.redeemed_quantity, voucher.locked_quantity) == (1, 0)


@pytest.mark.parametrize("unit", ["DAYS", "HOURS", "MINUTES"])
def test_a_huge_session_ttl_lasts_the_longest_lock(api, unit):
    VoucherFactory(code="LONG", redemption_quantity=1)
    response = api.post("/v1/validations", stacked("LONG", session={"type": "LOCK", "ttl": 10**9, "ttl_unit": unit}))
    assert response.status_code == 200, response.content
    expires_at = SessionLock.objects.get().expires_at
    assert expires_at - timezone.now() <= MAX_TTL and expires_at - timezone.now() > MAX_TTL - timedelta(minutes=1)


def test_released_session_frees_the_use(api):
    voucher = VoucherFactory(code="FREEME", redemption_quantity=1)
    key = api.post("/v1/validations", stacked("FREEME", session={"type": "LOCK"})).json()["session"]["key"]
    assert api.delete(f"/v1/vouchers/FREEME/sessions/{key}").status_code == 204
    voucher.refresh_from_db()
    assert voucher.locked_quantity == 0
    assert api.post("/v1/redemptions", stacked("FREEME")).status_code == 200


@pytest.mark.parametrize("payload, fragment", [
    ({"redeemables": []}, "redeemables"),
    ({"redeemables": [{"object": "coupon", "id": "X"}]}, "object"),
    ({"redeemables": [{"object": "voucher", "id": "X"}], "order": {"amount": 10.5}}, "order.amount"),
    ({"redeemables": [{"object": "voucher", "id": "X"}], "order": {"amount": "100"}}, "order.amount"),
    ({"redeemables": [{"object": "voucher", "id": "X"}] * 31}, "redeemables"),
])
def test_bad_requests_are_400(api, payload, fragment):
    body = assert_error(api.post("/v1/redemptions", payload), 400, "invalid_payload")
    assert fragment in body["details"]
    assert Redemption.objects.count() == 0
    assert Voucher.objects.count() == 0


def test_customer_summary_counts_redemptions(api):
    VoucherFactory(code="SUM1", redemption_quantity=1)
    payload = stacked("SUM1", customer={"source_id": "erin"})
    parent = api.post("/v1/redemptions", payload).json()["parent_redemption"]["id"]
    api.post("/v1/redemptions", payload)  # refused: quantity exceeded
    api.post(f"/v1/redemptions/{parent}/rollbacks")
    body = assert_matches_spec(api.get("/v1/customers/erin"), "/v1/customers/{customerId}", "get")
    assert body["summary"]["redemptions"] | {"gift": None, "loyalty_card": None} == {
        "total_redeemed": 2, "total_succeeded": 1, "total_failed": 1, "total_rolled_back": 1,
        "total_rollback_succeeded": 1, "total_rollback_failed": 0, "gift": None, "loyalty_card": None}


def test_free_item_added_by_a_unit_discount_is_stored_with_its_product(api):
    from catalog.models import Product
    from customers.models import Order

    gift = Product.objects.create(source_id="gift-mug", name="Mug", price=900)
    VoucherFactory(code="FREEMUG", discount={"type": "UNIT", "unit_off": 1, "unit_type": gift.public_id,
                                             "effect": "ADD_MISSING_ITEMS"})
    body = api.post("/v1/redemptions", stacked("FREEMUG")).json()
    assert body["order"]["amount"] == 3600 and body["order"]["total_amount"] == 2700
    order = Order.objects.get(public_id=body["order"]["id"])
    added = order.items.get(product=gift)
    assert (added.quantity, added.amount, added.discount_amount) == (1, 900, 900)
    assert order.items.filter(product__isnull=True).count() == 2  # the cart's lines are not in the catalog

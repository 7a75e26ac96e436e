"""Gift cards through the HTTP API: issue, spend (alone and stacked with a coupon), top-up, debit,
rollback, ledger and its export, refunds, temporary credit, error cases."""

import pytest

from giftcards import selectors
from giftcards.models import GiftCard, GiftCardTransaction
from promo.models import Voucher
from tests.conftest import assert_error
from tests.giftcards.factories import gift_campaign, gift_card
from tests.promo.factories import VoucherFactory
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

CART = {"amount": 8000, "items": [{"source_id": "sku-1", "related_object": "sku", "quantity": 2, "price": 4000}]}


def _redeem(api, *redeemables, order=CART, **extra):
    return api.post("/v1/redemptions", {"redeemables": list(redeemables), "order": order, **extra})


def _reconciled():
    report = selectors.reconciliation()
    assert report["reconciled"], report


def test_standalone_gift_card_via_api_has_the_spec_shape(api):
    response = api.post("/v1/vouchers", {"type": "GIFT_VOUCHER", "code": "GC-STANDALONE", "gift": {"amount": 5000}})
    body = assert_matches_spec(response, "/v1/vouchers", "post")
    assert response.status_code == 201
    assert body["type"] == "GIFT_VOUCHER"
    assert body["gift"] == {"amount": 5000, "subtracted_amount": 0, "balance": 5000, "effect": "APPLY_TO_ORDER"}
    assert body["assets"]["qr"]["url"] and body["assets"]["barcode"]["url"]
    card = GiftCard.objects.get(voucher__code="GC-STANDALONE")
    assert (card.balance, card.face_value) == (5000, 5000)
    assert list(card.transactions.values_list("kind", "amount", "balance_after")) == [("issue", 5000, 5000)]


def test_gift_card_needs_an_amount_and_refuses_a_discount(api):
    assert_error(api.post("/v1/vouchers", {"type": "GIFT_VOUCHER", "code": "NOAMT"}), 400, "invalid_payload")
    assert_error(api.post("/v1/vouchers", {"type": "GIFT_VOUCHER", "gift": {"amount": -5}}), 400, "invalid_payload")
    assert_error(api.post("/v1/vouchers", {"type": "GIFT_VOUCHER", "gift": {"amount": 10.5}}), 400, "invalid_payload")
    assert_error(api.post("/v1/vouchers", {"type": "GIFT_VOUCHER", "gift": {"amount": 100},
                                           "discount": {"type": "AMOUNT", "amount_off": 1}}), 400, "invalid_payload")


def test_campaign_of_gift_cards_generates_cards_with_balances(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/v1/campaigns", {
            "name": "Xmas cards", "campaign_type": "GIFT_VOUCHERS", "vouchers_count": 25,
            "voucher": {"type": "GIFT_VOUCHER", "gift": {"amount": 2500},
                        "code_config": {"length": 12, "charset": "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"}}})
    body = assert_matches_spec(response, "/v1/campaigns", "post")
    assert body["campaign_type"] == "GIFT_VOUCHERS" and body["voucher"]["gift"]["amount"] == 2500
    assert GiftCard.objects.filter(voucher__campaign__public_id=body["id"], balance=2500).count() == 25
    assert GiftCardTransaction.objects.filter(kind="issue").count() == 25
    one = Voucher.objects.filter(campaign__public_id=body["id"]).first()
    assert api.get(f"/v1/vouchers/{one.code}").json()["gift"]["balance"] == 2500
    _reconciled()


def test_gift_code_space_is_a_trillion_per_card(api):
    response = api.post("/v1/campaigns", {
        "name": "Short codes", "campaign_type": "GIFT_VOUCHERS", "vouchers_count": 1000,
        "voucher": {"type": "GIFT_VOUCHER", "gift": {"amount": 2500}, "code_config": {"length": 8}}})
    body = assert_error(response, 400, "code_space_too_small")
    assert "1e+12 per code" in body["details"]
    # The same code_config is fine for discount coupons (a billion per code).
    ok = api.post("/v1/campaigns", {"name": "Coupons", "vouchers_count": 1000, "voucher": {
        "discount": {"type": "AMOUNT", "amount_off": 100}, "code_config": {"length": 8}}})
    assert ok.status_code == 201, ok.json()


def test_partial_spend_with_credits_and_the_order_totals(api):
    gift_card("GC-1", 10_000)
    response = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": "GC-1",
                                                             "gift": {"credits": 3000}}], "order": CART})
    body = assert_matches_spec(response, "/v1/validations", "post")
    assert body["valid"] is True
    assert body["redeemables"][0]["result"] == {"gift": {"credits": 3000}}
    assert body["order"]["total_amount"] == 5000 and body["order"]["applied_discount_amount"] == 3000
    redeemed = _redeem(api, {"object": "voucher", "id": "GC-1", "gift": {"credits": 3000}})
    assert_matches_spec(redeemed, "/v1/redemptions", "post")
    assert redeemed.json()["order"]["total_amount"] == 5000
    card = GiftCard.objects.get(voucher__code="GC-1")
    assert (card.balance, card.redeemed_amount) == (7000, 3000)
    spend = card.transactions.get(kind="spend")
    assert spend.amount == -3000 and spend.balance_after == 7000
    assert spend.redemption_id == redeemed.json()["parent_redemption"]["id"]
    assert api.get("/v1/vouchers/GC-1").json()["gift"]["balance"] == 7000
    _reconciled()


def test_without_credits_the_card_pays_what_is_left(api):
    gift_card("GC-SMALL", 2000)
    gift_card("GC-BIG", 50_000)
    small = _redeem(api, {"object": "voucher", "id": "GC-SMALL"}).json()
    assert small["order"]["total_amount"] == 6000
    big = _redeem(api, {"object": "voucher", "id": "GC-BIG"}).json()
    assert big["order"]["total_amount"] == 0
    assert GiftCard.objects.get(voucher__code="GC-BIG").balance == 42_000
    assert GiftCard.objects.get(voucher__code="GC-SMALL").balance == 0
    # An empty card is refused.
    refused = _redeem(api, {"object": "voucher", "id": "GC-SMALL"})
    assert_error(refused, 400, "gift_amount_exceeded")


def test_credits_above_the_balance_are_refused(api):
    gift_card("GC-2", 1000)
    response = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": "GC-2",
                                                             "gift": {"credits": 1001}}], "order": CART})
    body = response.json()
    assert body["valid"] is False
    assert body["redeemables"][0]["result"]["error"]["key"] == "gift_amount_exceeded"
    assert_error(_redeem(api, {"object": "voucher", "id": "GC-2", "gift": {"credits": 1001}}), 400,
                 "gift_amount_exceeded")
    assert GiftCard.objects.get(voucher__code="GC-2").balance == 1000


def test_gift_card_needs_an_order(api):
    gift_card("GC-3", 1000)
    body = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": "GC-3"}]}).json()
    assert body["redeemables"][0]["result"]["error"]["key"] == "missing_amount"


def test_stacked_with_a_coupon_the_coupon_applies_first_whatever_the_order(api):
    VoucherFactory(code="TENOFF", discount={"type": "PERCENT", "percent_off": 10})
    gift_card("GC-4", 100_000)
    response = _redeem(api, {"object": "voucher", "id": "GC-4"}, {"object": "voucher", "id": "TENOFF"})
    body = assert_matches_spec(response, "/v1/redemptions", "post")
    # 10% of 8000 first (800), then the card pays the remaining 7200.
    assert body["order"]["discount_amount"] == 8000 and body["order"]["total_amount"] == 0
    by_id = {r["related_object_id"]: r for r in body["redemptions"]}
    assert len(by_id) == 2
    card = GiftCard.objects.get(voucher__code="GC-4")
    assert card.balance == 100_000 - 7200
    # Roll the stacked redemption back: the card gets exactly its credits back, once.
    parent = body["parent_redemption"]["id"]
    rolled = api.post(f"/v1/redemptions/{parent}/rollbacks", {})
    assert rolled.status_code == 200, rolled.json()
    card.refresh_from_db()
    assert card.balance == 100_000 and card.redeemed_amount == 0
    assert_error(api.post(f"/v1/redemptions/{parent}/rollbacks", {}), 400, "already_rolled_back")
    card.refresh_from_db()
    assert card.balance == 100_000
    kinds = list(card.transactions.order_by("id").values_list("kind", "amount"))
    assert kinds == [("issue", 100_000), ("spend", -7200), ("rollback", 7200)]
    _reconciled()


def test_balance_top_up_and_debit(api):
    gift_card("GC-5", 1000)
    response = api.post("/v1/vouchers/GC-5/balance", {"amount": 2500, "reason": "Goodwill"})
    body = assert_matches_spec(response, "/v1/vouchers/{code}/balance", "post")
    assert body["amount"] == 2500 and body["balance"] == 3500 and body["type"] == "gift_voucher"
    debit = api.post("/v1/vouchers/GC-5/balance", {"amount": -500, "reason": "Correction", "source_id": "crm-77"})
    assert debit.json()["balance"] == 3000
    assert_error(api.post("/v1/vouchers/GC-5/balance", {"amount": -3001}), 400, "gift_amount_exceeded")
    assert_error(api.post("/v1/vouchers/GC-5/balance", {"amount": 0}), 400, "invalid_payload")
    assert_error(api.post("/v1/vouchers/GC-5/balance", {"amount": "10"}), 400, "invalid_payload")
    assert_error(api.post("/v1/vouchers/NOPE/balance", {"amount": 10}), 404, "not_found")
    VoucherFactory(code="COUPON")
    assert_error(api.post("/v1/vouchers/COUPON/balance", {"amount": 10}), 400, "invalid_voucher")
    card = GiftCard.objects.get(voucher__code="GC-5")
    assert (card.amount, card.subtracted_amount, card.balance) == (3500, 500, 3000)
    voucher = api.get("/v1/vouchers/GC-5").json()
    assert voucher["gift"] == {"amount": 3500, "subtracted_amount": 500, "balance": 3000, "effect": "APPLY_TO_ORDER"}
    _reconciled()


def test_balance_changes_are_idempotent_with_a_key(api):
    gift_card("GC-IDEM", 1000)
    first = api.post("/v1/vouchers/GC-IDEM/balance", {"amount": 100}, headers={"Idempotency-Key": "k1"})
    again = api.post("/v1/vouchers/GC-IDEM/balance", {"amount": 100}, headers={"Idempotency-Key": "k1"})
    assert first.json() == again.json()
    assert GiftCard.objects.get(voucher__code="GC-IDEM").balance == 1100


def test_transactions_list_pages_and_matches_the_spec(api):
    gift_card("GC-6", 1000)
    for amount in (100, 200, 300):
        api.post("/v1/vouchers/GC-6/balance", {"amount": amount, "reason": f"r{amount}"})
    response = api.get("/v1/vouchers/GC-6/transactions", limit=2)
    body = assert_matches_spec(response, "/v1/vouchers/{code}/transactions", "get")
    assert [t["details"]["balance"]["amount"] for t in body["data"]] == [300, 200]
    assert body["has_more"] is True
    rest = api.get("/v1/vouchers/GC-6/transactions", limit=2, starting_after_id=body["more_starting_after"]).json()
    assert [t["details"]["balance"]["amount"] for t in rest["data"]] == [100, 1000]
    assert rest["has_more"] is False and rest["data"][-1]["kind"] == "issue"
    assert rest["data"][0]["type"] == "CREDITS_ADDITION" and rest["data"][0]["reason"] == "r100"
    oldest_first = api.get("/v1/vouchers/GC-6/transactions", order="id").json()
    assert oldest_first["data"][0]["kind"] == "issue"
    assert_error(api.get("/v1/vouchers/GC-6/transactions", order="amount"), 400, "invalid_payload")
    assert_error(api.get("/v1/vouchers/GC-6/transactions", limit=0), 400, "invalid_payload")
    assert_error(api.get("/v1/vouchers/GC-6/transactions", starting_after_id="vtx_nope"), 404, "not_found")


def test_transactions_export_gives_a_signed_csv_url(api, anon_api):
    gift_card("GC-7", 1000)
    api.post("/v1/vouchers/GC-7/balance", {"amount": -250, "reason": "Broken, card, reissued"})
    response = api.post("/v1/vouchers/GC-7/transactions/export", {"parameters": {"fields": ["id", "type", "amount",
                                                                                              "balance", "reason"]}})
    body = assert_matches_spec(response, "/v1/vouchers/{code}/transactions/export", "post")
    url = body["result"]["url"]
    download = anon_api.client.get(url.replace("http://testserver", ""))
    assert download.status_code == 200
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert lines[0] == "id,type,amount,balance,reason"
    assert lines[1].split(",")[1:4] == ["CREDITS_REMOVAL", "-250", "750"]
    assert '"Broken, card, reissued"' in lines[1]
    assert anon_api.get("/v1/vouchers/GC-7/transactions/export.csv", token="forged").status_code in (401, 403)
    direct = api.client.get("/v1/vouchers/GC-7/transactions/export.csv", headers=api.headers)
    assert direct.status_code == 200


def test_refund_onto_an_existing_card_and_onto_a_new_one(api):
    from tests.customers.factories import CustomerFactory, OrderFactory

    gift_card("GC-8", 0)
    first = OrderFactory(source_id="ORD-1001", amount=2500, discount_amount=500)
    customer = CustomerFactory(source_id="ann", address_country="DE")
    OrderFactory(source_id="ORD-1002", amount=5000, customer=customer)
    response = api.post("/v1/gift-cards/refunds", {"amount": 1999, "order": "ORD-1001", "voucher": "GC-8"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["voucher"]["gift"]["balance"] == 1999
    assert body["transaction"]["kind"] == "refund"
    assert body["transaction"]["details"]["order"] == {"id": first.public_id, "source_id": "ORD-1001"}
    assert body["order"] == {"id": first.public_id, "source_id": "ORD-1001", "paid_amount": 2000,
                             "refunded_amount": 1999, "refunds": 1, "refundable_amount": 1}
    new = api.post("/v1/gift-cards/refunds", {"amount": 4200, "order": "ORD-1002", "customer": "ann",
                                              "reason": "Late delivery"})
    assert new.status_code == 201, new.json()
    code = new.json()["voucher"]["code"]
    card = GiftCard.objects.select_related("voucher").get(voucher__code=code)
    assert card.voucher.holder_id == customer.pk and card.balance == 4200 and card.origin == "refund"
    assert list(card.transactions.order_by("id").values_list("kind", "amount", "order_source_id", "reason")) == [
        ("issue", 0, "", "Card issued"), ("refund", 4200, "ORD-1002", "Late delivery")]
    assert_error(api.post("/v1/gift-cards/refunds", {"amount": 10, "order": "X"}), 400, "invalid_payload")
    assert_error(api.post("/v1/gift-cards/refunds", {"amount": 10, "voucher": "GC-8"}), 400, "invalid_payload")
    assert_error(api.post("/v1/gift-cards/refunds", {"amount": 10, "order": "X", "customer": "nobody"}), 404,
                 "not_found")
    _reconciled()


def test_a_gift_card_cannot_be_deleted(api):
    gift_card("GC-9", 1000)
    assert_error(api.delete("/v1/vouchers/GC-9"), 409, "voucher_protected")
    assert api.post("/v1/vouchers/GC-9/disable").status_code == 200
    assert_error(_redeem(api, {"object": "voucher", "id": "GC-9"}), 400, "voucher_disabled")


def test_liability_and_reconciliation(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        gift_campaign("Partner cards", amount=5000, count=4)
    card = gift_card("GC-10", 10_000, gift={"amount": 10_000, "sold_price": 8000})
    _redeem(api, {"object": "voucher", "id": "GC-10", "gift": {"credits": 2500}})
    body = api.get("/v1/gift-cards/liability").json()
    assert body["outstanding_balance"] == 4 * 5000 + 7500
    assert body["face_value_total"] == 30_000 and body["sold_total"] == 28_000 and body["spent_total"] == 2500
    campaigns = {row["campaign_name"]: row for row in body["by_campaign"]}
    assert campaigns["Partner cards"]["outstanding_balance"] == 20_000
    assert campaigns["(standalone cards)"]["outstanding_balance"] == 7500
    assert sum(row["outstanding_balance"] for row in body["by_expiry_month"]) == body["outstanding_balance"]
    assert api.get("/v1/gift-cards/reconciliation").json()["reconciled"] is True
    assert card.pk


def test_sold_price_above_face_value_is_refused(api):
    response = api.post("/v1/vouchers", {"type": "GIFT_VOUCHER", "gift": {"amount": 1000, "sold_price": 1001}})
    assert_error(response, 400, "invalid_payload")
    assert not GiftCard.objects.exists() and not Voucher.objects.exists()


def test_api_keys_are_required(anon_api):
    gift_card("GC-11", 1000)
    for response in (anon_api.post("/v1/vouchers/GC-11/balance", {"amount": 10}),
                     anon_api.get("/v1/vouchers/GC-11/transactions"), anon_api.get("/v1/gift-cards/liability")):
        assert response.status_code in (401, 403)


def test_customer_summary_counts_the_cards_they_hold(api):
    from tests.customers.factories import CustomerFactory

    customer = CustomerFactory(source_id="holder")
    gift_card("GC-H1", 3000, holder_id="holder")
    gift_card("GC-H2", 2000, holder_id="holder")
    _redeem(api, {"object": "voucher", "id": "GC-H1", "gift": {"credits": 1000}})
    summary = api.get(f"/v1/customers/{customer.public_id}").json()["summary"]["redemptions"]["gift"]
    assert summary == {"redeemed_amount": 1000, "amount_to_go": 4000}


def test_adding_one_card_to_a_gift_campaign(api):
    campaign = gift_campaign("Add one", amount=7000)
    response = api.post(f"/v1/campaigns/{campaign.public_id}/vouchers", {"metadata": {"store": "A"}})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["type"] == "GIFT_VOUCHER" and body["gift"]["balance"] == 7000
    assert GiftCard.objects.get(voucher__code=body["code"]).origin == "campaign"
    assert body["code"].startswith("GC-") and len(body["code"]) == 15
    refused = api.post(f"/v1/campaigns/{campaign.public_id}/vouchers", {"discount": {"type": "AMOUNT",
                                                                                    "amount_off": 5}})
    assert_error(refused, 400, "invalid_payload")
    assert_error(api.put(f"/v1/campaigns/{campaign.public_id}", {"discount": {"type": "AMOUNT", "amount_off": 5}}),
                 400, "invalid_payload")

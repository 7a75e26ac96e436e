"""The official Voucherify Python SDK (6.1.1) against a live server: a gift card campaign, a partial spend
stacked with a coupon, a top-up, a rollback and the card's transactions, each answer checked against the
spec by the SDK's own models (and the HTTP bodies by assert_matches_spec in test_api.py)."""

import pytest
import voucherify as v

from giftcards import selectors
from giftcards.models import GiftCard
from promo.models import Voucher
from tests.promo.factories import VoucherFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_gift_card_round_trip_with_the_sdk(sdk_client):
    campaigns, vouchers = v.CampaignsApi(sdk_client), v.VouchersApi(sdk_client)
    created = campaigns.create_campaign(v.CampaignsCreateRequestBody(
        name="SDK gift cards", campaign_type="GIFT_VOUCHERS", type="AUTO_UPDATE", vouchers_count=3,
        voucher=v.CampaignsCreateRequestBodyVoucher(
            type="GIFT_VOUCHER", gift=v.Gift(amount=10_000, effect="APPLY_TO_ORDER"),
            code_config=v.CodeConfig(length=12, charset="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", prefix="GIFT-"))))
    assert created.campaign_type == "GIFT_VOUCHERS" and created.voucher.gift.amount == 10_000
    listed = vouchers.list_vouchers(campaign_id=created.id, limit=10)
    assert listed.total == 3
    code = listed.vouchers[0].code
    fetched = vouchers.get_voucher(code)
    assert fetched.type == "GIFT_VOUCHER" and fetched.gift.balance == 10_000 and fetched.assets.qr.url
    VoucherFactory(code="SDK-COUPON", discount={"type": "AMOUNT", "amount_off": 1000})

    order = v.Order(amount=6000, items=[v.OrderItem(source_id="sku-1", related_object="sku", quantity=2,
                                                    price=3000)])
    redeemables = [
        {"object": "voucher", "id": code, "gift": {"credits": 2500}},
        {"object": "voucher", "id": "SDK-COUPON"},
    ]
    validation = v.ValidationsApi(sdk_client).validate_stacked_discounts(v.ValidationsValidateRequestBody.from_dict(
        {"redeemables": redeemables, "order": order.to_dict(), "customer": {"source_id": "gift-buyer"}}))
    assert validation.valid is True
    gift_result = next(r for r in validation.redeemables if r.id == code)
    assert gift_result.result.gift.credits == 2500
    assert validation.order.total_amount == 6000 - 1000 - 2500

    redemption = v.RedemptionsApi(sdk_client).redeem_stacked_discounts(v.RedemptionsRedeemRequestBody.from_dict(
        {"redeemables": redeemables, "order": order.to_dict(), "customer": {"source_id": "gift-buyer"}}))
    assert redemption.order.total_amount == 2500
    assert vouchers.get_voucher(code).gift.balance == 7500

    topped = vouchers.update_voucher_balance(code, v.VouchersBalanceUpdateRequestBody(amount=1000,
                                                                                         reason="Goodwill"))
    assert topped.balance == 8500 and topped.type == "gift_voucher" and topped.object == "balance"

    rolled = v.RedemptionsApi(sdk_client).rollback_stacked_redemptions(redemption.parent_redemption.id)
    assert rolled.parent_rollback.redemption == redemption.parent_redemption.id
    assert vouchers.get_voucher(code).gift.balance == 11_000

    transactions = vouchers.list_voucher_transactions(code, limit=10)
    kinds = [(t.type, t.details.balance.amount, t.details.balance.balance) for t in transactions.data]
    assert kinds == [("CREDITS_REFUND", 2500, 11_000), ("CREDITS_ADDITION", 1000, 8500),
                     ("CREDITS_REDEMPTION", -2500, 7500), ("CREDITS_ADDITION", 10_000, 10_000)]
    assert transactions.has_more is False
    export = vouchers.export_voucher_transactions(code, v.VouchersTransactionsExportCreateRequestBody.from_dict(
        {"parameters": {"order": "-created_at", "fields": ["id", "type", "amount", "balance"]}}))
    assert export.object == "export" and "export.csv" in export.result.url
    assert selectors.reconciliation()["reconciled"]
    assert GiftCard.objects.filter(voucher__campaign__public_id=created.id).count() == 3
    assert Voucher.objects.filter(code=code).exists()

"""The official Voucherify Python SDK (6.1.1) against a live server: categories, campaigns with generated
codes, vouchers, and a full validate -> redeem -> roll back -> read round trip on generated codes."""

from datetime import UTC, datetime

import pytest
import voucherify as v

from promo.models import Campaign, Voucher

pytestmark = pytest.mark.django_db(transaction=True)


def _campaign_body(name: str, count: int, **extra) -> v.CampaignsCreateRequestBody:
    return v.CampaignsCreateRequestBody(
        name=name, campaign_type="DISCOUNT_COUPONS", type="AUTO_UPDATE", vouchers_count=count,
        voucher=v.CampaignsCreateRequestBodyVoucher(
            type="DISCOUNT_VOUCHER", discount=v.Discount(type="AMOUNT", amount_off=1500),
            redemption=v.CampaignsCreateRequestBodyVoucherRedemption(quantity=1),
            code_config=v.CodeConfig(length=10, charset="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", prefix="SDK-")),
        **extra)


def test_categories(sdk_client):
    categories = v.CategoriesApi(sdk_client)
    created = categories.create_category(v.CategoriesCreateRequestBody(name="Fashion", hierarchy=1))
    assert created.id.startswith("cat_") and created.name == "Fashion"
    assert categories.get_category(created.id).hierarchy == 1
    updated = categories.update_category(created.id, v.CategoriesUpdateRequestBody(hierarchy=3))
    assert updated.hierarchy == 3
    assert [c.name for c in categories.list_categories().data] == ["Fashion"]
    categories.delete_category(created.id)
    with pytest.raises(v.exceptions.NotFoundException):
        categories.get_category(created.id)


def test_create_campaign_with_a_thousand_codes_then_list_them(sdk_client):
    campaigns = v.CampaignsApi(sdk_client)
    created = campaigns.create_campaign(_campaign_body("SDK thousand", 1000, metadata={"team": "growth"}))
    assert created.id.startswith("camp_") and created.name == "SDK thousand"
    assert created.voucher.code_config.prefix == "SDK-" and created.voucher.code_config.length == 10
    assert created.voucher.discount.amount_off == 1500 and created.metadata == {"team": "growth"}
    assert created.vouchers_count == 1000 and created.vouchers_generation_status == "DONE"  # eager Celery

    fetched = campaigns.get_campaign(created.id)
    assert fetched.vouchers_count == 1000 and fetched.voucher.redemption.quantity == 1
    listed = campaigns.list_campaigns(limit=10)
    assert [c.id for c in listed.campaigns] == [created.id] and listed.total == 1

    vouchers = v.VouchersApi(sdk_client)
    seen = set()
    for page in (1, 2, 3):
        result = vouchers.list_vouchers(campaign_id=created.id, limit=100, page=page)
        assert result.total == 1000 and len(result.vouchers) == 100
        for item in result.vouchers:
            assert item.campaign_id == created.id and item.code.startswith("SDK-") and len(item.code) == 14
            assert item.redemption.quantity == 1 and item.discount.amount_off == 1500
            seen.add(item.code)
    assert len(seen) == 300
    stored = Voucher.objects.filter(campaign__public_id=created.id)
    assert stored.count() == 1000 and stored.values("code").distinct().count() == 1000

    updated = campaigns.update_campaign(created.id, v.CampaignsUpdateRequestBody(description="Updated"))
    assert updated.description == "Updated"
    campaigns.disable_campaign(created.id)
    assert campaigns.get_campaign(created.id).active is False
    campaigns.enable_campaign(created.id)
    summary = campaigns.get_campaign_summary(created.id)
    assert summary.redemptions == 0 and summary.object == "campaign_summary"

    added = campaigns.add_vouchers_to_campaign(created.id, vouchers_count=5,
                                               campaigns_vouchers_create_in_bulk_request_body=
                                               v.CampaignsVouchersCreateInBulkRequestBody(metadata={"wave": 2}))
    assert added.async_action_id.startswith("aa_")
    action = v.AsyncActionsApi(sdk_client).get_async_action(added.async_action_id)
    assert action.status == "DONE"
    assert Voucher.objects.filter(campaign__public_id=created.id).count() == 1005
    single = campaigns.add_voucher_with_specific_code_to_campaign(
        created.id, "SDK-SPECIFIC", v.CampaignsVouchersCreateRequestBody(additional_info="one off"))
    assert single.code == "SDK-SPECIFIC" and single.campaign_id == created.id

    deleted = campaigns.delete_campaign(created.id)
    assert deleted.async_action_id.startswith("aa_")
    with pytest.raises(v.exceptions.NotFoundException):
        campaigns.get_campaign(created.id)
    assert Campaign.objects.get(public_id=created.id).deleted_at is not None


def test_vouchers_get_create_update_enable_disable(sdk_client):
    vouchers = v.VouchersApi(sdk_client)
    created = vouchers.create_voucher("BLACKFRIDAY19", v.VouchersCreateWithSpecificCodeRequestBody(
        type="DISCOUNT_VOUCHER", discount=v.Discount(type="PERCENT", percent_off=20, amount_limit=5000),
        redemption=v.VouchersCreateWithSpecificCodeRequestBodyRedemption(quantity=100),
        start_date=datetime(2019, 11, 29, tzinfo=UTC), metadata={"channel": "web"}))
    assert created.code == "BLACKFRIDAY19" and created.id.startswith("v_")
    assert created.discount.percent_off == 20 and created.redemption.quantity == 100
    assert created.assets.qr.url.endswith(f"token={created.assets.qr.id}")
    assert created.start_date == datetime(2019, 11, 29, tzinfo=UTC)

    random = vouchers.generate_random_code(v.VouchersCreateRequestBody(
        discount=v.Discount(type="AMOUNT", amount_off=300), code_config=v.CodeConfig(pattern="R-########")))
    assert random.code.startswith("R-") and len(random.code) == 10

    fetched = vouchers.get_voucher("BLACKFRIDAY19")
    assert fetched.id == created.id and fetched.metadata == {"channel": "web"}
    updated = vouchers.update_voucher("BLACKFRIDAY19", v.VouchersUpdateRequestBody(
        additional_info="Weekend only", metadata={"channel": "store"}))
    assert updated.additional_info == "Weekend only" and updated.metadata == {"channel": "store"}
    assert vouchers.disable_voucher("BLACKFRIDAY19").active is False
    assert vouchers.enable_voucher("BLACKFRIDAY19").active is True

    bulk = vouchers.update_vouchers_metadata_in_bulk(v.VouchersMetadataUpdateInBulkRequestBody(
        codes=["BLACKFRIDAY19", random.code], metadata={"batch": "x"}))
    assert bulk.async_action_id.startswith("aa_")
    assert vouchers.get_voucher(random.code).metadata == {"batch": "x"}
    per_code = vouchers.update_vouchers_in_bulk([v.VouchersUpdateInBulkItemRequestBody(
        code="BLACKFRIDAY19", metadata={"extra": 1})])
    assert per_code.async_action_id.startswith("aa_")
    assert vouchers.get_voucher("BLACKFRIDAY19").metadata == {"channel": "store", "batch": "x", "extra": 1}

    with pytest.raises(v.exceptions.ApiException) as duplicate:
        vouchers.create_voucher("BLACKFRIDAY19", v.VouchersCreateWithSpecificCodeRequestBody(
            discount=v.Discount(type="AMOUNT", amount_off=1)))
    assert duplicate.value.status == 409
    vouchers.delete_voucher("BLACKFRIDAY19")
    with pytest.raises(v.exceptions.NotFoundException):
        vouchers.get_voucher("BLACKFRIDAY19")


def test_end_to_end_generated_codes_validate_redeem_roll_back(sdk_client):
    campaigns = v.CampaignsApi(sdk_client)
    campaign = campaigns.create_campaign(_campaign_body("SDK e2e", 1000))
    page = v.VouchersApi(sdk_client).list_vouchers(campaign_id=campaign.id, limit=2)
    first, second = (item.code for item in page.vouchers)
    order = v.Order(amount=10000, items=[v.OrderItem(source_id="sku-1", related_object="sku", quantity=2,
                                                     price=5000)])
    customer = v.Customer(source_id="sdk-e2e-customer")

    validation = v.ValidationsApi(sdk_client).validate_stacked_discounts(v.ValidationsValidateRequestBody(
        redeemables=[v.ValidationsValidateRequestBodyRedeemablesItem(object="voucher", id=code)
                     for code in (first, second)], order=order, customer=customer))
    assert validation.valid is True
    assert validation.order.total_discount_amount == 3000 and validation.order.total_amount == 7000

    redemptions = v.RedemptionsApi(sdk_client)
    redeemed = redemptions.redeem_stacked_discounts(v.RedemptionsRedeemRequestBody(
        redeemables=[v.RedemptionsRedeemRequestBodyRedeemablesItem(object="voucher", id=code)
                     for code in (first, second)], order=order, customer=customer))
    parent_id = redeemed.parent_redemption.id
    assert redeemed.order.total_amount == 7000 and len(redeemed.redemptions) == 2
    assert {r.voucher.code for r in redeemed.redemptions} == {first, second}
    assert Voucher.objects.get(code=first).redeemed_quantity == 1

    with pytest.raises(v.exceptions.BadRequestException):  # quantity 1: used up
        redemptions.redeem_stacked_discounts(v.RedemptionsRedeemRequestBody(
            redeemables=[v.RedemptionsRedeemRequestBodyRedeemablesItem(object="voucher", id=first)], order=order))

    summary = campaigns.get_campaign_summary(campaign.id)
    assert summary.redemptions_succeeded == 2 and summary.redemptions_failed == 1
    assert summary.discounted_amount == 3000

    rolled = redemptions.rollback_stacked_redemptions(parent_id, reason="returned")
    assert rolled.parent_rollback.redemption == parent_id and len(rolled.rollbacks) == 2
    assert Voucher.objects.get(code=first).redeemed_quantity == 0

    fetched = redemptions.get_redemption(parent_id)
    assert fetched.status == "ROLLED_BACK" and fetched.id == parent_id
    again = redemptions.redeem_stacked_discounts(v.RedemptionsRedeemRequestBody(
        redeemables=[v.RedemptionsRedeemRequestBodyRedeemablesItem(object="voucher", id=first)], order=order))
    assert again.parent_redemption.result == "SUCCESS"  # the use came back with the rollback
    summary = campaigns.get_campaign_summary(campaign.id)
    assert summary.rollbacks_succeeded == 2 and summary.redemptions_succeeded == 3

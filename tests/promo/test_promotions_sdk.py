"""The official Voucherify Python SDK (6.1.1) against a live server: PROMOTION campaigns with tiers, tier and
stack management, promotion tiers and stacks in validations and redemptions, and qualifications."""

import pytest
import voucherify as v

from promo.models import PromotionTier

pytestmark = pytest.mark.django_db(transaction=True)


def _tier(name: str, discount: v.Discount, **extra) -> v.PromotionTierCreateParams:
    return v.PromotionTierCreateParams(name=name, action=v.PromotionTierCreateParamsAction(discount=discount), **extra)


def _order() -> v.Order:
    return v.Order(items=[v.OrderItem(source_id="shirt", related_object="product", quantity=2, price=2500),
                          v.OrderItem(source_id="socks", related_object="product", quantity=1, price=500)])


def _promotion_campaign(client) -> v.CampaignsCreateResponseBody:
    return v.CampaignsApi(client).create_campaign(v.CampaignsCreateRequestBody(
        name="SDK sale", campaign_type="PROMOTION", promotion=v.CampaignsCreateRequestBodyPromotion(tiers=[
            _tier("10 off", v.Discount(type="AMOUNT", amount_off=1000, effect="APPLY_TO_ORDER"), banner="Save 10"),
            _tier("20% off", v.Discount(type="PERCENT", percent_off=20), metadata={"kind": "percent"}),
        ])))


def test_tiers_through_the_sdk(sdk_client):
    created = _promotion_campaign(sdk_client)
    assert created.campaign_type == "PROMOTION" and created.promotion.total == 2
    first, second = created.promotion.tiers
    assert first.name == "10 off" and first.banner == "Save 10" and first.action.discount.amount_off == 1000
    promotions = v.PromotionsApi(sdk_client)
    added = promotions.add_promotion_tier_to_campaign(created.id, v.PromotionsTiersCreateRequestBody(
        name="Free socks", action=v.PromotionsTiersCreateRequestBodyAction(discount=v.Discount(
            type="UNIT", unit_off=1, unit_type="socks", effect="ADD_MISSING_ITEMS")), hierarchy=7))
    assert added.id.startswith("promo_") and added.hierarchy == 7 and added.campaign_id == created.id
    assert [t.id for t in promotions.list_promotion_tiers_from_campaign(created.id).tiers] == [
        first.id, second.id, added.id]
    fetched = promotions.get_promotion_tier(second.id)
    assert fetched.metadata == {"kind": "percent"} and fetched.summary.redemptions.total_redeemed == 0
    updated = promotions.update_promotion_tier(second.id, v.PromotionsTiersUpdateRequestBody(
        name="25% off", action=v.PromotionsTiersUpdateRequestBodyAction(discount=v.Discount(type="PERCENT",
                                                                                            percent_off=25))))
    assert updated.name == "25% off" and updated.action.discount.percent_off == 25
    assert promotions.disable_promotion_tier(added.id).active is False
    assert promotions.enable_promotion_tier(added.id).active is True
    listed = promotions.list_promotion_tiers(is_available=True, limit=2, page=1)
    assert listed.total == 3 and len(listed.tiers) == 2 and listed.has_more is True
    promotions.delete_promotion_tier(added.id)
    with pytest.raises(v.exceptions.NotFoundException):
        promotions.get_promotion_tier(added.id)


def test_stacks_through_the_sdk(sdk_client):
    created = _promotion_campaign(sdk_client)
    ids = [t.id for t in created.promotion.tiers]
    promotions = v.PromotionsApi(sdk_client)
    stack = promotions.create_promotion_stack(created.id, v.PromotionsStacksCreateRequestBody(
        name="Both", tiers=v.PromotionsStacksCreateRequestBodyTiers(ids=ids, hierarchy_mode="MANUAL")))
    assert stack.id.startswith("stack_") and stack.tiers.ids == ids and stack.campaign_id == created.id
    assert promotions.get_promotion_stack(created.id, stack.id).name == "Both"
    renamed = promotions.update_promotion_stack(created.id, stack.id, v.PromotionsStacksUpdateRequestBody(
        name="Both of them", tiers=v.PromotionsStacksUpdateRequestBodyTiers(ids=ids[::-1])))
    assert renamed.name == "Both of them" and renamed.tiers.ids == ids[::-1]
    assert [s.id for s in promotions.list_promotion_stacks_in_campaign(created.id).data] == [stack.id]
    assert promotions.list_all_promotion_stacks(limit=10, order="name").total == 1
    promotions.delete_promotion_stack(created.id, stack.id)
    with pytest.raises(v.exceptions.NotFoundException):
        promotions.get_promotion_stack(created.id, stack.id)


def test_validate_and_redeem_tiers_and_stacks_through_the_sdk(sdk_client):
    created = _promotion_campaign(sdk_client)
    ten, twenty = created.promotion.tiers
    stack = v.PromotionsApi(sdk_client).create_promotion_stack(created.id, v.PromotionsStacksCreateRequestBody(
        name="Both", tiers=v.PromotionsStacksCreateRequestBodyTiers(ids=[ten.id, twenty.id])))
    validated = v.ValidationsApi(sdk_client).validate_stacked_discounts(v.ValidationsValidateRequestBody(
        redeemables=[v.ValidationsValidateRequestBodyRedeemablesItem(object="promotion_stack", id=stack.id)],
        order=_order(), customer=v.Customer(source_id="sdk-ann")))
    assert validated.valid is True and [r.id for r in validated.redeemables] == [ten.id, twenty.id]
    assert validated.order.total_discount_amount == 1000 + 900  # 10 off 5500, then 20% of 4500
    missing = v.ValidationsApi(sdk_client).validate_stacked_discounts(v.ValidationsValidateRequestBody(
        redeemables=[v.ValidationsValidateRequestBodyRedeemablesItem(object="promotion_stack", id="stack_nope")],
        order=_order()))  # the SDK must be able to read the refusal of a stack that does not exist
    assert missing.valid is False and missing.redeemables[0].status == "INAPPLICABLE"
    assert missing.redeemables[0].result.error.resource_type == "promotion_stack"
    redeemed = v.RedemptionsApi(sdk_client).redeem_stacked_discounts(v.RedemptionsRedeemRequestBody(
        redeemables=[v.RedemptionsRedeemRequestBodyRedeemablesItem(object="promotion_tier", id=ten.id)],
        order=_order(), customer=v.Customer(source_id="sdk-ann")))
    assert redeemed.redemptions[0].related_object_type == "promotion_tier"
    assert redeemed.order.total_amount == 4500
    tier = PromotionTier.objects.get(public_id=ten.id)
    assert (tier.redeemed_quantity, tier.discounted_amount) == (1, 1000)
    v.RedemptionsApi(sdk_client).rollback_stacked_redemptions(redeemed.parent_redemption.id)
    tier.refresh_from_db()
    assert (tier.redeemed_quantity, tier.discounted_amount) == (0, 0)


def test_qualifications_through_the_sdk(sdk_client):
    created = _promotion_campaign(sdk_client)
    ten, twenty = created.promotion.tiers
    v.PromotionsApi(sdk_client).create_promotion_stack(created.id, v.PromotionsStacksCreateRequestBody(
        name="Both", tiers=v.PromotionsStacksCreateRequestBodyTiers(ids=[ten.id, twenty.id])))
    qualifications = v.QualificationsApi(sdk_client)
    best = qualifications.check_eligibility(v.QualificationsCheckEligibilityRequestBody(
        customer=v.Customer(source_id="sdk-ann"), order=_order(), scenario="ALL",
        options=v.QualificationsOption(limit=2, sorting_rule="BEST_DEAL", expand=["redeemable", "category"])))
    data = best.redeemables.data
    assert [d.object for d in data] == ["promotion_stack", "promotion_tier"]
    assert data[0].order.total_applied_discount_amount == 1900 and data[1].id == twenty.id
    assert [r.id for r in data[0].redeemables] == [ten.id, twenty.id]
    assert best.redeemables.has_more is True and best.redeemables.more_starting_after is not None
    rest = qualifications.check_eligibility(v.QualificationsCheckEligibilityRequestBody(
        customer=v.Customer(source_id="sdk-ann"), order=_order(), options=v.QualificationsOption(
            limit=2, sorting_rule="BEST_DEAL", starting_after=best.redeemables.more_starting_after)))
    assert [d.id for d in rest.redeemables.data] == [ten.id] and rest.redeemables.has_more is False
    stacks = qualifications.check_eligibility(v.QualificationsCheckEligibilityRequestBody(
        order=_order(), scenario="PROMOTION_STACKS"))
    assert [d.object for d in stacks.redeemables.data] == ["promotion_stack"]

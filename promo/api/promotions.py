"""Promotion tiers and promotion stacks of PROMOTION campaigns (/v1/promotions/...), Voucherify-compatible.
Views gate JSON types with the serializers below and call promo.promotions."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import LooseDictField, StrictIntegerField
from core.api.pagination import LIST_PARAMETERS, paginate
from promo import promotions
from promo.api.campaigns import (
    DiscountSerializer,
    RedemptionLimitSerializer,
    ValiditySerializer,
    _bool_param,
    _choice_param,
    _gate,
    _moment_param,
    _opt,
)

TAGS = ["promotions"]


def _shape(name: str) -> OpenApiResponse:
    return OpenApiResponse(OpenApiTypes.OBJECT, description=f"Voucherify v1 `{name}` shape; amounts in minor units.")


class ActionSerializer(serializers.Serializer):
    discount = DiscountSerializer()


class TierWriteSerializer(ValiditySerializer):
    name = _opt(serializers.CharField, max_length=255)
    banner = _opt(serializers.CharField, allow_blank=True)
    action = _opt(ActionSerializer, help_text="The discount the tier gives (required when creating).")
    metadata = _opt(LooseDictField)
    hierarchy = _opt(StrictIntegerField, max_value=promotions.MAX_HIERARCHY,
                     help_text="Lower first; default: after the campaign's last tier.")
    active = _opt(serializers.BooleanField)
    category = _opt(serializers.CharField, allow_blank=True, help_text="Category id or name.")
    category_id = _opt(serializers.CharField, allow_blank=True)
    validation_rules = _opt(serializers.ListField, child=serializers.CharField(), max_length=30,
                            help_text="Validation rule ids to assign to the tier.")
    redemption = _opt(RedemptionLimitSerializer, help_text="Project extension: how many times the tier may be "
                                                           "redeemed (null: unlimited).")
    validation_rule_assignments = _opt(LooseDictField, help_text="Accepted and ignored: use validation_rules.")


class StackTiersSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.CharField(), min_length=1, max_length=promotions.MAX_TIERS_PER_STACK)
    hierarchy_mode = _opt(serializers.ChoiceField, choices=promotions.HIERARCHY_MODES)


class StackWriteSerializer(serializers.Serializer):
    name = _opt(serializers.CharField, max_length=255)
    tiers = _opt(StackTiersSerializer, help_text="The tiers, in the order they apply.")
    category_id = _opt(serializers.CharField, allow_blank=True)


def _tier_response(tier, status: int = 200) -> Response:
    return Response(promotions.tier_json(tier), status=status)


def _stack_response(stack, status: int = 200) -> Response:
    return Response(promotions.stack_json(stack), status=status)


# ================================================================ tiers

class TierListView(APIView):
    scoped = ("promo.PromotionTier",)

    @extend_schema(tags=TAGS, operation_id="list-promotion-tiers", summary="List promotion tiers",
                   parameters=[*LIST_PARAMETERS, OpenApiParameter("is_available", OpenApiTypes.BOOL,
                                                                  description="Only enabled, unexpired tiers."),
                               OpenApiParameter("order", OpenApiTypes.STR, enum=promotions.TIER_ORDERINGS)],
                   responses={200: _shape("PromotionsTiersListResponseBody")})
    def get(self, request):
        tiers = promotions.tier_list(is_available=_bool_param(request, "is_available"),
                                     order=_choice_param(request, "order", promotions.TIER_ORDERINGS))
        return Response(paginate(request, tiers, "tiers", promotions.tiers_json))


class CampaignTiersView(APIView):
    scoped = ("promo.Campaign", "promo.PromotionTier")

    @extend_schema(tags=TAGS, operation_id="list-promotion-tiers-from-campaign",
                   summary="List a promotion campaign's tiers", responses={200: _shape("PromotionTiersList")})
    def get(self, request, campaign_id: str):
        campaign = promotions.promotion_campaign_get(campaign_id)
        return Response(promotions.tiers_list_json(list(promotions.tier_list(campaign=campaign))))

    @extend_schema(tags=TAGS, operation_id="add-promotion-tier-to-campaign", summary="Add a promotion tier",
                   request=TierWriteSerializer, responses={201: _shape("PromotionTier")})
    def post(self, request, campaign_id: str):
        campaign = promotions.promotion_campaign_get(campaign_id)
        return _tier_response(promotions.tier_create(campaign, _gate(TierWriteSerializer, request)), 201)


class TierDetailView(APIView):
    scoped = ("promo.PromotionTier",)

    @extend_schema(tags=TAGS, operation_id="get-promotion-tier", summary="Get a promotion tier",
                   responses={200: _shape("PromotionTier")})
    def get(self, request, tier_id: str):
        return _tier_response(promotions.tier_get(tier_id))

    @extend_schema(tags=TAGS, operation_id="update-promotion-tier", summary="Update a promotion tier",
                   request=TierWriteSerializer, responses={200: _shape("PromotionTier")})
    def put(self, request, tier_id: str):
        tier = promotions.tier_get(tier_id)
        return _tier_response(promotions.tier_update(tier, _gate(TierWriteSerializer, request)))

    @extend_schema(tags=TAGS, operation_id="delete-promotion-tier", summary="Delete a promotion tier",
                   responses={204: None})
    def delete(self, request, tier_id: str):
        promotions.tier_delete(promotions.tier_get(tier_id))
        return Response(status=204)


class TierEnableView(APIView):
    scoped = ("promo.PromotionTier",)
    active = True

    @extend_schema(tags=TAGS, operation_id="enable-promotion-tier", summary="Enable a promotion tier", request=None,
                   responses={200: _shape("PromotionTier")})
    def post(self, request, tier_id: str):
        return _tier_response(promotions.tier_set_active(promotions.tier_get(tier_id), self.active))


class TierDisableView(TierEnableView):
    active = False

    @extend_schema(tags=TAGS, operation_id="disable-promotion-tier", summary="Disable a promotion tier",
                   request=None, responses={200: _shape("PromotionTier")})
    def post(self, request, tier_id: str):
        return super().post(request, tier_id)


# ================================================================ stacks

def _stack_page(rows) -> list[dict]:
    return [promotions.stack_json(stack) for stack in rows]


class StackListView(APIView):
    scoped = ("promo.PromotionStack",)

    @extend_schema(tags=TAGS, operation_id="list-all-promotion-stacks", summary="List promotion stacks",
                   parameters=[*LIST_PARAMETERS, OpenApiParameter("order", OpenApiTypes.STR,
                                                                  enum=promotions.STACK_ORDERINGS),
                               *[OpenApiParameter(f"{name}[{bound}]", OpenApiTypes.DATETIME)
                                 for name in ("created_at", "updated_at") for bound in ("after", "before")]],
                   responses={200: _shape("PromotionsStacksListResponseBody")})
    def get(self, request):
        bounds = {name: (_moment_param(request, f"{name}[after]"), _moment_param(request, f"{name}[before]"))
                  for name in ("created_at", "updated_at")}
        stacks = promotions.stack_list(
            order=_choice_param(request, "order", promotions.STACK_ORDERINGS, "-created_at"),
            created=bounds["created_at"], updated=bounds["updated_at"])
        return Response(paginate(request, stacks, "data", _stack_page))


class CampaignStacksView(APIView):
    scoped = ("promo.Campaign", "promo.PromotionStack")

    @extend_schema(tags=TAGS, operation_id="list-promotion-stacks-in-campaign",
                   summary="List a promotion campaign's stacks",
                   responses={200: _shape("PromotionsStacksListResponseBody")})
    def get(self, request, campaign_id: str):
        campaign = promotions.promotion_campaign_get(campaign_id)
        stacks = list(promotions.stack_list(campaign=campaign))
        return Response({"object": "list", "data_ref": "data", "data": _stack_page(stacks), "total": len(stacks)})

    @extend_schema(tags=TAGS, operation_id="create-promotion-stack", summary="Create a promotion stack",
                   request=StackWriteSerializer, responses={201: _shape("PromotionsStacksCreateResponseBody")})
    def post(self, request, campaign_id: str):
        campaign = promotions.promotion_campaign_get(campaign_id)
        return _stack_response(promotions.stack_create(campaign, _gate(StackWriteSerializer, request)), 201)


class StackDetailView(APIView):
    scoped = ("promo.Campaign", "promo.PromotionStack")

    @extend_schema(tags=TAGS, operation_id="get-promotion-stack", summary="Get a promotion stack",
                   responses={200: _shape("PromotionsStacksGetResponseBody")})
    def get(self, request, campaign_id: str, stack_id: str):
        campaign = promotions.promotion_campaign_get(campaign_id)
        return _stack_response(promotions.stack_get(campaign, stack_id))

    @extend_schema(tags=TAGS, operation_id="update-promotion-stack", summary="Update a promotion stack",
                   request=StackWriteSerializer, responses={200: _shape("PromotionsStacksUpdateResponseBody")})
    def put(self, request, campaign_id: str, stack_id: str):
        stack = promotions.stack_get(promotions.promotion_campaign_get(campaign_id), stack_id)
        return _stack_response(promotions.stack_update(stack, _gate(StackWriteSerializer, request)))

    @extend_schema(tags=TAGS, operation_id="delete-promotion-stack", summary="Delete a promotion stack",
                   responses={204: None})
    def delete(self, request, campaign_id: str, stack_id: str):
        promotions.stack_delete(promotions.stack_get(promotions.promotion_campaign_get(campaign_id), stack_id))
        return Response(status=204)

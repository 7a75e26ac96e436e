"""Categories, campaigns and vouchers, Voucherify-compatible, plus the project's extensions (code export
as CSV, QR and barcode images). Views parse parameters, gate JSON types with the serializers below,
call promo.campaigns / promo.campaign_selectors and serialise."""

from __future__ import annotations

from urllib.parse import quote

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core import dates
from core.api.fields import LooseDictField, OmittableMethodField, StrictIntegerField
from core.api.pagination import LIST_PARAMETERS, int_param, paginate
from core.api.parsers import UPLOAD_PARSERS
from core.auth import IsApiClientOrStaff
from core.errors import InvalidPayload
from core.permissions import require
from promo import assets, codes, promotions
from promo import campaign_selectors as selectors
from promo import campaigns as services
from promo.models import Campaign, Category, Voucher


def _opt(field_class, *args, **kwargs):
    """An optional field that also accepts an explicit null (the SDK's from_dict sends them)."""
    return field_class(*args, required=False, allow_null=True, **kwargs)


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


# ================================================================ request shapes (type gates and docs)

DISCOUNT_EFFECTS = ["APPLY_TO_ORDER", "APPLY_TO_ITEMS", "APPLY_TO_ITEMS_PROPORTIONALLY",
                    "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY", "APPLY_TO_ITEMS_BY_QUANTITY", "ADD_MISSING_ITEMS",
                    "ADD_NEW_ITEMS", "ADD_MANY_ITEMS", "ADD_SAME_ITEMS"]


class CodeConfigSerializer(serializers.Serializer):
    length = _opt(serializers.IntegerField, min_value=1, max_value=codes.MAX_CODE_LENGTH,
                  help_text="Random characters in a code (ignored when pattern is given).")
    charset = _opt(serializers.CharField, trim_whitespace=False, help_text="The literal set of characters.")
    prefix = _opt(serializers.CharField, allow_blank=True, trim_whitespace=False)
    postfix = _opt(serializers.CharField, allow_blank=True, trim_whitespace=False)
    pattern = _opt(serializers.CharField, trim_whitespace=False, help_text="Each # is one random character.")
    initial_count = _opt(serializers.IntegerField, help_text="Ignored.")


class UnitSerializer(serializers.Serializer):
    unit_off = _opt(StrictIntegerField)
    unit_type = _opt(serializers.CharField)
    effect = _opt(serializers.ChoiceField, choices=["ADD_MISSING_ITEMS", "ADD_NEW_ITEMS"])


class DiscountSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["AMOUNT", "PERCENT", "FIXED", "UNIT"])
    effect = _opt(serializers.ChoiceField, choices=DISCOUNT_EFFECTS)
    amount_off = _opt(StrictIntegerField, help_text="Minor units.")
    percent_off = _opt(serializers.FloatField, min_value=0, max_value=100)
    amount_limit = _opt(StrictIntegerField, help_text="Minor units.")
    fixed_amount = _opt(StrictIntegerField, help_text="Minor units.")
    aggregated_amount_limit = _opt(StrictIntegerField, help_text="Minor units.")
    unit_off = _opt(StrictIntegerField)
    unit_type = _opt(serializers.CharField)
    units = _opt(UnitSerializer, many=True)
    is_dynamic = _opt(serializers.BooleanField)


class RedemptionLimitSerializer(serializers.Serializer):
    quantity = _opt(StrictIntegerField, min_value=1, max_value=services.MAX_QUANTITY,
                    help_text="How many times a code may be redeemed; null is unlimited.")


class TimeframeSerializer(serializers.Serializer):
    interval = _opt(serializers.CharField, help_text="ISO 8601 duration, e.g. P2D")
    duration = _opt(serializers.CharField, help_text="ISO 8601 duration, e.g. PT1H")


class DailyWindowSerializer(serializers.Serializer):
    start_time = _opt(serializers.CharField)
    expiration_time = _opt(serializers.CharField)
    days_of_week = _opt(serializers.ListField, child=serializers.IntegerField(min_value=0, max_value=6))


class HoursSerializer(serializers.Serializer):
    daily = _opt(DailyWindowSerializer, many=True)


class ValiditySerializer(serializers.Serializer):
    start_date = _opt(serializers.DateTimeField)
    expiration_date = _opt(serializers.DateTimeField)
    validity_timeframe = _opt(TimeframeSerializer)
    validity_day_of_week = _opt(serializers.ListField, child=serializers.IntegerField(min_value=0, max_value=6))
    validity_hours = _opt(HoursSerializer)


class GiftValueSerializer(serializers.Serializer):
    amount = _opt(StrictIntegerField, help_text="Credit of a gift card, minor units.")
    effect = _opt(serializers.ChoiceField, choices=["APPLY_TO_ORDER", "APPLY_TO_ITEMS"])
    sold_price = _opt(StrictIntegerField, help_text="What the buyer paid, when below face value (project extension).")


class VoucherTemplateSerializer(ValiditySerializer):
    type = _opt(serializers.ChoiceField, choices=["DISCOUNT_VOUCHER", "GIFT_VOUCHER"])
    discount = _opt(DiscountSerializer)
    gift = _opt(GiftValueSerializer, help_text="GIFT_VOUCHERS campaigns: the value of each card.")
    redemption = _opt(RedemptionLimitSerializer)
    code_config = _opt(CodeConfigSerializer)
    is_referral_code = _opt(serializers.BooleanField)


class CategoryWriteSerializer(serializers.Serializer):
    name = _opt(serializers.CharField, max_length=services.CATEGORY_NAME)
    hierarchy = _opt(StrictIntegerField, max_value=10**6)


class CampaignWriteSerializer(ValiditySerializer):
    name = _opt(serializers.CharField, max_length=services.MAX_NAME)
    description = _opt(serializers.CharField, allow_blank=True, max_length=services.MAX_TEXT)
    campaign_type = _opt(serializers.ChoiceField, choices=Campaign.CampaignType.values)
    type = _opt(serializers.ChoiceField, choices=Campaign.Type.values)
    category = _opt(serializers.CharField, allow_blank=True, help_text="Category id or name.")
    category_id = _opt(serializers.CharField, allow_blank=True)
    join_once = _opt(serializers.BooleanField)
    auto_join = _opt(serializers.BooleanField)
    metadata = _opt(LooseDictField)
    voucher = _opt(VoucherTemplateSerializer)
    vouchers_count = _opt(StrictIntegerField, max_value=codes.MAX_CODES_PER_REQUEST,
                          help_text="Codes to generate (asynchronously) once the campaign exists.")
    validation_rules = _opt(serializers.ListField, child=serializers.CharField(), max_length=30)
    promotion = _opt(LooseDictField, help_text="PROMOTION campaigns: {tiers: [...]} (see /v1/promotions).")
    exclusive = _opt(serializers.BooleanField, help_text="Project extension: its redeemables apply alone "
                                                         "(docs/promotions.md).")


class CampaignUpdateSerializer(ValiditySerializer):
    description = _opt(serializers.CharField, allow_blank=True, max_length=services.MAX_TEXT)
    type = _opt(serializers.ChoiceField, choices=["AUTO_UPDATE", "STATIC"])
    category = _opt(serializers.CharField, allow_blank=True)
    category_id = _opt(serializers.CharField, allow_blank=True)
    join_once = _opt(serializers.BooleanField)
    auto_join = _opt(serializers.BooleanField)
    metadata = _opt(LooseDictField)
    unset_metadata_fields = _opt(serializers.ListField, child=serializers.CharField())
    discount = _opt(DiscountSerializer, help_text="Replaces the discount of the template and of every code.")
    validation_rules = _opt(serializers.ListField, child=serializers.CharField(), max_length=30)
    exclusive = _opt(serializers.BooleanField, help_text="Project extension: its redeemables apply alone.")


class VoucherAddSerializer(serializers.Serializer):
    """Fields a code added to a campaign may set for itself."""

    code = _opt(serializers.CharField, max_length=codes.MAX_CODE_LENGTH, trim_whitespace=False)
    code_config = _opt(CodeConfigSerializer)
    category = _opt(serializers.CharField, allow_blank=True)
    category_id = _opt(serializers.CharField, allow_blank=True)
    additional_info = _opt(serializers.CharField, allow_blank=True, max_length=services.MAX_TEXT)
    metadata = _opt(LooseDictField)
    redemption = _opt(RedemptionLimitSerializer)
    start_date = _opt(serializers.DateTimeField)
    expiration_date = _opt(serializers.DateTimeField)
    holder_id = _opt(serializers.CharField, help_text="Customer id or source_id (project extension).")


class VoucherWriteSerializer(ValiditySerializer):
    code = _opt(serializers.CharField, max_length=codes.MAX_CODE_LENGTH, trim_whitespace=False)
    code_config = _opt(CodeConfigSerializer)
    campaign = _opt(serializers.CharField, help_text="Campaign id or name.")
    campaign_id = _opt(serializers.CharField)
    category = _opt(serializers.CharField, allow_blank=True)
    category_id = _opt(serializers.CharField, allow_blank=True)
    type = _opt(serializers.ChoiceField, choices=Voucher.Type.values)
    discount = _opt(DiscountSerializer)
    gift = _opt(GiftValueSerializer, help_text="A gift card's value (type GIFT_VOUCHER).")
    active = _opt(serializers.BooleanField)
    additional_info = _opt(serializers.CharField, allow_blank=True, max_length=services.MAX_TEXT)
    metadata = _opt(LooseDictField)
    redemption = _opt(RedemptionLimitSerializer)
    holder_id = _opt(serializers.CharField, help_text="Customer id or source_id (project extension).")
    validation_rules = _opt(serializers.ListField, child=serializers.CharField(), max_length=30)


class VoucherUpdateSerializer(ValiditySerializer):
    category = _opt(serializers.CharField, allow_blank=True)
    category_id = _opt(serializers.CharField, allow_blank=True)
    type = _opt(serializers.ChoiceField, choices=["DISCOUNT_VOUCHER"])
    discount = _opt(DiscountSerializer)
    active = _opt(serializers.BooleanField)
    additional_info = _opt(serializers.CharField, allow_blank=True, max_length=services.MAX_TEXT)
    metadata = _opt(LooseDictField)
    redemption = _opt(RedemptionLimitSerializer, help_text="Project extension: refused below the uses taken.")
    holder_id = _opt(serializers.CharField, help_text="Project extension.")
    validation_rules = _opt(serializers.ListField, child=serializers.CharField(), max_length=30)


class BulkItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    metadata = _opt(LooseDictField, help_text="Merged into the voucher's metadata.")
    active = _opt(serializers.BooleanField)
    additional_info = _opt(serializers.CharField, allow_blank=True)
    start_date = _opt(serializers.DateTimeField)
    expiration_date = _opt(serializers.DateTimeField)


class MetadataBulkSerializer(serializers.Serializer):
    codes = serializers.ListField(child=serializers.CharField(), min_length=1, max_length=services.MAX_BULK_ITEMS)
    metadata = LooseDictField()


def _gate(serializer_class, request, **kwargs) -> dict:
    """Check JSON types with the serializer; the service gets the raw data (it checks everything else)."""
    serializer_class(data=request.data, **kwargs).is_valid(raise_exception=True)
    return request.data if isinstance(request.data, dict) else {}


# ================================================================ response shapes

class CategorySerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()

    class Meta:
        model = Category
        fields = ["id", "name", "hierarchy", "object", "created_at", "updated_at"]

    def get_object(self, obj) -> str:
        return "category"


class AssignmentSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    rule_id = serializers.CharField(source="rule.public_id")
    related_object_id = serializers.CharField()
    related_object_type = serializers.CharField()
    created_at = serializers.DateTimeField()
    object = serializers.SerializerMethodField()

    def get_object(self, obj) -> str:
        return "validation_rules_assignment"


def _assignments_list(rows) -> dict:
    data = AssignmentSerializer(rows, many=True).data
    return {"object": "list", "data_ref": "data", "data": data, "total": len(data)}


@extend_schema_field(inline_serializer("AssignmentsList", {
    "object": serializers.CharField(), "data_ref": serializers.CharField(),
    "data": AssignmentSerializer(many=True), "total": serializers.IntegerField()}))
class AssignmentsField(serializers.Field):
    """The validation_rules_assignments list; the view passes the page's assignments in the context."""

    def __init__(self, object_type: str, **kwargs):
        self.object_type = object_type
        kwargs["source"] = "*"
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, obj):
        found = self.context.get("assignments")
        rows = found.get(obj.public_id, []) if found is not None else \
            selectors.assignments_for(self.object_type, [obj.public_id])[obj.public_id]
        return _assignments_list(rows)


NOT_NULL_KEYS = ("validity_timeframe", "validity_day_of_week", "validity_hours", "discount", "promotion")


def _drop_missing(data: dict) -> dict:
    """Optional sub-objects the spec does not allow as null are left out when unset."""
    for key in NOT_NULL_KEYS:
        if data.get(key) is None:
            data.pop(key, None)
    return data


class VoucherRedemptionSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(allow_null=True)
    redeemed_quantity = serializers.IntegerField()
    object = serializers.CharField()
    url = serializers.CharField()


class VoucherPublishSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    object = serializers.CharField()
    url = serializers.CharField()


class AssetSerializer(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.CharField()


class VoucherAssetsSerializer(serializers.Serializer):
    qr = AssetSerializer()
    barcode = AssetSerializer()


class VoucherSerializer(serializers.Serializer):
    """A voucher as the spec shows it. Dates fall back to the campaign's."""

    id = serializers.CharField(source="public_id")
    code = serializers.CharField()
    campaign = serializers.SerializerMethodField()
    campaign_id = serializers.SerializerMethodField()
    category = serializers.SerializerMethodField()
    category_id = serializers.SerializerMethodField()
    categories = serializers.SerializerMethodField()
    type = serializers.CharField()
    discount = serializers.JSONField(required=False)  # keys of NOT_NULL_KEYS are left out rather than null
    gift = serializers.JSONField(allow_null=True)
    loyalty_card = serializers.JSONField(allow_null=True)
    start_date = serializers.SerializerMethodField()
    expiration_date = serializers.SerializerMethodField()
    validity_timeframe = serializers.JSONField(required=False)
    validity_day_of_week = serializers.ListField(child=serializers.IntegerField(), required=False)
    validity_hours = serializers.JSONField(required=False)
    active = serializers.BooleanField()
    additional_info = serializers.CharField()
    metadata = serializers.JSONField()
    assets = serializers.SerializerMethodField()
    is_referral_code = serializers.BooleanField()
    holder_id = serializers.SerializerMethodField()
    referrer_id = serializers.SerializerMethodField()
    object = serializers.SerializerMethodField()
    publish = serializers.SerializerMethodField()
    redemption = serializers.SerializerMethodField()
    validation_rules_assignments = AssignmentsField("voucher")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, instance):
        return _drop_missing(super().to_representation(instance))

    @staticmethod
    def _category(obj):
        return obj.category or (obj.campaign.category if obj.campaign_id else None)

    def get_campaign(self, obj) -> str | None:
        return obj.campaign.name if obj.campaign_id else None

    def get_campaign_id(self, obj) -> str | None:
        return obj.campaign.public_id if obj.campaign_id else None

    def get_category(self, obj) -> str | None:
        category = self._category(obj)
        return category.name if category else None

    def get_category_id(self, obj) -> str | None:
        category = self._category(obj)
        return category.public_id if category else None

    @extend_schema_field(CategorySerializer(many=True))
    def get_categories(self, obj):
        category = self._category(obj)
        return [CategorySerializer(category).data] if category else []

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_start_date(self, obj):
        return _iso(obj.start_date or (obj.campaign.start_date if obj.campaign_id else None))

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_expiration_date(self, obj):
        return _iso(services.voucher_expiration(obj))  # its own, the campaign's, or what its kind says

    @extend_schema_field(VoucherAssetsSerializer)
    def get_assets(self, obj):
        return assets.voucher_assets(obj.code)

    def get_holder_id(self, obj) -> str | None:
        return obj.holder.public_id if obj.holder_id else None

    def get_referrer_id(self, obj) -> str | None:
        return None

    def get_object(self, obj) -> str:
        return "voucher"

    @extend_schema_field(VoucherPublishSerializer)
    def get_publish(self, obj):
        return {"object": "list", "count": 0, "url": f"/v1/vouchers/{quote(obj.code, safe='')}/publications"}

    @extend_schema_field(VoucherRedemptionSerializer)
    def get_redemption(self, obj):
        return {"object": "list", "quantity": obj.redemption_quantity, "redeemed_quantity": obj.redeemed_quantity,
                "url": f"/v1/vouchers/{quote(obj.code, safe='')}/redemption?page=1&limit=10"}


def _voucher_template_json(campaign: Campaign) -> dict:
    template = dict(campaign.voucher_template or {})
    body = {"type": template.get("type") or "DISCOUNT_VOUCHER",
            "redemption": {"quantity": (template.get("redemption") or {}).get("quantity")},
            "code_config": template.get("code_config") or codes.clean_code_config(None),
            "is_referral_code": bool(template.get("is_referral_code"))}
    for key in ("discount", "gift", "loyalty_card", "start_date", "expiration_date", "validity_timeframe",
                "validity_day_of_week", "validity_hours"):
        if template.get(key) is not None:
            body[key] = template[key]
    return body


class CampaignSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    description = serializers.CharField()
    campaign_type = serializers.CharField()
    type = serializers.CharField()
    voucher = serializers.SerializerMethodField()
    auto_join = serializers.BooleanField()
    join_once = serializers.BooleanField()
    use_voucher_metadata_schema = serializers.SerializerMethodField()
    validity_timeframe = serializers.JSONField(required=False)  # NOT_NULL_KEYS: left out rather than null
    validity_day_of_week = serializers.ListField(child=serializers.IntegerField(), required=False)
    validity_hours = serializers.JSONField(required=False)
    vouchers_count = serializers.SerializerMethodField()
    start_date = serializers.DateTimeField(allow_null=True)
    expiration_date = serializers.DateTimeField(allow_null=True)
    active = serializers.SerializerMethodField(help_text="Enabled and approved: its codes may redeem.")
    approval_status = serializers.ChoiceField(choices=Campaign.Approval.values, read_only=True,
                                              help_text="Project extension: PENDING campaigns wait for a "
                                                        "Marketer or Admin to approve them (docs/backoffice.md).")
    metadata = serializers.JSONField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    category = serializers.SerializerMethodField()
    category_id = serializers.SerializerMethodField()
    categories = serializers.SerializerMethodField()
    creation_status = serializers.CharField()
    vouchers_generation_status = serializers.CharField()
    protected = serializers.SerializerMethodField()
    object = serializers.SerializerMethodField()
    validation_rules_assignments = AssignmentsField("campaign")
    exclusive = serializers.BooleanField(help_text="Project extension: its redeemables apply alone.")
    promotion = OmittableMethodField()

    def to_representation(self, instance):
        return _drop_missing(super().to_representation(instance))

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_promotion(self, obj):
        """PROMOTION campaigns: their tiers (Voucherify's PromotionTiersList)."""
        if obj.campaign_type != Campaign.CampaignType.PROMOTION:
            return None
        return promotions.tiers_list_json(list(promotions.tier_list(campaign=obj)), data_ref="tiers")

    @extend_schema_field(inline_serializer("CampaignVoucherTemplate", {
        "type": serializers.CharField(), "discount": DiscountSerializer(required=False),
        "redemption": RedemptionLimitSerializer(), "code_config": CodeConfigSerializer(),
        "is_referral_code": serializers.BooleanField()}))
    def get_voucher(self, obj):
        return _voucher_template_json(obj)

    def get_use_voucher_metadata_schema(self, obj) -> bool:
        return False

    def get_active(self, obj) -> bool:
        return obj.is_live

    def get_vouchers_count(self, obj) -> int:
        total = getattr(obj, "vouchers_total", None)
        return int(total) if total is not None else selectors.vouchers_count(obj)

    def get_category(self, obj) -> str | None:
        return obj.category.name if obj.category_id else None

    def get_category_id(self, obj) -> str | None:
        return obj.category.public_id if obj.category_id else None

    @extend_schema_field(CategorySerializer(many=True))
    def get_categories(self, obj):
        return [CategorySerializer(obj.category).data] if obj.category_id else []

    def get_protected(self, obj) -> bool:
        return False

    def get_object(self, obj) -> str:
        return "campaign"


def _list_schema(name: str, data_ref: str, item) -> serializers.Serializer:
    return inline_serializer(name, {"object": serializers.CharField(), "data_ref": serializers.CharField(),
                                    data_ref: item, "total": serializers.IntegerField(),
                                    "has_more": serializers.BooleanField()})


ASYNC_ACTION_RESPONSE = inline_serializer("AsyncActionAccepted", {"async_action_id": serializers.CharField()})
CSV_REQUEST = {"multipart/form-data": inline_serializer("VoucherCsvUpload", {"file": serializers.FileField()})}
CAMPAIGNS_TAG = ["campaigns"]
VOUCHERS_TAG = ["vouchers"]
CATEGORIES_TAG = ["categories"]


def _voucher_response(voucher: Voucher, status: int = 200) -> Response:
    return Response(VoucherSerializer(voucher).data, status=status)


def _campaign_response(campaign: Campaign, status: int = 200) -> Response:
    return Response(CampaignSerializer(campaign).data, status=status)


def _accepted(action) -> Response:
    return Response({"async_action_id": action.public_id}, status=202)


def _bool_param(request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if raw.lower() not in ("true", "false", "1", "0"):
        raise InvalidPayload(f"Query parameter {name} must be true or false")
    return raw.lower() in ("true", "1")


def _choice_param(request, name: str, allowed, default=None):
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if raw not in allowed:
        raise InvalidPayload(f"Query parameter {name} must be one of {', '.join(allowed)}")
    return raw


def _moment_param(request, *names: str):
    for name in names:
        raw = request.query_params.get(name)
        if raw not in (None, ""):
            return dates.clean_moment(raw, f"Query parameter {name}")
    return None


# ================================================================ categories

class CategoryListView(APIView):
    scoped = ("promo.Category",)

    @extend_schema(tags=CATEGORIES_TAG, summary="List categories", operation_id="list-categories",
                   responses=inline_serializer("CategoriesList", {
                       "object": serializers.CharField(), "data_ref": serializers.CharField(),
                       "data": CategorySerializer(many=True), "total": serializers.IntegerField()}))
    def get(self, request):
        data = CategorySerializer(selectors.category_list(), many=True).data
        return Response({"object": "list", "data_ref": "data", "data": data, "total": len(data)})

    @extend_schema(tags=CATEGORIES_TAG, summary="Create a category", operation_id="create-category",
                   request=CategoryWriteSerializer, responses={201: CategorySerializer})
    def post(self, request):
        require(request.user, "promo.add_category")
        category = services.category_create(_gate(CategoryWriteSerializer, request))
        return Response(CategorySerializer(category).data, status=201)


class CategoryDetailView(APIView):
    scoped = ("promo.Category",)

    @extend_schema(tags=CATEGORIES_TAG, summary="Get a category (by id or name)", operation_id="get-category",
                   responses=CategorySerializer)
    def get(self, request, category_id: str):
        return Response(CategorySerializer(selectors.category_get(category_id)).data)

    @extend_schema(tags=CATEGORIES_TAG, summary="Update a category", operation_id="update-category",
                   request=CategoryWriteSerializer, responses=CategorySerializer)
    def put(self, request, category_id: str):
        require(request.user, "promo.change_category")
        category = selectors.category_get(category_id)
        updated = services.category_update(category, _gate(CategoryWriteSerializer, request))
        return Response(CategorySerializer(updated).data)

    @extend_schema(tags=CATEGORIES_TAG, summary="Delete a category", operation_id="delete-category",
                   responses={204: None})
    def delete(self, request, category_id: str):
        require(request.user, "promo.delete_category")
        services.category_delete(selectors.category_get(category_id))
        return Response(status=204)


# ================================================================ campaigns

CAMPAIGN_LIST_PARAMETERS = [
    *LIST_PARAMETERS,
    OpenApiParameter("campaign_type", OpenApiTypes.STR, enum=Campaign.CampaignType.values),
    OpenApiParameter("is_referral_code", OpenApiTypes.BOOL),
    OpenApiParameter("campaign_status", OpenApiTypes.STR, enum=Campaign.Status.values,
                     description="Filter by creation status."),
    OpenApiParameter("order", OpenApiTypes.STR, enum=selectors.CAMPAIGN_ORDERINGS),
    OpenApiParameter("expand", OpenApiTypes.STR, description="Accepted; categories are always included."),
]


def _campaign_page(rows) -> list[dict]:
    found = selectors.assignments_for("campaign", [c.public_id for c in rows])
    return CampaignSerializer(rows, many=True, context={"assignments": found}).data


class CampaignListView(APIView):
    scoped = ("promo.Campaign",)

    @extend_schema(tags=CAMPAIGNS_TAG, summary="List campaigns", operation_id="list-campaigns",
                   parameters=CAMPAIGN_LIST_PARAMETERS,
                   responses=_list_schema("CampaignsList", "campaigns", CampaignSerializer(many=True)))
    def get(self, request):
        queryset = selectors.campaign_list(
            campaign_type=_choice_param(request, "campaign_type", Campaign.CampaignType.values),
            is_referral_code=_bool_param(request, "is_referral_code"),
            creation_status=_choice_param(request, "campaign_status", Campaign.Status.values),
            order=_choice_param(request, "order", selectors.CAMPAIGN_ORDERINGS, "-created_at"))
        return Response(paginate(request, queryset, "campaigns", _campaign_page))

    @extend_schema(tags=CAMPAIGNS_TAG, summary="Create a campaign", operation_id="create-campaign",
                   description="With `vouchers_count`, that many codes are generated from `voucher.code_config` "
                               "by an async action (the code space must hold a billion codes per code).",
                   request=CampaignWriteSerializer, responses={201: CampaignSerializer})
    def post(self, request):
        require(request.user, "promo.add_campaign")
        data = _gate(CampaignWriteSerializer, request)
        campaign = services.campaign_create(data, api_key=request.auth, user=request.user)
        return _campaign_response(selectors.campaign_get(campaign.public_id), 201)


class CampaignDetailView(APIView):
    scoped = ("promo.Campaign",)

    @extend_schema(tags=CAMPAIGNS_TAG, summary="Get a campaign (by id or name)", operation_id="get-campaign",
                   responses=CampaignSerializer)
    def get(self, request, campaign_id: str):
        return _campaign_response(selectors.campaign_get(campaign_id))

    @extend_schema(tags=CAMPAIGNS_TAG, summary="Update a campaign", operation_id="update-campaign",
                   request=CampaignUpdateSerializer, responses=CampaignSerializer)
    def put(self, request, campaign_id: str):
        campaign = selectors.campaign_get(campaign_id)
        return _campaign_response(services.campaign_update(campaign, _gate(CampaignUpdateSerializer, request)))

    @extend_schema(tags=CAMPAIGNS_TAG, summary="Delete a campaign", operation_id="delete-campaign",
                   description="Soft delete: the campaign and its codes disappear from the API, redemption "
                               "history stays. `force=true` also frees the name for a new campaign.",
                   parameters=[OpenApiParameter("force", OpenApiTypes.BOOL)], responses={202: ASYNC_ACTION_RESPONSE})
    def delete(self, request, campaign_id: str):
        force = bool(_bool_param(request, "force"))
        campaign = selectors.campaign_get(campaign_id)
        return _accepted(services.campaign_delete(campaign, force=force, api_key=request.auth, user=request.user))


class CampaignEnableView(APIView):
    scoped = ("promo.Campaign",)
    active = True

    @extend_schema(tags=CAMPAIGNS_TAG, summary="Enable a campaign", operation_id="enable-campaign",
                   request=None, responses=CampaignSerializer)
    def post(self, request, campaign_id: str):
        return _campaign_response(services.campaign_set_active(selectors.campaign_get(campaign_id), self.active))


class CampaignDisableView(CampaignEnableView):
    active = False

    @extend_schema(tags=CAMPAIGNS_TAG, summary="Disable a campaign", operation_id="disable-campaign",
                   request=None, responses=CampaignSerializer)
    def post(self, request, campaign_id: str):
        return super().post(request, campaign_id)


class CampaignSummaryView(APIView):
    scoped = ("promo.Campaign", "promo.Redemption")

    @extend_schema(tags=CAMPAIGNS_TAG, summary="Campaign summary", operation_id="get-campaign-summary",
                   description="Redemptions (succeeded, failed, rolled back), discounted amounts and codes, from "
                               "the redemption history. vouchers_count, vouchers_redeemed and redeemed_quantity "
                               "are project extensions.",
                   parameters=[OpenApiParameter("start_date", OpenApiTypes.DATETIME),
                               OpenApiParameter("end_date", OpenApiTypes.DATETIME)],
                   responses=inline_serializer("CampaignSummary", {
                       "object": serializers.CharField(), "campaign": CampaignSerializer(),
                       **{name: serializers.IntegerField() for name in (
                           "redemptions", "redemptions_succeeded", "redemptions_failed", "redemptions_rolled_back",
                           "discounted_amount", "rollbacks", "rollbacks_succeeded", "rollbacks_failed",
                           "rolledback_discounted_amount", "orders_amount", "orders_rolledback_amount",
                           "vouchers_created", "vouchers_deleted", "vouchers_count", "vouchers_redeemed",
                           "redeemed_quantity")}}))
    def get(self, request, campaign_id: str):
        campaign = selectors.campaign_get(campaign_id)
        summary = selectors.campaign_summary(campaign, start=_moment_param(request, "start_date"),
                                             end=_moment_param(request, "end_date"))
        return Response({"object": "campaign_summary", "campaign": CampaignSerializer(campaign).data, **summary})


class CampaignVouchersView(APIView):
    scoped = ("promo.Campaign", "promo.Voucher")

    @extend_schema(tags=CAMPAIGNS_TAG, summary="Add codes to a campaign", operation_id="add-vouchers-to-campaign",
                   description="With vouchers_count > 1 the codes are generated in the background (answers an "
                               "async_action_id); otherwise one code is added and returned.",
                   parameters=[OpenApiParameter("vouchers_count", OpenApiTypes.INT)],
                   request=VoucherAddSerializer, responses={201: VoucherSerializer, 202: ASYNC_ACTION_RESPONSE})
    def post(self, request, campaign_id: str):
        require(request.user, "promo.add_voucher")
        count = int_param(request, "vouchers_count", 1, 1, codes.MAX_CODES_PER_REQUEST)
        campaign = selectors.campaign_get(campaign_id)
        data = _gate(VoucherAddSerializer, request)
        if count > 1:
            return _accepted(services.campaign_add_vouchers_start(campaign, count, data, api_key=request.auth,
                                                                  user=request.user))
        return _voucher_response(services.voucher_create(data, campaign=campaign), 201)


class CampaignVoucherCodeView(APIView):
    scoped = ("promo.Campaign", "promo.Voucher")

    @extend_schema(tags=CAMPAIGNS_TAG, summary="Add a code to a campaign",
                   operation_id="add-voucher-with-specific-code-to-campaign",
                   request=VoucherAddSerializer, responses={201: VoucherSerializer})
    def post(self, request, campaign_id: str, code: str):
        require(request.user, "promo.add_voucher")
        campaign = selectors.campaign_get(campaign_id)
        data = _gate(VoucherAddSerializer, request)
        return _voucher_response(services.voucher_create({**data, "code": None}, code=code, campaign=campaign), 201)


class CampaignImportCsvView(APIView):
    scoped = ("promo.Campaign", "promo.Voucher")
    parser_classes = UPLOAD_PARSERS

    @extend_schema(tags=CAMPAIGNS_TAG, summary="Import codes into a campaign from CSV (async action)",
                   operation_id="import-vouchers-to-campaign-using-csv", request=CSV_REQUEST,
                   description="Columns: code (required), category, active, start_date, expiration_date, "
                               "redemption_limit, additional_info, discount_type + discount_value (or amount_off, "
                               "percent_off, fixed_amount, unit_off + unit_type), amount_limit, discount_effect, "
                               "holder_id, metadata (JSON) and metadata_<key>; other columns become metadata "
                               "keys. Rows take the campaign's template for what they leave out.",
                   responses={202: ASYNC_ACTION_RESPONSE})
    def post(self, request, campaign_id: str):
        require(request.user, "promo.add_voucher")
        campaign = selectors.campaign_get(campaign_id)
        content = _uploaded_csv(request)
        return _accepted(services.vouchers_import_csv_start(content, campaign=campaign, api_key=request.auth,
                                                            user=request.user))


def _uploaded_csv(request) -> bytes:
    upload = request.FILES.get("file")
    if upload is None:
        raise InvalidPayload("Send the CSV file in the multipart form field 'file'")
    return upload.read()


class CampaignVouchersExportView(APIView):
    scoped = ("promo.Campaign", "promo.Voucher")

    @extend_schema(tags=CAMPAIGNS_TAG, summary="Export a campaign's codes as CSV (project extension)",
                   operation_id="export-campaign-vouchers-csv",
                   description=f"Streams every code of the campaign, oldest first. Columns: "
                               f"{', '.join(codes.EXPORT_COLUMNS)}.",
                   responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="CSV file")})
    def get(self, request, campaign_id: str):
        campaign = selectors.campaign_get(campaign_id)
        response = StreamingHttpResponse(codes.export_csv(campaign.pk), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{campaign.public_id}-codes.csv"'
        response["Cache-Control"] = "no-store"
        return response


# ================================================================ vouchers

VOUCHER_LIST_PARAMETERS = [
    *LIST_PARAMETERS,
    *[OpenApiParameter(name, OpenApiTypes.STR, description=text) for name, text in (
        ("campaign", "Campaign name (or id)."), ("campaign_id", "Campaign id."),
        ("category", "Category id or name."), ("customer", "Holder: customer id or source_id."),
        ("code", "Exact code."))],
    OpenApiParameter("ids", OpenApiTypes.STR, many=True, description="Voucher ids."),
    OpenApiParameter("order", OpenApiTypes.STR, enum=selectors.VOUCHER_ORDERINGS),
    *[OpenApiParameter(f"{field}[{bound}]", OpenApiTypes.DATETIME)
      for field in ("created_at", "updated_at") for bound in ("after", "before")],
]


def _voucher_page(rows) -> list[dict]:
    found = selectors.assignments_for("voucher", [v.public_id for v in rows])
    return VoucherSerializer(rows, many=True, context={"assignments": found}).data


class VoucherListView(APIView):
    scoped = ("promo.Voucher",)

    @extend_schema(tags=VOUCHERS_TAG, summary="List vouchers", operation_id="list-vouchers",
                   parameters=VOUCHER_LIST_PARAMETERS,
                   responses=_list_schema("VouchersList", "vouchers", VoucherSerializer(many=True)))
    def get(self, request):
        params = request.query_params
        queryset = selectors.voucher_list(
            campaign=params.get("campaign"), campaign_id=params.get("campaign_id"), category=params.get("category"),
            customer=params.get("customer"), code=params.get("code"), ids=params.getlist("ids") or None,
            created_after=_moment_param(request, "created_at[after]"),
            created_before=_moment_param(request, "created_at[before]"),
            updated_after=_moment_param(request, "updated_at[after]"),
            updated_before=_moment_param(request, "updated_at[before]"),
            order=_choice_param(request, "order", selectors.VOUCHER_ORDERINGS, "-created_at"))
        return Response(paginate(request, queryset, "vouchers", _voucher_page))

    @extend_schema(tags=VOUCHERS_TAG, summary="Create a voucher (code generated when not given)",
                   operation_id="generate-random-code", request=VoucherWriteSerializer,
                   responses={201: VoucherSerializer})
    def post(self, request):
        require(request.user, "promo.add_voucher")
        return _voucher_response(services.voucher_create(_gate(VoucherWriteSerializer, request)), 201)


class VoucherDetailView(APIView):
    scoped = ("promo.Voucher",)

    @extend_schema(tags=VOUCHERS_TAG, summary="Get a voucher", operation_id="get-voucher",
                   responses=VoucherSerializer)
    def get(self, request, code: str):
        return _voucher_response(selectors.voucher_get(code))

    @extend_schema(tags=VOUCHERS_TAG, summary="Create a voucher with this code", operation_id="create-voucher",
                   request=VoucherWriteSerializer, responses={201: VoucherSerializer})
    def post(self, request, code: str):
        require(request.user, "promo.add_voucher")
        data = _gate(VoucherWriteSerializer, request)
        return _voucher_response(services.voucher_create({**data, "code": None}, code=code), 201)

    @extend_schema(tags=VOUCHERS_TAG, summary="Update a voucher", operation_id="update-voucher",
                   request=VoucherUpdateSerializer, responses=VoucherSerializer)
    def put(self, request, code: str):
        voucher = selectors.voucher_get(code)
        return _voucher_response(services.voucher_update(voucher, _gate(VoucherUpdateSerializer, request)))

    @extend_schema(tags=VOUCHERS_TAG, summary="Delete a voucher", operation_id="delete-voucher",
                   description="The code is removed and may be created again; its redemption rows stay.",
                   parameters=[OpenApiParameter("force", OpenApiTypes.BOOL, description="Accepted; deletion is "
                                                "always permanent for codes.")], responses={204: None})
    def delete(self, request, code: str):
        _bool_param(request, "force")
        services.voucher_delete(selectors.voucher_get(code))
        return Response(status=204)


class VoucherEnableView(APIView):
    scoped = ("promo.Voucher",)
    active = True

    @extend_schema(tags=VOUCHERS_TAG, summary="Enable a voucher", operation_id="enable-voucher", request=None,
                   responses=VoucherSerializer)
    def post(self, request, code: str):
        return _voucher_response(services.voucher_set_active(selectors.voucher_get(code), self.active))


class VoucherDisableView(VoucherEnableView):
    active = False

    @extend_schema(tags=VOUCHERS_TAG, summary="Disable a voucher", operation_id="disable-voucher", request=None,
                   responses=VoucherSerializer)
    def post(self, request, code: str):
        return super().post(request, code)


class VouchersImportCsvView(APIView):
    scoped = ("promo.Voucher",)
    parser_classes = UPLOAD_PARSERS

    @extend_schema(tags=VOUCHERS_TAG, summary="Import standalone vouchers from CSV (async action)",
                   operation_id="import-vouchers-using-csv", request=CSV_REQUEST,
                   description="The columns of the campaign import; each row needs its discount "
                               "(discount_type and discount_value).",
                   responses={202: ASYNC_ACTION_RESPONSE})
    def post(self, request):
        require(request.user, "promo.add_voucher")
        content = _uploaded_csv(request)
        return _accepted(services.vouchers_import_csv_start(content, api_key=request.auth, user=request.user))


class VouchersBulkUpdateView(APIView):
    scoped = ("promo.Voucher",)

    @extend_schema(tags=VOUCHERS_TAG, summary="Update vouchers in bulk (async action)",
                   operation_id="update-vouchers-in-bulk", request=BulkItemSerializer(many=True),
                   description="Metadata is merged into each voucher's; active, additional_info, start_date and "
                               "expiration_date may be set too (project extension).",
                   responses={202: ASYNC_ACTION_RESPONSE})
    def post(self, request):
        if not isinstance(request.data, list):
            raise InvalidPayload("The body must be a JSON array of {code, metadata}")
        require(request.user, "promo.change_voucher")
        BulkItemSerializer(data=request.data, many=True).is_valid(raise_exception=True)
        return _accepted(services.vouchers_bulk_update_start(request.data, api_key=request.auth,
                                                             user=request.user))


class VouchersMetadataUpdateView(APIView):
    scoped = ("promo.Voucher",)

    @extend_schema(tags=VOUCHERS_TAG, summary="Merge metadata into many vouchers (async action)",
                   operation_id="update-vouchers-metadata-in-bulk", request=MetadataBulkSerializer,
                   responses={202: ASYNC_ACTION_RESPONSE})
    def post(self, request):
        require(request.user, "promo.change_voucher")
        data = _gate(MetadataBulkSerializer, request)
        return _accepted(services.vouchers_metadata_update_start(data.get("codes"), data.get("metadata"),
                                                                 api_key=request.auth, user=request.user))


class SignedAssetOrApiClient(IsApiClientOrStaff):
    """Images may be fetched with an API key, or without one when the URL carries the code's signature."""

    def has_permission(self, request, view):
        kwargs = request.parser_context.get("kwargs", {})
        if assets.token_valid(kwargs.get("code", ""), view.kind, request.query_params.get("token")):
            return True
        return super().has_permission(request, view)


class VoucherAssetView(APIView):
    scoped = ("promo.Voucher",)
    permission_classes = [SignedAssetOrApiClient]
    kind = "qr"
    fmt = "png"

    @extend_schema(exclude=True)
    def get(self, request, code: str):
        signed = assets.token_valid(code, self.kind, request.query_params.get("token"))
        voucher = selectors.voucher_get(code)
        image = assets.render(voucher.code, self.kind, self.fmt,
                              assets.clean_size(self.kind, request.query_params.get("size")))
        response = HttpResponse(image, content_type=assets.FORMATS[self.fmt])
        response["Cache-Control"] = "public, max-age=86400" if signed else "private, max-age=3600"
        return response


def asset_view(kind: str, fmt: str):
    description = (f"The {'QR code' if kind == 'qr' else 'Code 128 barcode'} of the code as {fmt.upper()} "
                   "(project extension). Needs an API key unless the URL carries the `token` from the voucher's "
                   "`assets`.")

    class View(VoucherAssetView):
        @extend_schema(tags=VOUCHERS_TAG, summary=f"Voucher {kind} image ({fmt})",
                       operation_id=f"get-voucher-{kind}-{fmt}", description=description,
                       parameters=[OpenApiParameter("token", OpenApiTypes.STR),
                                   OpenApiParameter("size", OpenApiTypes.INT)],
                       responses={(200, assets.FORMATS[fmt]): OpenApiResponse(OpenApiTypes.BINARY)})
        def get(self, request, code: str):
            return super().get(request, code)

    View.kind, View.fmt = kind, fmt
    View.__name__ = View.__qualname__ = f"Voucher{kind.title()}{fmt.title()}View"
    return View.as_view()

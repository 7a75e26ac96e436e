"""Request shapes of the redemption API (validated here; the engine takes plain dicts)."""

from rest_framework import serializers

from core.api.fields import LooseDictField, StrictCharField, StrictIntegerField, optional

_opt = optional  # optional and nullable: the SDK's from_dict sends explicit nulls


class GiftSerializer(serializers.Serializer):
    credits = _opt(StrictIntegerField)


class RewardSerializer(serializers.Serializer):
    id = _opt(StrictCharField, max_length=255)
    points = _opt(StrictIntegerField)


class RedeemableSerializer(serializers.Serializer):
    object = serializers.ChoiceField(choices=["voucher", "promotion_tier", "promotion_stack"])
    id = StrictCharField(max_length=255)
    gift = _opt(GiftSerializer)
    reward = _opt(RewardSerializer)


class ItemProductSerializer(serializers.Serializer):
    id = _opt(StrictCharField, max_length=255)
    source_id = _opt(StrictCharField, max_length=255)
    name = _opt(StrictCharField, max_length=255)
    price = _opt(StrictIntegerField)
    metadata = _opt(LooseDictField)
    override = _opt(serializers.BooleanField)


class ItemSkuSerializer(ItemProductSerializer):
    sku = _opt(StrictCharField, max_length=255)


class OrderItemSerializer(serializers.Serializer):
    sku_id = _opt(StrictCharField, max_length=255)
    product_id = _opt(StrictCharField, max_length=255)
    related_object = _opt(serializers.ChoiceField, choices=["product", "sku"])
    source_id = _opt(StrictCharField, max_length=255)
    quantity = _opt(StrictIntegerField, max_value=1_000_000)
    price = _opt(StrictIntegerField)
    amount = _opt(StrictIntegerField)
    metadata = _opt(LooseDictField)
    product = _opt(ItemProductSerializer)
    sku = _opt(ItemSkuSerializer)


class AddressSerializer(serializers.Serializer):
    city = _opt(StrictCharField, max_length=120, allow_blank=True)
    state = _opt(StrictCharField, max_length=120, allow_blank=True)
    line_1 = _opt(StrictCharField, max_length=255, allow_blank=True)
    line_2 = _opt(StrictCharField, max_length=255, allow_blank=True)
    country = _opt(StrictCharField, max_length=120, allow_blank=True)
    postal_code = _opt(StrictCharField, max_length=40, allow_blank=True)


class CustomerRefSerializer(serializers.Serializer):
    id = _opt(StrictCharField, max_length=255)
    source_id = _opt(StrictCharField, max_length=255)
    name = _opt(StrictCharField, max_length=255, allow_blank=True)
    email = _opt(StrictCharField, max_length=254, allow_blank=True)
    phone = _opt(StrictCharField, max_length=50, allow_blank=True)
    description = _opt(StrictCharField, allow_blank=True)
    birthdate = _opt(serializers.DateField)
    birthday = _opt(serializers.DateField)
    address = _opt(AddressSerializer)
    metadata = _opt(LooseDictField)


class OrderSerializer(serializers.Serializer):
    id = _opt(StrictCharField, max_length=255)
    source_id = _opt(StrictCharField, max_length=255)
    status = _opt(serializers.ChoiceField, choices=["CREATED", "PAID", "CANCELED", "FULFILLED"])
    amount = _opt(StrictIntegerField)
    # A list that may be null, of items that may not be (DRF would pass allow_null down to the child).
    items = serializers.ListField(child=OrderItemSerializer(), required=False, allow_null=True, max_length=500)
    metadata = _opt(LooseDictField)
    customer = _opt(CustomerRefSerializer)


class SessionSerializer(serializers.Serializer):
    key = _opt(StrictCharField, max_length=64)
    type = _opt(serializers.ChoiceField, choices=["LOCK"])
    ttl = _opt(StrictIntegerField, min_value=1, max_value=10**9)
    ttl_unit = _opt(serializers.ChoiceField, choices=["DAYS", "HOURS", "MINUTES", "SECONDS", "MILLISECONDS"])


class OptionsSerializer(serializers.Serializer):
    expand = _opt(serializers.ListField, child=StrictCharField(max_length=40), max_length=10)


class StackedRequestSerializer(serializers.Serializer):
    """POST /v1/validations and POST /v1/redemptions."""

    redeemables = RedeemableSerializer(many=True, min_length=1, max_length=30)
    order = _opt(OrderSerializer)
    customer = _opt(CustomerRefSerializer)
    session = _opt(SessionSerializer)
    tracking_id = _opt(StrictCharField, max_length=255, allow_blank=True)
    metadata = _opt(LooseDictField)
    options = _opt(OptionsSerializer)
    channel = _opt(StrictCharField, max_length=40)

    def validate(self, attrs):
        order = attrs.get("order") or {}
        if not attrs.get("customer") and order.get("customer"):
            attrs["customer"] = order["customer"]
        return attrs


class RollbackSerializer(serializers.Serializer):
    reason = _opt(StrictCharField, max_length=2000, allow_blank=True)
    tracking_id = _opt(StrictCharField, max_length=255, allow_blank=True)
    metadata = _opt(LooseDictField)
    customer = _opt(CustomerRefSerializer)
    order = _opt(OrderSerializer)

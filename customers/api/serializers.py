"""Request and response shapes of /v1/customers, /v1/orders and /v1/events, as in Voucherify's spec.

Input serializers check JSON types strictly (no "12" for a number, no 10.5 or true for an amount, no 5
for a string); every optional field accepts an explicit null, meaning "not given" (the SDK's from_dict
sends them). The business rules live in customers.services. Output serializers read the models plus
the per-customer summaries a view puts in the context.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import fields
from customers import selectors
from customers.models import Order, OrderItem

# ---------------------------------------------------------------- strict fields

class StrictCharField(fields.StrictCharField):
    """Optional, blank allowed (null means "not given")."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)


class StrictIntegerField(fields.StrictIntegerField):
    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)


class StrictBooleanField(fields.StrictBooleanField):
    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)


def metadata_field(**kwargs) -> serializers.DictField:
    return serializers.DictField(required=False, allow_null=True, **kwargs)


class NullableSerializer(serializers.Serializer):
    """A nested object that may be absent or null."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(*args, **kwargs)


# ---------------------------------------------------------------- customers: input

class AddressInputSerializer(NullableSerializer):
    city = StrictCharField(max_length=120)
    state = StrictCharField(max_length=120)
    line_1 = StrictCharField(max_length=255)
    line_2 = StrictCharField(max_length=255)
    country = StrictCharField(max_length=120)
    postal_code = StrictCharField(max_length=40)


class CustomerFieldsInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=255)
    description = StrictCharField(max_length=10_000)
    email = StrictCharField(max_length=254)
    phone = StrictCharField(max_length=50)
    birthdate = StrictCharField(help_text="YYYY-MM-DD")
    birthday = StrictCharField(help_text="Deprecated alias of birthdate.")
    address = AddressInputSerializer()
    metadata = metadata_field()


class CustomerCreateInputSerializer(CustomerFieldsInputSerializer):
    """POST /v1/customers: creates, or updates the customer with the same source_id."""

    source_id = StrictCharField(max_length=255)


class CustomerUpdateInputSerializer(CustomerFieldsInputSerializer):
    """PUT /v1/customers/{id}: given fields are merged; metadata, when given, is replaced."""


class CustomerReferenceInputSerializer(NullableSerializer, CustomerFieldsInputSerializer):
    """A customer inside an order or event: {id} or {source_id}, plus fields to upsert."""

    id = StrictCharField(max_length=64)
    source_id = StrictCharField(max_length=255)


class CustomersMetadataBulkInputSerializer(serializers.Serializer):
    source_ids = serializers.ListField(child=StrictCharField(allow_null=False, allow_blank=False, max_length=255),
                                       allow_empty=False, max_length=100_000)
    metadata = serializers.DictField()


class ImportCsvInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV with a header row; customers are matched by source_id.")


class AsyncActionIdSerializer(serializers.Serializer):
    async_action_id = serializers.CharField()


# ---------------------------------------------------------------- customers: output

class AddressOutputSerializer(serializers.Serializer):
    city = serializers.CharField(allow_null=True)
    state = serializers.CharField(allow_null=True)
    line_1 = serializers.CharField(allow_null=True)
    line_2 = serializers.CharField(allow_null=True)
    country = serializers.CharField(allow_null=True)
    postal_code = serializers.CharField(allow_null=True)


class BlankAsNullCharField(serializers.CharField):
    """Empty text is stored as "" but shown as null, as Voucherify does for fields never set."""

    def to_representation(self, value):
        return value or None


class CustomerOutputSerializer(serializers.Serializer):
    """The spec's customer object (CustomerWithSummaryLoyaltyReferrals)."""

    id = serializers.CharField(source="public_id")
    source_id = serializers.CharField(allow_null=True)
    name = BlankAsNullCharField(allow_null=True)
    description = BlankAsNullCharField(allow_null=True)
    email = BlankAsNullCharField(allow_null=True)
    phone = BlankAsNullCharField(allow_null=True)
    birthdate = serializers.DateField(allow_null=True)
    birthday = serializers.DateField(source="birthdate", allow_null=True)
    address = AddressOutputSerializer()
    metadata = serializers.DictField()
    system_metadata = serializers.DictField()
    summary = serializers.SerializerMethodField()
    loyalty = serializers.SerializerMethodField()
    referrals = serializers.SerializerMethodField()
    assets = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    object = serializers.SerializerMethodField()

    def _part(self, name: str, loader, customer):
        parts = self.context.get(name)
        if parts is None or customer.pk not in parts:
            return loader([customer])[customer.pk]
        return parts[customer.pk]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_summary(self, customer) -> dict:
        return self._part("summaries", selectors.customer_summaries, customer)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_loyalty(self, customer) -> dict:
        return self._part("loyalty", selectors.customer_loyalty_summaries, customer)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_referrals(self, customer) -> dict:
        return self._part("referrals", selectors.customer_referral_summaries, customer)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_assets(self, customer) -> dict:
        # Voucherify removed customer cockpits; there is no preference centre page yet.
        return {"cockpit_url": None, "cockpit_preference_center_url": None}

    def get_object(self, customer) -> str:
        return "customer"


def customer_context(customers: list) -> dict:
    """The per-customer parts for a page of customers, fetched once for the page."""
    return {"summaries": selectors.customer_summaries(customers),
            "loyalty": selectors.customer_loyalty_summaries(customers),
            "referrals": selectors.customer_referral_summaries(customers)}


def serialize_customers(customers: list) -> list:
    customers = list(customers)
    return CustomerOutputSerializer(customers, many=True, context=customer_context(customers)).data


def serialize_customer(customer) -> dict:
    return serialize_customers([customer])[0]


class CustomerListOutputSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data_ref = serializers.CharField(default="customers")
    customers = CustomerOutputSerializer(many=True)
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()


class PermanentDeletionOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    created_at = serializers.DateTimeField()
    related_object_id = serializers.CharField()
    related_object = serializers.CharField()
    status = serializers.CharField()
    data_json = serializers.DictField(child=serializers.IntegerField())
    object = serializers.CharField()


class ActivityOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    type = serializers.CharField()
    data = serializers.DictField()
    created_at = serializers.DateTimeField()
    group_id = BlankAsNullCharField(allow_null=True)


class ActivityListOutputSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data_ref = serializers.CharField(default="data")
    data = ActivityOutputSerializer(many=True)
    has_more = serializers.BooleanField()
    more_starting_after = serializers.CharField(allow_null=True)


# ---------------------------------------------------------------- orders: input

class ItemProductInputSerializer(NullableSerializer):
    id = StrictCharField(max_length=255)
    source_id = StrictCharField(max_length=255)
    name = StrictCharField(max_length=255)
    price = StrictIntegerField()
    metadata = metadata_field()
    override = StrictBooleanField()


class ItemSkuInputSerializer(NullableSerializer):
    id = StrictCharField(max_length=255)
    source_id = StrictCharField(max_length=255)
    sku = StrictCharField(max_length=255)
    price = StrictIntegerField()
    metadata = metadata_field()
    override = StrictBooleanField()


class OrderItemInputSerializer(serializers.Serializer):
    sku_id = StrictCharField(max_length=255)
    product_id = StrictCharField(max_length=255)
    related_object = serializers.ChoiceField(OrderItem.RelatedObject.values, required=False, allow_null=True)
    source_id = StrictCharField(max_length=255)
    quantity = StrictIntegerField(min_value=1, max_value=10**6)
    price = StrictIntegerField()
    amount = StrictIntegerField(help_text="Defaults to price x quantity; if both are given they must agree.")
    discount_amount = StrictIntegerField()
    discount_quantity = StrictIntegerField(max_value=10**6)
    initial_amount = StrictIntegerField()
    initial_quantity = StrictIntegerField(max_value=10**6)
    metadata = metadata_field()
    product = ItemProductInputSerializer()
    sku = ItemSkuInputSerializer()


class OrderInputSerializer(serializers.Serializer):
    """POST /v1/orders (upsert by source_id) and PUT /v1/orders/{id} (merge)."""

    source_id = StrictCharField(max_length=255)
    status = serializers.ChoiceField(Order.Status.values, required=False, allow_null=True)
    amount = StrictIntegerField(help_text="Defaults to the sum of the items' amounts.")
    initial_amount = StrictIntegerField()
    discount_amount = StrictIntegerField()
    items = serializers.ListField(child=OrderItemInputSerializer(), required=False, allow_null=True,
                                  max_length=500)
    metadata = metadata_field()
    created_at = StrictCharField(help_text="When the order was placed (ISO 8601); defaults to now.")
    customer = CustomerReferenceInputSerializer()
    referrer = CustomerReferenceInputSerializer()
    referrer_id = StrictCharField(max_length=255)


# ---------------------------------------------------------------- orders: output

class ItemOutputSerializer(serializers.Serializer):
    """The spec's OrderCalculatedItem."""

    object = serializers.SerializerMethodField()
    sku_id = serializers.SerializerMethodField()
    product_id = serializers.SerializerMethodField()
    related_object = serializers.CharField()
    source_id = BlankAsNullCharField(allow_null=True)
    quantity = serializers.IntegerField()
    initial_quantity = serializers.IntegerField(source="quantity")
    discount_quantity = serializers.IntegerField()
    price = serializers.IntegerField(allow_null=True)
    amount = serializers.IntegerField()
    initial_amount = serializers.IntegerField(source="amount")
    discount_amount = serializers.IntegerField()
    applied_discount_amount = serializers.IntegerField()
    subtotal_amount = serializers.IntegerField()
    metadata = serializers.DictField()
    product = fields.OmittableMethodField()  # left out when the item names none (the spec has no null here)
    sku = fields.OmittableMethodField()

    def to_representation(self, item):
        return _without_none(super().to_representation(item), ("product", "sku"))

    def get_object(self, item) -> str:
        return "order_item"

    def get_sku_id(self, item) -> str | None:
        return item.sku.public_id if item.sku else None

    def get_product_id(self, item) -> str | None:
        return item.product.public_id if item.product else None

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_product(self, item) -> dict | None:
        catalog = {}
        if item.product:
            p = item.product
            catalog = {"id": p.public_id, "source_id": p.source_id, "name": p.name, "price": p.price,
                       "metadata": p.metadata}
        return _merged(catalog, item.product_snapshot)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_sku(self, item) -> dict | None:
        catalog = {}
        if item.sku:
            s = item.sku
            catalog = {"id": s.public_id, "source_id": s.source_id, "sku": s.sku, "price": s.price,
                       "metadata": s.metadata}
        return _merged(catalog, item.sku_snapshot)


def _without_none(data: dict, keys: tuple[str, ...]) -> dict:
    for key in keys:
        if data.get(key) is None:
            data.pop(key, None)
    return data


def _merged(catalog: dict, snapshot: dict) -> dict | None:
    """The catalog's data overlaid with what was sent with the order (the catalog id stays)."""
    if not catalog and not snapshot:
        return None
    merged = {**catalog, **snapshot}
    if catalog.get("id"):
        merged["id"] = catalog["id"]
    return {key: value for key, value in merged.items() if value is not None}


class OrderOutputSerializer(serializers.Serializer):
    """The spec's OrderCalculated with its items."""

    id = serializers.CharField(source="public_id")
    source_id = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    amount = serializers.IntegerField()
    initial_amount = serializers.SerializerMethodField()
    discount_amount = serializers.IntegerField()
    items_discount_amount = serializers.IntegerField()
    total_discount_amount = serializers.IntegerField()
    total_amount = serializers.IntegerField()
    applied_discount_amount = serializers.IntegerField()
    items_applied_discount_amount = serializers.IntegerField()
    total_applied_discount_amount = serializers.IntegerField()
    items = ItemOutputSerializer(many=True)
    metadata = serializers.DictField()
    object = serializers.SerializerMethodField()
    created_at = serializers.SerializerMethodField()
    updated_at = serializers.DateTimeField()
    customer_id = serializers.SerializerMethodField()
    referrer_id = serializers.SerializerMethodField()
    customer = fields.OmittableMethodField()  # the spec's CustomerId/ReferrerId objects are not nullable
    referrer = fields.OmittableMethodField()
    redemptions = serializers.SerializerMethodField()

    def to_representation(self, order):
        return _without_none(super().to_representation(order), ("customer", "referrer"))

    def get_initial_amount(self, order) -> int:
        return order.amount if order.initial_amount is None else order.initial_amount

    def get_object(self, order) -> str:
        return "order"

    def get_created_at(self, order) -> str:
        return serializers.DateTimeField().to_representation(order.ordered_at or order.created_at)

    def get_customer_id(self, order) -> str | None:
        return order.customer.public_id if order.customer else None

    def get_referrer_id(self, order) -> str | None:
        return order.referrer.public_id if order.referrer else None

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_customer(self, order) -> dict | None:
        return {"id": order.customer.public_id, "object": "customer"} if order.customer else None

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_referrer(self, order) -> dict | None:
        return {"id": order.referrer.public_id, "object": "customer"} if order.referrer else None

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_redemptions(self, order) -> dict:
        return {}  # filled in by the promo app once redemptions exist


class OrderListOutputSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data_ref = serializers.CharField(default="orders")
    orders = OrderOutputSerializer(many=True)
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()


# ---------------------------------------------------------------- events

class EventReferralInputSerializer(NullableSerializer):
    code = StrictCharField(max_length=255)
    referrer_id = StrictCharField(max_length=255)


class EventLoyaltyInputSerializer(NullableSerializer):
    code = StrictCharField(max_length=255)


class EventInputSerializer(serializers.Serializer):
    event = StrictCharField(max_length=255, allow_null=False, allow_blank=False, required=True)
    customer = CustomerReferenceInputSerializer(required=True, allow_null=False)
    referral = EventReferralInputSerializer()
    loyalty = EventLoyaltyInputSerializer()
    metadata = metadata_field()


class EventOutputSerializer(serializers.Serializer):
    """The spec's EventsCreateResponseBody."""

    object = serializers.SerializerMethodField()
    type = serializers.CharField(source="name")
    customer = serializers.SerializerMethodField()
    referral = serializers.SerializerMethodField()
    loyalty = serializers.SerializerMethodField()
    metadata = serializers.DictField()

    def get_object(self, event) -> str:
        return "event"

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_customer(self, event) -> dict:
        customer = event.customer
        return {"id": customer.public_id, "source_id": customer.source_id, "name": customer.name or None,
                "email": customer.email or None, "metadata": customer.metadata, "object": "customer"}

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_referral(self, event) -> None:
        return None  # the referrals app will report a referral conversion here

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_loyalty(self, event) -> None:
        return None


# ---------------------------------------------------------------- consents (the project's own, as Voucherify's v1 had)

class ConsentInputSerializer(serializers.Serializer):
    name = fields.StrictCharField(max_length=100)
    description = StrictCharField(max_length=10_000)
    category = StrictCharField(max_length=100)


class ConsentOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    object = serializers.SerializerMethodField()

    def get_object(self, consent) -> str:
        return "consent"


class ConsentListOutputSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data_ref = serializers.CharField(default="consents")
    consents = ConsentOutputSerializer(many=True)
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()


class CustomerConsentStateSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField()
    value = serializers.BooleanField(allow_null=True, help_text="true granted, false withdrawn, null never asked")
    updated_at = serializers.DateTimeField(allow_null=True)
    channel = serializers.CharField(allow_null=True)
    object = serializers.CharField(default="customer_consent")


class CustomerConsentListOutputSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data_ref = serializers.CharField(default="consents")
    consents = CustomerConsentStateSerializer(many=True)
    total = serializers.IntegerField()


def serialize_customer_consents(consents: list, states: dict) -> dict:
    """Every defined consent with the customer's current value (null: never asked)."""
    rows = []
    for consent in consents:
        state = states.get(consent.pk)
        rows.append({"id": consent.public_id, "name": consent.name, "category": consent.category,
                     "value": state.granted if state else None,
                     "updated_at": state.updated_at if state else None,
                     "channel": state.last_event.channel if state else None, "object": "customer_consent"})
    return {"object": "list", "data_ref": "consents",
            "consents": CustomerConsentStateSerializer(rows, many=True).data, "total": len(rows)}


class ConsentEventOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    consent_id = serializers.CharField(source="consent.public_id")
    consent_name = serializers.CharField(source="consent.name")
    value = serializers.BooleanField(source="granted")
    channel = serializers.CharField()
    source = serializers.CharField()
    request_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    object = serializers.SerializerMethodField()

    def get_object(self, event) -> str:
        return "customer_consent_event"


class ConsentEventListOutputSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data_ref = serializers.CharField(default="history")
    history = ConsentEventOutputSerializer(many=True)
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()

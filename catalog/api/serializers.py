"""Request and response shapes of the catalog endpoints, as Voucherify's spec names them.

Request serializers only check types and shapes (integers stay integers: 10.5 or "10" for a
price is refused); the rules (metadata schema, SKU attributes, unknown ids) live in
catalog.services. Response serializers turn blank strings into null where the spec has
nullable fields, and leave out keys the spec types as non-nullable strings when there is no value.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Product, ProductCollection, ProductCollectionItem, Sku
from core.api.fields import OmittableMethodField, StrictIntegerField


def _blank_to_none(value):
    return value or None


# ---------------------------------------------------------------- responses


class SkuSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    product_id = serializers.CharField(source="product.public_id")
    currency = serializers.SerializerMethodField()
    image_url = serializers.SerializerMethodField()
    object = serializers.SerializerMethodField()

    class Meta:
        model = Sku
        fields = ["id", "source_id", "product_id", "sku", "price", "currency", "attributes", "image_url",
                  "metadata", "created_at", "updated_at", "object"]

    def get_currency(self, obj) -> str | None:
        return _blank_to_none(obj.currency)

    def get_image_url(self, obj) -> str | None:
        return _blank_to_none(obj.image_url)

    def get_object(self, obj) -> str:
        return "sku"


class ProductWithoutSkusSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    image_url = serializers.SerializerMethodField()
    object = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["id", "source_id", "name", "price", "attributes", "metadata", "image_url", "created_at",
                  "updated_at", "object"]

    def get_image_url(self, obj) -> str | None:
        return _blank_to_none(obj.image_url)

    def get_object(self, obj) -> str:
        return "product"


class SkusListForProductSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data_ref = serializers.CharField(default="data")
    data = SkuSerializer(many=True)
    total = serializers.IntegerField()


class ProductSerializer(ProductWithoutSkusSerializer):
    """A product with `skus: {object: list, data_ref: data, data: [...], total}`.

    Expects a product from selectors.products_with_skus (SKU count and first SKUs prefetched).
    """

    skus = serializers.SerializerMethodField()

    class Meta(ProductWithoutSkusSerializer.Meta):
        fields = [*ProductWithoutSkusSerializer.Meta.fields, "skus"]

    @extend_schema_field(SkusListForProductSerializer)
    def get_skus(self, obj) -> dict:
        skus = getattr(obj, "embedded_skus", None)
        if skus is None:
            skus = list(obj.skus.order_by("created_at", "id"))
        total = getattr(obj, "sku_total", None)
        return {"object": "list", "data_ref": "data", "data": SkuSerializer(skus, many=True).data,
                "total": len(skus) if total is None else total}


class CollectionProductRefSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=255)
    object = serializers.ChoiceField(choices=["product", "sku"])
    product_id = serializers.CharField(max_length=255, required=False, allow_null=True)


class ProductCollectionSerializer(serializers.ModelSerializer):
    """A products_collection. STATIC ones list `products`, AUTO_UPDATE ones carry `filter`."""

    id = serializers.CharField(source="public_id")
    filter = OmittableMethodField()
    products = OmittableMethodField()
    object = serializers.SerializerMethodField()

    class Meta:
        model = ProductCollection
        fields = ["id", "name", "type", "filter", "products", "created_at", "object"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        return {key: value for key, value in data.items() if value is not None or key not in ("filter", "products")}

    @extend_schema_field(serializers.DictField())
    def get_filter(self, obj) -> dict | None:
        return obj.filter if obj.type == ProductCollection.Type.AUTO_UPDATE else None

    @extend_schema_field(CollectionProductRefSerializer(many=True))
    def get_products(self, obj) -> list | None:
        if obj.type != ProductCollection.Type.STATIC:
            return None
        return [_member_ref(item) for item in obj.items.all()]

    def get_object(self, obj) -> str:
        return "products_collection"


def _member_ref(item: ProductCollectionItem) -> dict:
    if item.sku_id:
        return {"id": item.sku.public_id, "product_id": item.product.public_id, "object": "sku"}
    return {"id": item.product.public_id, "object": "product"}


class CollectionMemberSerializer(serializers.Serializer):
    """One row of GET /product-collections/{id}/products: a product, or a SKU with its product.

    Takes a Product (AUTO_UPDATE) or a ProductCollectionItem (STATIC). A SKU's `attributes` object
    is left out: the spec (and SDK 6.1.1) type this field as a list of names for both kinds.
    """

    id = serializers.CharField()
    source_id = serializers.CharField(required=False)
    name = serializers.CharField(required=False, allow_null=True)
    sku = serializers.CharField(required=False, allow_null=True)
    price = serializers.IntegerField(allow_null=True)
    currency = serializers.CharField(required=False, allow_null=True)
    attributes = serializers.ListField(child=serializers.CharField(), required=False)
    metadata = serializers.DictField()
    image_url = serializers.CharField(required=False)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    object = serializers.ChoiceField(choices=["product", "sku"])
    product_id = serializers.CharField(required=False)
    product = ProductWithoutSkusSerializer(required=False)

    def to_representation(self, instance):
        if isinstance(instance, ProductCollectionItem):
            data = self._sku(instance.sku) if instance.sku_id else self._product(instance.product)
        else:
            data = self._product(instance)
        return {key: value for key, value in data.items()
                if value is not None or key not in ("source_id", "image_url", "product_id")}

    @staticmethod
    def _product(product: Product) -> dict:
        data = dict(ProductWithoutSkusSerializer(product).data)
        return data

    @staticmethod
    def _sku(sku: Sku) -> dict:
        data = dict(SkuSerializer(sku).data)
        data.pop("attributes", None)
        data["product"] = ProductWithoutSkusSerializer(sku.product).data
        return data


# ---------------------------------------------------------------- requests


class _ProductFieldsSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False, allow_null=True, allow_blank=True)
    price = StrictIntegerField(min_value=0, required=False, allow_null=True,
                               help_text="Unit price in minor units (1999 = 19.99).")
    attributes = serializers.ListField(child=serializers.CharField(max_length=100), max_length=100,
                                       required=False, allow_null=True)
    metadata = serializers.DictField(required=False, allow_null=True)
    image_url = serializers.CharField(max_length=1000, required=False, allow_null=True, allow_blank=True)


class ProductCreateSerializer(_ProductFieldsSerializer):
    id = serializers.CharField(max_length=64, required=False, allow_null=True,
                               help_text="Update this existing product (upsert).")
    source_id = serializers.CharField(max_length=255, required=False, allow_null=True, allow_blank=True,
                                      help_text="Your id; an existing one updates that product (upsert).")


class ProductUpdateSerializer(_ProductFieldsSerializer):
    pass


class _SkuFieldsSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=255, required=False, allow_null=True, allow_blank=True)
    price = StrictIntegerField(min_value=0, required=False, allow_null=True)
    currency = serializers.CharField(max_length=3, required=False, allow_null=True, allow_blank=True)
    attributes = serializers.DictField(required=False, allow_null=True,
                                       help_text="Values for the product's attributes, e.g. {\"color\": \"red\"}.")
    metadata = serializers.DictField(required=False, allow_null=True)
    image_url = serializers.CharField(max_length=1000, required=False, allow_null=True, allow_blank=True)


class SkuCreateSerializer(_SkuFieldsSerializer):
    id = serializers.CharField(max_length=64, required=False, allow_null=True)
    source_id = serializers.CharField(max_length=255, required=False, allow_null=True, allow_blank=True)


class SkuUpdateSerializer(_SkuFieldsSerializer):
    pass


class ProductCollectionCreateSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ProductCollection.Type.choices, required=False, allow_null=True)
    name = serializers.CharField(max_length=255, required=False, allow_null=True)
    products = CollectionProductRefSerializer(many=True, required=False, allow_null=True)
    filter = serializers.DictField(required=False, allow_null=True, help_text=(
        'AUTO_UPDATE only: {"junction": "and"|"or", "<field>": {"conditions": {"$operator": [values]}}}; '
        "fields id, product_id, source_id, name, price, image_url, attributes, object, skus, created_at, "
        "updated_at, metadata.<key>."))

from django.db import models

from core.fields import PublicIdField, TimeStampedModel


class Product(TimeStampedModel):
    public_id = PublicIdField(prefix="prod_")
    source_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    name = models.CharField(max_length=255, blank=True)
    price = models.BigIntegerField(null=True, blank=True, help_text="Minor units.")
    # Names of the attributes its SKUs vary by, e.g. ["color", "size"].
    attributes = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    image_url = models.URLField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_gte_0")]

    def __str__(self) -> str:
        return self.name or self.source_id or self.public_id


class Sku(TimeStampedModel):
    public_id = PublicIdField(prefix="sku_")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus")
    source_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    sku = models.CharField("name", max_length=255, blank=True)
    price = models.BigIntegerField(null=True, blank=True, help_text="Minor units.")
    currency = models.CharField(max_length=3, blank=True)
    # Values of the product's attributes, e.g. {"color": "red", "size": "M"}.
    attributes = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    image_url = models.URLField(max_length=1000, blank=True)

    class Meta:
        verbose_name = "SKU"
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=models.Q(price__gte=0), name="sku_price_gte_0")]

    def __str__(self) -> str:
        return self.sku or self.source_id or self.public_id


class ProductCollection(TimeStampedModel):
    """A set of products/SKUs: a fixed list (STATIC) or a filter over product attributes and
    metadata that is evaluated when used (AUTO_UPDATE), e.g. all products whose metadata.brand is Acme."""

    class Type(models.TextChoices):
        STATIC = "STATIC"
        AUTO_UPDATE = "AUTO_UPDATE"

    public_id = PublicIdField(prefix="pc_")
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.STATIC)
    filter = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class ProductCollectionItem(models.Model):
    """A member of a STATIC collection: a whole product, or a single SKU."""

    collection = models.ForeignKey(ProductCollection, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    sku = models.ForeignKey(Sku, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["collection", "product"], condition=models.Q(sku__isnull=True),
                                    name="collection_item_product_once"),
            models.UniqueConstraint(fields=["collection", "sku"], condition=models.Q(sku__isnull=False),
                                    name="collection_item_sku_once"),
        ]

    def __str__(self) -> str:
        return f"{self.collection_id}: {self.sku_id or self.product_id}"

"""Back office for the catalog: products with their SKUs, SKUs, product collections.

Forms and CSV/XLSX imports run the same checks as the API (catalog.services), so the admin cannot
store a float price, metadata outside the schema or SKU attributes the product does not declare.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef
from import_export import fields, resources, widgets
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX

from catalog import selectors, services
from catalog.models import Product, ProductCollection, ProductCollectionItem, Sku
from core.admin_mixins import ImportExportPermissionsMixin
from core.errors import ApiError

SPREADSHEET_FORMATS = [CSV, XLSX]


def _raise_for(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


# ---------------------------------------------------------------- import / export


class _BlankSourceIdMixin:
    """Rows without a source_id are new objects: never match them to a stored row."""

    def get_instance(self, instance_loader, row):
        if not (row.get("source_id") or "").strip():
            return None
        return super().get_instance(instance_loader, row)

    def before_save_instance(self, instance, row, **kwargs):
        # Stored as NULL, so several rows without a source_id do not collide on the unique index.
        instance.source_id = (instance.source_id or "").strip() or None
        super().before_save_instance(instance, row, **kwargs)


class ProductResource(_BlankSourceIdMixin, resources.ModelResource):
    class Meta:
        model = Product
        fields = ["public_id", "source_id", "name", "price", "attributes", "metadata", "image_url", "created_at"]
        export_order = fields
        import_id_fields = ["source_id"]
        skip_unchanged = True

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        super().validate_instance(instance, import_validation_errors, validate_unique)
        _raise_for(services.product_instance_errors(instance))


class ProductRefWidget(widgets.ForeignKeyWidget):
    """A SKU's product as its source_id (or public id when it has none); either is accepted on import."""

    def __init__(self):
        super().__init__(Product, field="public_id")

    def clean(self, value, row=None, **kwargs):
        product = selectors.product_by_ref(str(value).strip()) if value else None
        if product is None:
            raise ValueError(f"Cannot find product with id {value}")
        return product

    def render(self, value, obj=None, **kwargs):
        return (value.source_id or value.public_id) if value else ""


class SkuResource(_BlankSourceIdMixin, resources.ModelResource):
    product = fields.Field(attribute="product", column_name="product_id", widget=ProductRefWidget())

    class Meta:
        model = Sku
        fields = ["public_id", "source_id", "product", "sku", "price", "currency", "attributes", "metadata",
                  "image_url", "created_at"]
        export_order = fields
        import_id_fields = ["source_id"]
        skip_unchanged = True

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        super().validate_instance(instance, import_validation_errors, validate_unique)
        _raise_for(services.sku_instance_errors(instance))


# ---------------------------------------------------------------- forms


class ProductForm(forms.ModelForm):
    image_url = forms.URLField(max_length=1000, required=False, assume_scheme="https")

    class Meta:
        model = Product
        fields = ["name", "source_id", "price", "attributes", "metadata", "image_url"]

    def clean_source_id(self):
        return self.cleaned_data.get("source_id") or None

    def clean(self):
        cleaned = super().clean()
        probe = Product(**{name: cleaned.get(name) for name in ("price", "attributes", "metadata")})
        probe.attributes = probe.attributes if probe.attributes is not None else []
        probe.metadata = probe.metadata if probe.metadata is not None else {}
        _raise_for(services.product_instance_errors(probe))
        return cleaned


class SkuForm(forms.ModelForm):
    image_url = forms.URLField(max_length=1000, required=False, assume_scheme="https")

    class Meta:
        model = Sku
        fields = ["product", "sku", "source_id", "price", "currency", "attributes", "metadata", "image_url"]

    def clean_source_id(self):
        return self.cleaned_data.get("source_id") or None

    def clean(self):
        cleaned = super().clean()
        product = cleaned.get("product") or getattr(self.instance, "product", None)
        probe = Sku(product=product, price=cleaned.get("price"), currency=cleaned.get("currency") or "",
                    attributes=cleaned.get("attributes") or {}, metadata=cleaned.get("metadata") or {})
        _raise_for(services.sku_instance_errors(probe))
        return cleaned


class InlineSkuForm(SkuForm):
    """Inside a product page the product comes from the parent form."""

    class Meta(SkuForm.Meta):
        fields = ["sku", "source_id", "price", "currency", "attributes", "metadata", "image_url"]

    def clean(self):
        cleaned = forms.ModelForm.clean(self)
        # The formset sets product_id for a saved product; on the add page there is none yet, and the
        # attribute names are then checked on the next save.
        product = Product.objects.filter(pk=self.instance.product_id).first() if self.instance.product_id else None
        probe = Sku(product=product, price=cleaned.get("price"), currency=cleaned.get("currency") or "",
                    attributes=cleaned.get("attributes") or {}, metadata=cleaned.get("metadata") or {})
        _raise_for(services.sku_instance_errors(probe))
        return cleaned


class CollectionItemForm(forms.ModelForm):
    class Meta:
        model = ProductCollectionItem
        fields = ["product", "sku"]

    def clean(self):
        cleaned = super().clean()
        product, sku = cleaned.get("product"), cleaned.get("sku")
        if sku is not None and product is not None and sku.product_id != product.pk:
            raise ValidationError({"sku": f"This SKU belongs to {sku.product}, not to {product}."})
        return cleaned


class CollectionForm(forms.ModelForm):
    class Meta:
        model = ProductCollection
        fields = ["name", "type", "filter"]
        help_texts = {"filter": 'AUTO_UPDATE only, e.g. {"junction": "and", '
                                '"metadata.brand": {"conditions": {"$is": ["Acme"]}}}'}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("type") == ProductCollection.Type.AUTO_UPDATE:
            try:
                cleaned["filter"] = selectors.normalize_collection_filter(cleaned.get("filter") or {})
            except ApiError as exc:
                raise ValidationError({"filter": exc.details or exc.message})
        else:
            cleaned["filter"] = {}
        return cleaned


# ---------------------------------------------------------------- admins


class SkuInline(admin.TabularInline):
    model = Sku
    form = InlineSkuForm
    extra = 0
    fields = ["sku", "source_id", "price", "currency", "attributes", "metadata", "image_url"]
    show_change_link = True


class BrandFilter(admin.SimpleListFilter):
    """Filter by metadata.brand, the usual key for brand-wide promotions."""

    title = "brand"
    parameter_name = "brand"

    def lookups(self, request, model_admin):
        brands = (Product.objects.exclude(metadata__brand__isnull=True)
                  .values_list("metadata__brand", flat=True).distinct().order_by()[:100])
        return sorted((str(brand), str(brand)) for brand in set(brands) if brand not in (None, ""))

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(metadata__brand=self.value())
        return queryset


class HasSkusFilter(admin.SimpleListFilter):
    title = "SKUs"
    parameter_name = "has_skus"

    def lookups(self, request, model_admin):
        return [("yes", "With SKUs"), ("no", "Without SKUs")]

    def queryset(self, request, queryset):
        has_skus = Exists(Sku.objects.filter(product=OuterRef("pk")))
        if self.value() == "yes":
            return queryset.filter(has_skus)
        if self.value() == "no":
            return queryset.filter(~has_skus)
        return queryset


@admin.register(Product)
class ProductAdmin(ImportExportPermissionsMixin, ImportExportModelAdmin):
    form = ProductForm
    resource_classes = [ProductResource]
    formats = SPREADSHEET_FORMATS
    inlines = [SkuInline]
    list_display = ["name", "source_id", "public_id", "price", "brand", "sku_count", "created_at"]
    list_filter = [BrandFilter, HasSkusFilter, "created_at"]
    search_fields = ["name", "source_id", "public_id", "metadata__brand"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(sku_count=Count("skus"))

    @admin.display(description="brand")
    def brand(self, obj) -> str:
        return str((obj.metadata or {}).get("brand", "")) if isinstance(obj.metadata, dict) else ""

    @admin.display(description="SKUs", ordering="sku_count")
    def sku_count(self, obj) -> int:
        return obj.sku_count


@admin.register(Sku)
class SkuAdmin(ImportExportPermissionsMixin, ImportExportModelAdmin):
    form = SkuForm
    resource_classes = [SkuResource]
    formats = SPREADSHEET_FORMATS
    list_display = ["sku", "source_id", "public_id", "product", "price", "currency", "created_at"]
    list_filter = ["currency", "created_at"]
    list_select_related = ["product"]
    search_fields = ["sku", "source_id", "public_id", "metadata__brand", "product__name", "product__source_id",
                     "product__public_id"]
    autocomplete_fields = ["product"]
    readonly_fields = ["public_id", "created_at", "updated_at"]


class CollectionItemInline(admin.TabularInline):
    model = ProductCollectionItem
    form = CollectionItemForm
    extra = 0
    autocomplete_fields = ["product", "sku"]


@admin.register(ProductCollection)
class ProductCollectionAdmin(admin.ModelAdmin):
    form = CollectionForm
    inlines = [CollectionItemInline]
    list_display = ["name", "type", "public_id", "member_count", "created_at"]
    list_filter = ["type", "created_at"]
    search_fields = ["name", "public_id"]
    readonly_fields = ["public_id", "member_count", "created_at", "updated_at"]

    @admin.display(description="products")
    def member_count(self, obj) -> str:
        """STATIC: listed products and SKUs; AUTO_UPDATE: products the filter matches right now."""
        if obj.pk is None:
            return "-"
        if obj.type == ProductCollection.Type.AUTO_UPDATE:
            try:
                return f"{selectors.collection_products(obj).count()} matching"
            except ApiError as exc:
                return f"invalid filter: {exc.details}"
        return f"{obj.items.count()} listed"

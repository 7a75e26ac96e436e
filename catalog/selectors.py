"""Reads of the catalog. Lookups accept the public id (`prod_...`, `sku_...`) or the source_id."""

from catalog.models import Product, Sku


def product_by_ref(ref: str | None) -> Product | None:
    if not ref:
        return None
    field = "public_id" if ref.startswith("prod_") else "source_id"
    return Product.objects.filter(**{field: ref}).first() or (
        Product.objects.filter(source_id=ref).first() if field == "public_id" else None
    )


def sku_by_ref(ref: str | None) -> Sku | None:
    if not ref:
        return None
    field = "public_id" if ref.startswith("sku_") else "source_id"
    return Sku.objects.select_related("product").filter(**{field: ref}).first() or (
        Sku.objects.select_related("product").filter(source_id=ref).first() if field == "public_id" else None
    )

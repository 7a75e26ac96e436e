"""Reads of the catalog. Lookups accept the public id (`prod_...`, `sku_...`) or the source_id.

Besides lookups and lists, this module evaluates product collections: a STATIC collection is a
stored list of products/SKUs, an AUTO_UPDATE one is a Voucherify-style filter
(`{"junction": "and", "metadata.brand": {"conditions": {"$is": ["Acme"]}}, ...}`) translated into
a Django queryset, so membership is decided by the database (on SQLite and PostgreSQL alike) and
always reflects the current catalog.
"""

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import (
    BooleanField,
    CharField,
    Count,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.fields.json import KeyTransform, compile_json_path
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog.models import Product, ProductCollection, ProductCollectionItem, Sku
from core.dates import parse_moment
from core.errors import InvalidPayload, NotFound
from core.rawsql import RowLoader, placeholders

# SKUs shown inside a product object (`skus.data`); `skus.total` always counts all of them.
EMBEDDED_SKUS_LIMIT = 100


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


# ---------------------------------------------------------------- products and SKUs


def product_get(ref: str) -> Product:
    """The product by public id or source_id, or 404."""
    product = product_by_ref(ref)
    if product is None:
        raise NotFound.for_object("product", ref)
    return product


def sku_get(ref: str) -> Sku:
    """The SKU by public id or source_id, or 404."""
    sku = sku_by_ref(ref)
    if sku is None:
        raise NotFound.for_object("sku", ref)
    return sku


def product_sku_get(product: Product, ref: str) -> Sku:
    """A SKU of this product: a SKU of another product is 404 here, as the path names both."""
    sku = sku_by_ref(ref)
    if sku is None or sku.product_id != product.pk:
        raise NotFound(f"Cannot find sku with id {ref} in product {product.public_id}")
    return sku


def products_with_skus(queryset: QuerySet[Product] | None = None) -> QuerySet[Product]:
    """Products ready to serialise: the SKU count and the first SKUs come in two queries per page."""
    queryset = Product.objects.all() if queryset is None else queryset
    first_skus = Sku.objects.order_by("created_at", "id")[:EMBEDDED_SKUS_LIMIT]
    return queryset.annotate(sku_total=Coalesce(_sku_count_subquery(), 0)).prefetch_related(
        Prefetch("skus", queryset=first_skus, to_attr="embedded_skus")
    )


def product_detail(pk: int) -> Product:
    return products_with_skus(Product.objects.filter(pk=pk)).get()


def product_list(*, order: str = "-created_at", start_date: datetime | None = None,
                 end_date: datetime | None = None) -> QuerySet[Product]:
    queryset = _created_between(Product.objects.all(), start_date, end_date)
    return products_with_skus(queryset).order_by(order, _tiebreak(order))


def sku_list(product: Product, *, order: str = "-created_at", start_date: datetime | None = None,
             end_date: datetime | None = None) -> QuerySet[Sku]:
    queryset = _created_between(product.skus.select_related("product"), start_date, end_date)
    return queryset.order_by(order, _tiebreak(order))


def _created_between(queryset: QuerySet, start: datetime | None, end: datetime | None) -> QuerySet:
    if start is not None:
        queryset = queryset.filter(created_at__gte=start)
    if end is not None:
        queryset = queryset.filter(created_at__lte=end)
    return queryset


def _tiebreak(order: str) -> str:
    """Rows created in the same microsecond still page deterministically."""
    return "-id" if order.startswith("-") else "id"


def _sku_count_subquery() -> Subquery:
    counts = Sku.objects.filter(product=OuterRef("pk")).order_by().values("product").annotate(n=Count("pk"))
    return Subquery(counts.values("n")[:1], output_field=IntegerField())


# ---------------------------------------------------------------- collections: lookups and lists


def collection_get(ref: str) -> ProductCollection:
    """The collection by public id (`pc_...`), its STATIC items prefetched, or 404."""
    collection = _collections_with_items().filter(public_id=ref).first()
    if collection is None:
        raise NotFound.for_object("product collection", ref)
    return collection


def collection_list(*, order: str = "-created_at") -> QuerySet[ProductCollection]:
    return _collections_with_items().order_by(order, _tiebreak(order))


def _collections_with_items() -> QuerySet[ProductCollection]:
    items = ProductCollectionItem.objects.select_related("product", "sku").order_by("id")
    return ProductCollection.objects.prefetch_related(Prefetch("items", queryset=items))


def collection_members(collection: ProductCollection, *, order: str = "-created_at",
                       starting_after: datetime | None = None) -> QuerySet:
    """What GET /product-collections/{id}/products lists.

    STATIC: the stored items (a whole product or one SKU each), as ProductCollectionItem rows.
    AUTO_UPDATE: the matching products (their SKUs belong to the collection through them).
    `starting_after` is a cursor in list order: newer rows for ascending order, older for descending.
    """
    descending = order.startswith("-")
    column = order.lstrip("-")
    if collection.type == ProductCollection.Type.STATIC:
        queryset = collection.items.select_related("product", "sku", "sku__product").annotate(
            member_ts=Coalesce(f"sku__{column}", f"product__{column}")
        )
        key = "member_ts"
    else:
        queryset = collection_products(collection)
        key = column
    if starting_after is not None:
        queryset = queryset.filter(**{f"{key}__{'lt' if descending else 'gt'}": starting_after})
    prefix = "-" if descending else ""
    return queryset.order_by(f"{prefix}{key}", _tiebreak(order))


# ---------------------------------------------------------------- collections: membership


def collection_products(collection: ProductCollection) -> QuerySet[Product]:
    """Products that belong to the collection as a whole (for STATIC: listed as products)."""
    if collection.type == ProductCollection.Type.AUTO_UPDATE:
        return compile_collection_filter(collection.filter).apply(Product.objects.all())
    listed = collection.items.filter(sku__isnull=True).values("product_id")
    return Product.objects.filter(pk__in=listed)


def collection_skus(collection: ProductCollection) -> QuerySet[Sku]:
    """SKUs that belong: listed themselves (STATIC), or through a product that belongs."""
    in_products = Q(product__in=collection_products(collection).values("pk"))
    if collection.type == ProductCollection.Type.AUTO_UPDATE:
        return Sku.objects.filter(in_products)
    listed = collection.items.filter(sku__isnull=False).values("sku_id")
    return Sku.objects.filter(in_products | Q(pk__in=listed))


def collection_contains(collection: ProductCollection, product_id: int | None, sku_id: int | None) -> bool:
    """Whether a product (by pk) or a SKU (by pk; its product is implied) is in the collection."""
    return collection_contains_many(collection, [(product_id, sku_id)])[0]


def collection_contains_many(collection: ProductCollection,
                             pairs: Iterable[tuple[int | None, int | None]]) -> list[bool]:
    """`collection_contains` for a whole cart at once: at most two queries whatever its size.

    Each pair is (product pk, SKU pk); either may be None. A SKU's own product is used when the
    pair does not name it, so order items that carry only a SKU are matched correctly.
    """
    return collections_contain_many([collection], pairs)[collection.pk]


def collections_contain_many(collections: Iterable[ProductCollection],
                             pairs: Iterable[tuple[int | None, int | None]]) -> dict[int, list[bool]]:
    """Membership of every pair in every collection, keyed by collection pk.

    Queries: one to find the products of SKU-only pairs, one for all STATIC collections together,
    one per AUTO_UPDATE collection (its filter), none when nothing is asked.
    """
    collections, pairs = list(collections), list(pairs)
    resolved = _with_sku_products(pairs)
    product_ids = {product for product, _ in resolved if product is not None}
    sku_ids = {sku for _, sku in resolved if sku is not None}
    static = [c for c in collections if c.type != ProductCollection.Type.AUTO_UPDATE]
    listed = _static_listings(static, product_ids, sku_ids)
    answer: dict[int, list[bool]] = {}
    for collection in collections:
        if collection.type == ProductCollection.Type.AUTO_UPDATE:
            matching = _matching_products(collection, product_ids)
            answer[collection.pk] = [product in matching for product, _ in resolved]
        else:
            skus, products = listed.get(collection.pk, (set(), set()))
            answer[collection.pk] = [(sku is not None and sku in skus) or product in products
                                     for product, sku in resolved]
    return answer


def _matching_products(collection: ProductCollection, product_ids: set[int]) -> set[int]:
    if not product_ids:
        return set()
    return set(collection_products(collection).filter(pk__in=product_ids).values_list("pk", flat=True))


def _static_listings(collections: list[ProductCollection], product_ids: set[int],
                     sku_ids: set[int]) -> dict[int, tuple[set[int], set[int]]]:
    """collection pk -> (listed SKU pks, products listed as a whole), restricted to the cart."""
    if not collections or not (product_ids or sku_ids):
        return {}
    rows = ProductCollectionItem.objects.filter(
        Q(sku_id__in=sku_ids) | Q(sku__isnull=True, product_id__in=product_ids),
        collection__in=[collection.pk for collection in collections],
    ).values_list("collection_id", "product_id", "sku_id")
    listed: dict[int, tuple[set[int], set[int]]] = {}
    for collection_id, product_id, sku_id in rows:
        skus, products = listed.setdefault(collection_id, (set(), set()))
        if sku_id:
            skus.add(sku_id)
        else:
            products.add(product_id)
    return listed


def _with_sku_products(pairs: list[tuple[int | None, int | None]]) -> list[tuple[int | None, int | None]]:
    """Fill in the product of SKU-only pairs with one query (none when every pair names its product)."""
    missing = {sku for product, sku in pairs if product is None and sku is not None}
    owners = dict(Sku.objects.filter(pk__in=missing).values_list("pk", "product_id")) if missing else {}
    return [(product if product is not None else owners.get(sku), sku) for product, sku in pairs]


# ---------------------------------------------------------------- AUTO_UPDATE filters

JUNCTIONS = {"and", "or"}
OPERATOR_ALIASES = {"$more_than_or_equal": "$more_than_equal", "$less_than_or_equal": "$less_than_equal"}
PRESENCE_OPS = {"$has_value", "$is_unknown"}
EQUALITY_OPS = {"$is", "$is_not", "$in", "$not_in"}
TEXT_OPS = {"$contains", "$not_contain", "$starts_with", "$ends_with"}
RANGE_OPS = {"$more_than", "$less_than", "$more_than_equal", "$less_than_equal"}
OPERATORS_BY_KIND = {
    "string": EQUALITY_OPS | TEXT_OPS | PRESENCE_OPS,
    "integer": EQUALITY_OPS | RANGE_OPS | PRESENCE_OPS,
    "date": {"$after", "$before", "$more_than", "$less_than"} | PRESENCE_OPS,
    "names": EQUALITY_OPS | {"$contains", "$not_contain"} | PRESENCE_OPS,
    "object": EQUALITY_OPS,
    "count": {"$count", "$count_more", "$count_less"} | PRESENCE_OPS,
    "metadata": EQUALITY_OPS | TEXT_OPS | RANGE_OPS | PRESENCE_OPS,
    "metadata_root": PRESENCE_OPS,
}
# Filter keys -> (kind, model field). `metadata.<key>[.<key>...]` reaches into metadata.
FILTER_FIELDS = {
    "id": ("string", "public_id"),
    "product_id": ("string", "public_id"),
    "source_id": ("string", "source_id"),
    "name": ("string", "name"),
    "image_url": ("string", "image_url"),
    "price": ("integer", "price"),
    "created_at": ("date", "created_at"),
    "updated_at": ("date", "updated_at"),
    "attributes": ("names", "attributes"),
    "object": ("object", None),
    "skus": ("count", None),
    "metadata": ("metadata_root", "metadata"),
}
MAX_VALUES_PER_CONDITION = 1000
MAX_SQL_INT = 2**63 - 1
MAX_DAYS = 36_500
_METADATA_KEY = re.compile(r"^[^.\s]+$")
_NUMERIC_JSON_TYPES = ["integer", "real", "number"]  # SQLite json_type() / PostgreSQL jsonb_typeof()
_PRESENT_JSON_TYPES = [*_NUMERIC_JSON_TYPES, "text", "string", "true", "false", "boolean", "object", "array"]
_NOTHING = Q(pk__in=[])


class JsonValueType(Func):
    """The JSON type of the value at `path` inside a JSON column, or NULL when the key is missing.

    Range conditions on metadata compare numbers with numbers only: SQLite and PostgreSQL order
    mixed JSON types differently, so the type is checked explicitly for the same answer on both.
    """

    output_field = CharField()

    def __init__(self, column: str, path: list[str]):
        super().__init__(column)
        self.path = path

    def as_sql(self, compiler, connection, **extra):
        raise NotImplementedError("JsonValueType supports SQLite and PostgreSQL")

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"json_type({sql}, %s)", (*params, compile_json_path(self.path))

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"jsonb_typeof({sql} #> %s::text[])", (*params, self.path)


class JsonArrayHas(Func):
    """True when the JSON array column contains the string `value` (product attribute names)."""

    output_field = BooleanField()

    def __init__(self, column: str, value: str):
        super().__init__(column)
        self.value = value

    def as_sql(self, compiler, connection, **extra):
        raise NotImplementedError("JsonArrayHas supports SQLite and PostgreSQL")

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"EXISTS (SELECT 1 FROM json_each({sql}) AS elem WHERE elem.value = %s)", (*params, self.value)

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} @> %s::jsonb)", (*params, json.dumps([self.value]))


@dataclass
class CompiledFilter:
    """A product filter as a Q object plus the aliases (JSON paths, counts) it refers to."""

    q: Q = field(default_factory=Q)
    aliases: dict = field(default_factory=dict)

    def apply(self, queryset: QuerySet[Product]) -> QuerySet[Product]:
        return queryset.alias(**self.aliases).filter(self.q) if self.aliases else queryset.filter(self.q)

    def alias(self, expression) -> str:
        name = f"cf{len(self.aliases)}"
        self.aliases[name] = expression
        return name


def normalize_collection_filter(raw) -> dict:
    """The filter as stored: explicit nulls (sent by the SDK for every unset field) dropped,
    junction lower-cased, operator spellings unified. Raises InvalidPayload naming the bad part."""
    if not isinstance(raw, dict):
        raise InvalidPayload("filter must be a JSON object")
    junction = raw.get("junction")
    if not isinstance(junction, str) or junction.lower() not in JUNCTIONS:
        raise InvalidPayload("filter.junction is required and must be 'and' or 'or'")
    normalized: dict = {"junction": junction.lower()}
    for key, entry in raw.items():
        if key == "junction" or entry is None:
            continue
        _field_kind(key)
        normalized[key] = {"conditions": _normalize_conditions(key, entry)}
    compile_collection_filter(normalized)  # type-checks every value
    return normalized


def _normalize_conditions(key: str, entry) -> dict:
    if not isinstance(entry, dict) or set(entry) - {"conditions"}:
        raise InvalidPayload(f"filter.{key} must be an object with only a 'conditions' object")
    conditions = entry.get("conditions")
    if not isinstance(conditions, dict):
        raise InvalidPayload(f"filter.{key}.conditions must be an object")
    cleaned = {OPERATOR_ALIASES.get(op, op): value for op, value in conditions.items() if value is not None}
    if not cleaned:
        raise InvalidPayload(f"filter.{key}.conditions needs at least one operator")
    return cleaned


def compile_collection_filter(spec: dict) -> CompiledFilter:
    """Translate a (normalized) filter into a CompiledFilter over Product."""
    compiled = CompiledFilter()
    parts = []
    for key, entry in spec.items():
        if key == "junction" or entry is None:
            continue
        kind, column = _field_kind(key)
        for op, value in entry["conditions"].items():
            parts.append(_condition(compiled, key, kind, column, op, value))
    if parts:
        compiled.q = _any_of(parts) if spec.get("junction") == "or" else _all_of(parts)
    return compiled


def _field_kind(key: str) -> tuple[str, object]:
    if key in FILTER_FIELDS:
        return FILTER_FIELDS[key]
    if key.startswith("metadata."):
        path = key.split(".")[1:]
        if all(_METADATA_KEY.match(part) and "__" not in part and "\x00" not in part and not part.isdigit()
               for part in path):
            return "metadata", path
        raise InvalidPayload(f"filter.{key}: metadata keys must be non-empty, without spaces, '__' or "
                             "plain numbers")
    allowed = ", ".join([*FILTER_FIELDS, "metadata.<key>"])
    raise InvalidPayload(f"filter.{key}: unknown filter field (allowed: {allowed})")


def _condition(compiled: CompiledFilter, key: str, kind: str, column, op: str, value) -> Q:
    where = f"filter.{key}.conditions.{op}"
    if op not in OPERATORS_BY_KIND[kind]:
        allowed = ", ".join(sorted(OPERATORS_BY_KIND[kind]))
        raise InvalidPayload(f"{where}: unknown operator for {key} (allowed: {allowed})")
    builder = {
        "string": _string_condition, "integer": _integer_condition, "date": _date_condition,
        "names": _names_condition, "object": _object_condition, "count": _count_condition,
        "metadata": _metadata_condition, "metadata_root": _metadata_root_condition,
    }[kind]
    return builder(compiled, where, column, op, value)


def _values(where: str, value, check, expected: str) -> list:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise InvalidPayload(f"{where}: needs at least one value")
    if len(values) > MAX_VALUES_PER_CONDITION:
        raise InvalidPayload(f"{where}: at most {MAX_VALUES_PER_CONDITION} values")
    for item in values:
        if not check(item):
            raise InvalidPayload(f"{where}: {item!r} is not {expected}")
    return values


def _single(where: str, value, check, expected: str):
    values = _values(where, value, check, expected)
    if len(values) != 1:
        raise InvalidPayload(f"{where}: takes exactly one value")
    return values[0]


def _is_str(value) -> bool:
    return isinstance(value, str) and "\x00" not in value


def _is_int(value) -> bool:
    """A JSON integer the databases can bind (64-bit)."""
    return isinstance(value, int) and not isinstance(value, bool) and -MAX_SQL_INT <= value <= MAX_SQL_INT


def _is_number(value) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _is_scalar(value) -> bool:
    return _is_str(value) or _is_number(value) or isinstance(value, bool)


def _any_of(queries: list[Q]) -> Q:
    combined = queries[0]
    for query in queries[1:]:
        combined |= query
    return combined


def _all_of(queries: list[Q]) -> Q:
    combined = queries[0]
    for query in queries[1:]:
        combined &= query
    return combined


def _equality(op: str, positive: Q) -> Q:
    return positive if op in ("$is", "$in") else ~positive


def _string_condition(compiled, where, column, op, value) -> Q:
    blank = Q(**{f"{column}__isnull": True}) | Q(**{column: ""})
    if op in PRESENCE_OPS:
        return blank if op == "$is_unknown" else ~blank
    values = _values(where, value, _is_str, "a string")
    if op in EQUALITY_OPS:
        return _equality(op, Q(**{f"{column}__in": values}))
    lookup = {"$contains": "icontains", "$not_contain": "icontains", "$starts_with": "istartswith",
              "$ends_with": "iendswith"}[op]
    matched = _any_of([Q(**{f"{column}__{lookup}": item}) for item in values])
    return ~matched if op == "$not_contain" else matched


def _integer_condition(compiled, where, column, op, value) -> Q:
    if op in PRESENCE_OPS:
        return Q(**{f"{column}__isnull": op == "$is_unknown"})
    if op in EQUALITY_OPS:
        return _equality(op, Q(**{f"{column}__in": _values(where, value, _is_int, "an integer")}))
    lookup = {"$more_than": "gt", "$less_than": "lt", "$more_than_equal": "gte", "$less_than_equal": "lte"}[op]
    return Q(**{f"{column}__{lookup}": _single(where, value, _is_int, "an integer")})


def _date_condition(compiled, where, column, op, value) -> Q:
    if op in PRESENCE_OPS:
        return Q(**{f"{column}__isnull": op == "$is_unknown"})
    if op in ("$after", "$before"):
        moment = _single(where, value, lambda v: parse_moment(v) is not None, "an ISO 8601 date or date-time")
        return Q(**{f"{column}__{'gt' if op == '$after' else 'lt'}": parse_moment(moment)})
    days = _single(where, value, lambda v: _is_int(v) and 0 <= v <= MAX_DAYS, f"a whole number of days (0-{MAX_DAYS})")
    cutoff = timezone.now() - timedelta(days=days)
    # $more_than 10: created more than 10 days ago; $less_than 10: within the last 10 days.
    return Q(**{f"{column}__{'lt' if op == '$more_than' else 'gt'}": cutoff})


def _names_condition(compiled, where, column, op, value) -> Q:
    if op in PRESENCE_OPS:
        empty = Q(**{column: []})
        return empty if op == "$is_unknown" else ~empty
    values = _values(where, value, _is_str, "a string")
    has_any = _any_of([Q(JsonArrayHas(column, item)) for item in values])
    return has_any if op in ("$is", "$in", "$contains") else ~has_any


def _object_condition(compiled, where, column, op, value) -> Q:
    """Collections filter products, so `object` is "product" for every candidate."""
    values = _values(where, value, lambda v: isinstance(v, str) and v in ("product", "sku"), "'product' or 'sku'")
    matches = "product" in values
    if op in ("$is_not", "$not_in"):
        matches = not matches
    return Q() if matches else _NOTHING


def _count_condition(compiled, where, column, op, value) -> Q:
    name = compiled.alias(Coalesce(_sku_count_subquery(), 0))
    if op in PRESENCE_OPS:
        return Q(**{name: 0}) if op == "$is_unknown" else Q(**{f"{name}__gt": 0})
    count = _single(where, value, lambda v: _is_int(v) and v >= 0, "a non-negative integer")
    lookup = {"$count": "exact", "$count_more": "gt", "$count_less": "lt"}[op]
    return Q(**{f"{name}__{lookup}": count})


def _metadata_root_condition(compiled, where, column, op, value) -> Q:
    empty = Q(metadata={}) | Q(metadata__isnull=True)
    return empty if op == "$is_unknown" else ~empty


def _metadata_condition(compiled, where, path, op, value) -> Q:
    expression = "metadata"
    for key in path:
        expression = KeyTransform(key, expression)
    name = compiled.alias(expression)
    missing = Q(**{f"{name}__isnull": True})
    if op in PRESENCE_OPS:
        type_name = compiled.alias(JsonValueType("metadata", path))
        if op == "$has_value":
            return Q(**{f"{type_name}__in": _PRESENT_JSON_TYPES})
        return Q(**{f"{type_name}__isnull": True}) | Q(**{type_name: "null"})
    if op in EQUALITY_OPS:
        values = _values(where, value, _is_scalar, "a string, number or boolean")
        matched = Q(**{f"{name}__in": _equal_candidates(values)})
        return matched if op in ("$is", "$in") else (~matched | missing)
    if op in TEXT_OPS:
        values = _values(where, value, _is_str, "a string")
        lookup = {"$contains": "icontains", "$not_contain": "icontains", "$starts_with": "istartswith",
                  "$ends_with": "iendswith"}[op]
        matched = _any_of([Q(**{f"{name}__{lookup}": item}) for item in values])
        return (~matched | missing) if op == "$not_contain" else matched
    number = _single(where, value, _is_number, "a number")
    type_name = compiled.alias(JsonValueType("metadata", path))
    lookup = {"$more_than": "gt", "$less_than": "lt", "$more_than_equal": "gte", "$less_than_equal": "lte"}[op]
    return Q(**{f"{name}__{lookup}": number, f"{type_name}__in": _NUMERIC_JSON_TYPES})


def _equal_candidates(values: list) -> list:
    """Metadata may hold 500 or "500" depending on how it was written: match both spellings."""
    candidates = list(values)
    for item in values:
        if isinstance(item, str):
            try:
                number = float(item)
            except ValueError:
                continue
            if not math.isfinite(number):
                continue
            candidates.append(int(number) if number.is_integer() else number)
        elif _is_number(item):
            candidates.append(str(item))
    return candidates


def filter_matches_all(spec: dict) -> bool:
    """True for a filter with no conditions (every product belongs)."""
    return not any(key != "junction" for key in spec)



# Precompiled reads: a cart is resolved on every validation, where ORM query building dominates.
_PRODUCT_ROWS = RowLoader(Product)
_SKU_ROWS = RowLoader(Sku, ["product"])


def _by_refs(loader: RowLoader, refs: set[str]) -> list:
    refs = sorted(refs)
    marks = placeholders(refs)
    return loader.fetch(f"t0.public_id IN ({marks}) OR t0.source_id IN ({marks})", refs + refs)


class CatalogLookup:
    """The products and SKUs a batch of references names (public ids or source ids), in two queries,
    so that a whole cart or order is resolved at once instead of one lookup per line."""

    def __init__(self, product_refs: Iterable[str], sku_refs: Iterable[str]):
        self.products: dict[str, Product] = {}
        self.skus: dict[str, Sku] = {}
        product_refs, sku_refs = {r for r in product_refs if r}, {r for r in sku_refs if r}
        # What was looked up: a miss among these is final, any other reference still needs a lookup.
        self.product_refs, self.sku_refs = product_refs, sku_refs
        if product_refs:
            for product in _by_refs(_PRODUCT_ROWS, product_refs):
                self.products[product.public_id] = product
                if product.source_id:
                    self.products.setdefault(product.source_id, product)
        if sku_refs:
            for sku in _by_refs(_SKU_ROWS, sku_refs):
                self.skus[sku.public_id] = sku
                if sku.source_id:
                    self.skus.setdefault(sku.source_id, sku)

    def product(self, ref: str | None) -> Product | None:
        return self.products.get(ref) if ref else None

    def sku(self, ref: str | None) -> Sku | None:
        return self.skus.get(ref) if ref else None

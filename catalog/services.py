"""Writes of the catalog: products, SKUs, product collections and the CSV imports.

Every function checks what it is given, types included, because the API is not the only caller:
the CSV imports and the admin use the same checks. Problems are raised as core.errors (400
invalid_payload / invalid_metadata, 404 not_found, 409 duplicate_found) and each write happens in
one transaction, so a refused request leaves nothing half-written.

Deleting a product or SKU removes it for good, with or without `force`: the spec's bin (a soft
delete listed under /v1/trash-bin) is not implemented yet; order items keep their snapshot and
lose only the link (OrderItem.product/sku are SET_NULL).
"""

import math
import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from catalog import selectors
from catalog.models import Product, ProductCollection, ProductCollectionItem, Sku
from core import csv_import, inputs
from core.errors import ApiError, DuplicateFound, InvalidPayload, NotFound
from core.metadata import metadata_errors, validate_metadata
from core.models import AsyncAction, MetadataSchema
from core.services import async_action_start, register_async_handler

PRODUCT_UPDATABLE = ("name", "price", "attributes", "metadata", "image_url")
SKU_UPDATABLE = ("sku", "price", "currency", "attributes", "metadata", "image_url")
MAX_ATTRIBUTES = 100
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_url_validator = URLValidator(schemes=["http", "https"])


def given(data: dict) -> dict:
    """Drop explicit nulls: SDK requests built with from_dict carry null for every unset field."""
    return {key: value for key, value in data.items() if value is not None}


# ---------------------------------------------------------------- field checks


def clean_text(value, label: str, max_length: int = 255, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidPayload(f"{label} must be a string")
    value = value.strip()
    if "\x00" in value:
        raise InvalidPayload(f"{label} must not contain NUL characters")
    if required and not value:
        raise InvalidPayload(f"{label} is required")
    if len(value) > max_length:
        raise InvalidPayload(f"{label} must have at most {max_length} characters")
    return value


def clean_source_id(value) -> str | None:
    """Blank source ids are stored as NULL so they never collide on the unique index."""
    if value is None:
        return None
    return clean_text(value, "source_id") or None


def clean_price(value, label: str = "price") -> int | None:
    """Prices are integers in minor units: floats (even 10.0), booleans and strings are refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPayload(f"{label} must be an integer amount in minor units (e.g. 1999 for 19.99)")
    if value < 0:
        raise InvalidPayload(f"{label} must not be negative")
    if value > 10**15:
        raise InvalidPayload(f"{label} is too large")
    return value


def clean_product_attributes(value) -> list[str]:
    """Attribute names the product's SKUs vary by, in order, without duplicates."""
    if not isinstance(value, list):
        raise InvalidPayload("attributes must be a list of attribute names")
    names: list[str] = []
    for item in value:
        name = clean_text(item, "attributes[]", 100, required=True)
        if name not in names:
            names.append(name)
    if len(names) > MAX_ATTRIBUTES:
        raise InvalidPayload(f"attributes can name at most {MAX_ATTRIBUTES} attributes")
    return names


def clean_sku_attributes(value, product: Product) -> dict:
    """A SKU gives values only to attributes its product declares."""
    if not isinstance(value, dict):
        raise InvalidPayload("attributes must be an object of attribute name -> value")
    unknown = [key for key in value if key not in product.attributes]
    if unknown:
        declared = ", ".join(product.attributes) or "none"
        raise InvalidPayload(f"attributes {', '.join(sorted(unknown))} are not attributes of product "
                             f"{product.public_id} (declared: {declared})")
    for key, item in value.items():
        if item is not None and not isinstance(item, str | int | float | bool):
            raise InvalidPayload(f"attributes.{key} must be a string, number or boolean")
    return clean_json(value, "attributes")


def clean_json(value, label: str):
    """JSON both databases can store: no NUL characters (PostgreSQL jsonb refuses them) and no
    infinite numbers (a JSON 1e400 parses to inf, which is not valid JSON on the way back)."""
    problem = _json_problem(value, label)
    if problem:
        raise InvalidPayload(problem)
    return value


def _json_problem(value, path: str) -> str | None:
    if isinstance(value, str):
        return f"{path} must not contain NUL characters" if "\x00" in value else None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path} must be a finite number"
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _json_problem(key, f"{path} key") or _json_problem(item, f"{path}.{key}")
            if problem:
                return problem
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = _json_problem(item, f"{path}[{index}]")
            if problem:
                return problem
    return None


def clean_metadata(related_object: str, value) -> dict:
    return validate_metadata(related_object, clean_json(value, "metadata"))


def clean_image_url(value) -> str:
    value = clean_text(value, "image_url", 1000)
    if value:
        try:
            _url_validator(value)
        except DjangoValidationError:
            raise InvalidPayload("image_url must be an http(s) URL")
    return value


def clean_currency(value) -> str:
    value = clean_text(value, "currency", 3).upper()
    if value and not _CURRENCY.match(value):
        raise InvalidPayload("currency must be a three-letter ISO 4217 code such as USD")
    return value


def _product_fields(data: dict, *, creating: bool) -> dict:
    """Checked model values for the product fields present in `data`."""
    fields: dict = {}
    if "name" in data:
        fields["name"] = clean_text(data["name"], "name")
    if "price" in data:
        fields["price"] = clean_price(data["price"])
    if "attributes" in data:
        fields["attributes"] = clean_product_attributes(data["attributes"])
    if "image_url" in data:
        fields["image_url"] = clean_image_url(data["image_url"])
    if "metadata" in data or creating:
        # On creation an absent metadata is checked too, so required schema keys are enforced.
        fields["metadata"] = clean_metadata("product", data.get("metadata", {}))
    return fields


def _sku_fields(data: dict, product: Product, *, creating: bool) -> dict:
    fields: dict = {}
    if "sku" in data:
        fields["sku"] = clean_text(data["sku"], "sku")
    if "price" in data:
        fields["price"] = clean_price(data["price"])
    if "currency" in data:
        fields["currency"] = clean_currency(data["currency"])
    if "attributes" in data:
        fields["attributes"] = clean_sku_attributes(data["attributes"], product)
    if "image_url" in data:
        fields["image_url"] = clean_image_url(data["image_url"])
    if "metadata" in data or creating:
        fields["metadata"] = clean_metadata("sku", data.get("metadata", {}))
    return fields


def _apply(instance, fields: dict):
    for name, value in fields.items():
        setattr(instance, name, value)
    return instance


def _ensure_source_id_free(model, source_id: str, exclude_pk: int | None = None) -> None:
    clash = model.objects.filter(source_id=source_id).exclude(pk=exclude_pk).first()
    if clash is not None:
        kind = "sku" if model is Sku else "product"
        raise DuplicateFound(f"A {kind} with source_id {source_id} already exists ({clash.public_id})")


# ---------------------------------------------------------------- products


def product_upsert(data: dict) -> tuple[Product, bool]:
    """POST /products: create, or update the product named by `id` or `source_id` (upsert mode).

    Returns (product, created). An unknown `id` is 404: public ids are assigned here, never chosen.
    """
    data = given(data)
    source_id = clean_source_id(data.get("source_id"))
    with transaction.atomic():
        product = _product_for_upsert(data.get("id"), source_id)
        fields = _product_fields(data, creating=product is None)
        if product is None:
            created = _product_create(source_id, fields)
            if created is not None:
                return created, True
            # Someone created the same source_id concurrently: update theirs with what was sent.
            product = Product.objects.get(source_id=source_id)
            fields = {name: value for name, value in fields.items() if name in data}
        if source_id and source_id != product.source_id:
            _ensure_source_id_free(Product, source_id, product.pk)
            fields["source_id"] = source_id
        _apply(product, fields).save()
    return product, False


def _product_for_upsert(public_id, source_id: str | None) -> Product | None:
    if public_id is not None:
        public_id = clean_text(public_id, "id", 64)
        product = Product.objects.filter(public_id=public_id).first()
        if product is None:
            raise NotFound.for_object("product", public_id)
        return product
    return Product.objects.filter(source_id=source_id).first() if source_id else None


def _product_create(source_id: str | None, fields: dict) -> Product | None:
    """Insert in a savepoint; None when the source_id was taken meanwhile (unique index)."""
    try:
        with transaction.atomic():
            return Product.objects.create(source_id=source_id, **fields)
    except IntegrityError:
        if source_id and Product.objects.filter(source_id=source_id).exists():
            return None
        raise


def product_update(product: Product, data: dict) -> Product:
    """PUT /products/{id}: only the listed fields change; others (source_id, id ...) are skipped."""
    data = {key: value for key, value in given(data).items() if key in PRODUCT_UPDATABLE}
    with transaction.atomic():
        _apply(product, _product_fields(data, creating=False)).save()
    return product


def product_delete(product: Product, *, force: bool = False) -> None:
    """Delete the product and its SKUs; STATIC collection entries go too, order items keep their snapshot."""
    with transaction.atomic():
        product.delete()


# ---------------------------------------------------------------- SKUs


def sku_upsert(product: Product, data: dict) -> tuple[Sku, bool]:
    """POST /products/{id}/skus: create, or update the SKU named by `id` or `source_id`."""
    data = given(data)
    source_id = clean_source_id(data.get("source_id"))
    with transaction.atomic():
        sku = _sku_for_upsert(product, data.get("id"), source_id)
        fields = _sku_fields(data, product, creating=sku is None)
        if sku is None:
            try:
                with transaction.atomic():
                    return Sku.objects.create(product=product, source_id=source_id, **fields), True
            except IntegrityError:
                # The same source_id was created concurrently: update that SKU with what was sent.
                sku = _sku_for_upsert(product, None, source_id)
                if sku is None:
                    raise
                fields = {name: value for name, value in fields.items() if name in data}
        if source_id and source_id != sku.source_id:
            _ensure_source_id_free(Sku, source_id, sku.pk)
            fields["source_id"] = source_id
        _apply(sku, fields).save()
    return sku, False


def _sku_for_upsert(product: Product, public_id, source_id: str | None) -> Sku | None:
    if public_id is not None:
        public_id = clean_text(public_id, "id", 64)
        sku = Sku.objects.filter(public_id=public_id).first()
        if sku is None:
            raise NotFound.for_object("sku", public_id)
    elif source_id:
        sku = Sku.objects.filter(source_id=source_id).first()
    else:
        return None
    if sku is not None and sku.product_id != product.pk:
        raise DuplicateFound(f"SKU {sku.source_id or sku.public_id} belongs to another product "
                             f"({sku.product.public_id})")
    return sku


def sku_update(sku: Sku, data: dict) -> Sku:
    data = {key: value for key, value in given(data).items() if key in SKU_UPDATABLE}
    with transaction.atomic():
        _apply(sku, _sku_fields(data, sku.product, creating=False)).save()
    return sku


def sku_delete(sku: Sku, *, force: bool = False) -> None:
    with transaction.atomic():
        sku.delete()


# ---------------------------------------------------------------- admin checks


def product_instance_errors(product: Product) -> dict[str, list[str]]:
    """The API's checks for a product edited elsewhere (admin form, admin import): field -> messages."""
    checks = {
        "price": lambda: clean_price(product.price),
        "attributes": lambda: clean_product_attributes(product.attributes),
        "metadata": lambda: clean_metadata("product", product.metadata),
    }
    return _collect_errors(checks)


def sku_instance_errors(sku: Sku) -> dict[str, list[str]]:
    checks = {
        "price": lambda: clean_price(sku.price),
        "currency": lambda: clean_currency(sku.currency or ""),
        "metadata": lambda: clean_metadata("sku", sku.metadata),
    }
    if sku.product_id:
        checks["attributes"] = lambda: clean_sku_attributes(sku.attributes, sku.product)
    return _collect_errors(checks)


def _collect_errors(checks: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name, check in checks.items():
        try:
            check()
        except InvalidPayload as exc:
            errors[name] = [exc.details or exc.message]
    return errors


# ---------------------------------------------------------------- product collections


def collection_create(data: dict) -> ProductCollection:
    """POST /product-collections: STATIC with `products`, or AUTO_UPDATE with a `filter`."""
    data = given(data)
    name = clean_text(data.get("name", ""), "name", required=True)
    kind = data.get("type", ProductCollection.Type.STATIC)
    if kind not in ProductCollection.Type.values:
        raise InvalidPayload("type must be STATIC or AUTO_UPDATE")
    if kind == ProductCollection.Type.AUTO_UPDATE:
        return _auto_collection_create(name, data)
    if "filter" in data:
        raise InvalidPayload("filter is only for AUTO_UPDATE collections; a STATIC one lists products")
    members = _collection_members(data.get("products", []))
    with transaction.atomic():
        collection = ProductCollection.objects.create(name=name, type=kind)
        ProductCollectionItem.objects.bulk_create(
            ProductCollectionItem(collection=collection, product=product, sku=sku) for product, sku in members
        )
    return collection


def _auto_collection_create(name: str, data: dict) -> ProductCollection:
    if data.get("products"):
        raise InvalidPayload("products is only for STATIC collections; an AUTO_UPDATE one has a filter")
    if "filter" not in data:
        raise InvalidPayload("filter is required for AUTO_UPDATE collections")
    spec = selectors.normalize_collection_filter(data["filter"])
    with transaction.atomic():
        return ProductCollection.objects.create(name=name, type=ProductCollection.Type.AUTO_UPDATE, filter=spec)


def _collection_members(items) -> list[tuple[Product, Sku | None]]:
    """Resolve `products: [{id, object, product_id}]` in two queries; unknown ids are 404."""
    if not isinstance(items, list):
        raise InvalidPayload("products must be a list of {id, object, product_id}")
    refs = [_collection_ref(index, item) for index, item in enumerate(items)]
    products = _by_ref(Product.objects.all(), {ref for _, obj, ref, _ in refs if obj == "product"}, "product")
    skus = _by_ref(Sku.objects.select_related("product"), {ref for _, obj, ref, _ in refs if obj == "sku"}, "sku")
    members: list[tuple[Product, Sku | None]] = []
    for index, obj, ref, parent in refs:
        member = (products[ref], None) if obj == "product" else (skus[ref].product, skus[ref])
        if parent is not None and parent not in (member[0].public_id, member[0].source_id):
            raise InvalidPayload(f"products[{index}].product_id {parent} is not the product of sku {ref} "
                                 f"({member[0].public_id})")
        if member not in members:
            members.append(member)
    return members


def _collection_ref(index: int, item) -> tuple[int, str, str, str | None]:
    if not isinstance(item, dict):
        raise InvalidPayload(f"products[{index}] must be an object {{id, object}}")
    ref, obj, parent = item.get("id"), item.get("object"), item.get("product_id")
    if not isinstance(ref, str) or not ref:
        raise InvalidPayload(f"products[{index}].id is required")
    if obj not in ("product", "sku"):
        raise InvalidPayload(f"products[{index}].object must be 'product' or 'sku'")
    if parent is not None and not isinstance(parent, str):
        raise InvalidPayload(f"products[{index}].product_id must be a string")
    return index, obj, ref, parent


def _by_ref(queryset, refs: set[str], kind: str) -> dict:
    """Map each ref (public id first, else source_id) to its row; 404 naming every unknown ref."""
    if not refs:
        return {}
    rows = list(queryset.filter(Q(public_id__in=refs) | Q(source_id__in=refs)))
    found = {row.source_id: row for row in rows if row.source_id in refs}
    found.update({row.public_id: row for row in rows if row.public_id in refs})
    missing = sorted(refs - set(found))
    if missing:
        raise NotFound(f"Cannot find {kind} with id {', '.join(missing)}")
    return found


def collection_delete(collection: ProductCollection) -> None:
    with transaction.atomic():
        collection.delete()


# ---------------------------------------------------------------- CSV imports

PRODUCTS_IMPORT = "PRODUCTS_IMPORT_CSV"
SKUS_IMPORT = "SKUS_IMPORT_CSV"
IMPORT_CHUNK = 500
MAX_REPORTED_ERRORS = 1000
PRODUCT_COLUMNS = {"name", "source_id", "price", "attributes", "image_url"}
SKU_COLUMNS = {"product_id", "sku", "source_id", "price", "currency", "image_url", "attributes"}


def products_import_start(*, content: bytes, filename: str = "", api_key=None, user=None) -> AsyncAction:
    """Check the file's header at once (a wrong file is a 400 now, not a failed job later), then queue it."""
    _csv_header(content, PRODUCT_COLUMNS, required={"name"})
    return async_action_start(action_type=PRODUCTS_IMPORT, payload={"filename": filename}, attachment=content,
                              api_key=api_key, user=user)


def skus_import_start(*, content: bytes, filename: str = "", api_key=None, user=None) -> AsyncAction:
    _csv_header(content, SKU_COLUMNS, required={"source_id", "product_id"})
    return async_action_start(action_type=SKUS_IMPORT, payload={"filename": filename}, attachment=content,
                              api_key=api_key, user=user)


def _csv_header(content: bytes, standard: set[str], required: set[str]) -> list[str]:
    header, _rows = csv_import.open_csv(content)
    names = [name.strip() for name in header]
    lowered = {name.lower() for name in names}
    problems = []
    missing = sorted(required - lowered)
    if missing:
        problems.append(f"The CSV file lacks the required column(s): {', '.join(missing)}")
    spaced = [name for name in names if name.lower() not in standard and (not name or re.search(r"\s", name))]
    if spaced:
        problems.append(f"Metadata column names must be non-empty without white space: {spaced}")
    csv_import.header_errors("Invalid CSV header", problems)
    return names


def _csv_rows(content: bytes, standard: set[str]) -> list[tuple[int, dict, dict]]:
    """(line number, standard columns by lower-case name, metadata columns by name) for each data row."""
    header, reader = csv_import.open_csv(content)
    header = [name.strip() for name in header]
    rows = []
    for line, cells in csv_import.data_rows(reader):
        values, metadata = {}, {}
        for name, cell in zip(header, cells, strict=False):
            if name.lower() in standard:
                values[name.lower()] = cell.strip()
            else:
                metadata[name] = cell
        rows.append((line, values, metadata))
    return rows


def _run_import(action: AsyncAction, progress, import_chunk, standard: set[str]) -> dict:
    """Import in chunks, each in one transaction together with its checkpoint.

    A rerun after a crash (the task is acks_late) resumes after the last committed chunk with the
    counts saved so far, so rows are never applied twice.
    """
    rows = _csv_rows(action.attachment or b"", standard)
    total = len(rows)
    state = _resume_state(action)
    for start in range(action.processed if state.pop("partial") else 0, total, IMPORT_CHUNK):
        chunk = rows[start:start + IMPORT_CHUNK]
        with transaction.atomic():
            import_chunk(chunk, state)
            done = start + len(chunk)
            AsyncAction.objects.filter(pk=action.pk).update(result={**state, "partial": True}, processed=done)
            progress(done, total)
    if not total:
        progress(0, 0)
    return _import_result(state, total)


def _resume_state(action: AsyncAction) -> dict:
    saved = action.result if isinstance(action.result, dict) else {}
    if action.processed and saved.get("partial"):
        return {**saved, "errors": list(saved.get("errors", []))}
    return {"created": 0, "updated": 0, "failed": 0, "errors": [], "partial": False}


def _import_result(state: dict, total: int) -> dict:
    counts = {key: state[key] for key in ("created", "updated", "failed")}
    message = f"Imported {total} rows: {counts['created']} created, {counts['updated']} updated, " \
              f"{counts['failed']} failed."
    # done_count / failed_count as every import reports them (core.bulk), beside the catalog's own counts
    return {"message": message, "total": total, **counts, "done_count": counts["created"] + counts["updated"],
            "failed_count": counts["failed"], "errors": state["errors"]}


def _row_failed(state: dict, line: int, source_id, message: str) -> None:
    state["failed"] += 1
    if len(state["errors"]) < MAX_REPORTED_ERRORS:
        state["errors"].append({"row": line, "source_id": source_id or None, "message": message})


@register_async_handler(PRODUCTS_IMPORT)
def products_import_csv(action: AsyncAction, progress) -> dict:
    """Columns name (required), source_id, price, attributes, image_url; any other column is metadata.

    As in Voucherify, a row whose source_id exists only renames that product; new rows create products.
    """
    return _run_import(action, progress, _import_product_chunk, PRODUCT_COLUMNS)


def _import_product_chunk(chunk: list, state: dict) -> None:
    schema = _schema("product")
    source_ids = {values.get("source_id") for _, values, _ in chunk if values.get("source_id")}
    existing = set(Product.objects.filter(source_id__in=source_ids).values_list("source_id", flat=True))
    keyed: dict[str, Product] = {}
    unkeyed: list[Product] = []
    for line, values, metadata in chunk:
        source_id = values.get("source_id") or None
        try:
            name = clean_text(values.get("name", ""), "name", required=True)
            if source_id in existing or source_id in keyed:
                keyed.setdefault(source_id, Product(source_id=source_id)).name = name
                state["updated"] += 1
                continue
            product = Product(source_id=source_id, name=name, **_product_csv_fields(values, metadata, schema))
        except ApiError as exc:
            _row_failed(state, line, source_id, exc.details or exc.message)
            continue
        state["created"] += 1
        if source_id:
            keyed[source_id] = product
        else:
            unkeyed.append(product)
    _save_imported(Product, keyed, unkeyed, update_fields=["name", "updated_at"])


def _product_csv_fields(values: dict, metadata: dict, schema) -> dict:
    return {
        "price": _csv_int(values.get("price", ""), "price"),
        "attributes": clean_product_attributes(
            [part.strip() for part in values.get("attributes", "").split(",") if part.strip()]),
        "image_url": clean_image_url(values.get("image_url", "")),
        "metadata": _csv_metadata(metadata, schema),
    }


def _save_imported(model, keyed: dict, unkeyed: list, update_fields: list[str]) -> None:
    """Upsert rows with a source_id (one statement, safe against a concurrent insert), insert the rest.

    Rows that only update carry just the changed fields; the upsert leaves the others as they are.
    """
    now = timezone.now()
    for row in keyed.values():
        row.updated_at = now
    if keyed:
        model.objects.bulk_create(keyed.values(), update_conflicts=True, unique_fields=["source_id"],
                                  update_fields=update_fields)
    if unkeyed:
        model.objects.bulk_create(unkeyed)


@register_async_handler(SKUS_IMPORT)
def skus_import_csv(action: AsyncAction, progress) -> dict:
    """Columns product_id and source_id (required), sku, price, currency, image_url, attributes
    (JSON or Voucherify's `{color:blue}`); other columns are SKU metadata. An existing source_id
    updates only the SKU's name and price, as in Voucherify."""
    return _run_import(action, progress, _import_sku_chunk, SKU_COLUMNS)


def _import_sku_chunk(chunk: list, state: dict) -> None:
    schema = _schema("sku")
    products = _products_for_refs({values.get("product_id", "") for _, values, _ in chunk})
    source_ids = {values.get("source_id") for _, values, _ in chunk if values.get("source_id")}
    existing = {sku.source_id: sku for sku in Sku.objects.filter(source_id__in=source_ids)}
    pending: dict[str, Sku] = {}
    for line, values, metadata in chunk:
        source_id = values.get("source_id") or None
        try:
            sku, created = _sku_from_row(values, metadata, schema, products, existing, pending)
        except ApiError as exc:
            _row_failed(state, line, source_id, exc.details or exc.message)
            continue
        pending[source_id] = sku
        state["created" if created else "updated"] += 1
    _update_existing_skus(pending, existing)
    new = [sku for sku in pending.values() if sku.pk is None]
    if new:
        now = timezone.now()
        for sku in new:
            sku.updated_at = now
        Sku.objects.bulk_create(new, update_conflicts=True, unique_fields=["source_id"],
                                update_fields=["sku", "price", "updated_at"])


def _sku_from_row(values, metadata, schema, products, existing, pending) -> tuple[Sku, bool]:
    source_id = clean_text(values.get("source_id", ""), "source_id", required=True)
    product_ref = clean_text(values.get("product_id", ""), "product_id", required=True)
    product = products.get(product_ref)
    if product is None:
        raise NotFound.for_object("product", product_ref)
    current = pending.get(source_id) or existing.get(source_id)
    if current is not None:
        if current.product_id != product.pk:
            raise InvalidPayload(f"SKU {source_id} belongs to another product")
        if values.get("sku"):
            current.sku = clean_text(values["sku"], "sku")
        if values.get("price"):
            current.price = _csv_int(values["price"], "price")
        return current, False
    sku = Sku(product=product, source_id=source_id, sku=clean_text(values.get("sku", ""), "sku"),
              price=_csv_int(values.get("price", ""), "price"), currency=clean_currency(values.get("currency", "")),
              image_url=clean_image_url(values.get("image_url", "")),
              attributes=clean_sku_attributes(_csv_attributes(values.get("attributes", "")), product),
              metadata=_csv_metadata(metadata, schema))
    return sku, True


def _update_existing_skus(pending: dict, existing: dict) -> None:
    changed = [sku for sku in pending.values() if sku.pk is not None]
    if changed:
        now = timezone.now()
        for sku in changed:
            sku.updated_at = now
        Sku.objects.bulk_update(changed, ["sku", "price", "updated_at"])


def _products_for_refs(refs: set[str]) -> dict[str, Product]:
    refs = {ref for ref in refs if ref}
    rows = Product.objects.filter(Q(public_id__in=refs) | Q(source_id__in=refs)) if refs else []
    found = {row.source_id: row for row in rows if row.source_id in refs}
    found.update({row.public_id: row for row in rows if row.public_id in refs})
    return found


def _csv_int(text: str, label: str) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    if not re.fullmatch(r"-?\d+", text):
        raise InvalidPayload(f"{label} must be an integer amount in minor units, got {text!r}")
    return clean_price(int(text), label)


def _csv_attributes(text: str) -> dict:
    """SKU attributes as JSON, or in Voucherify's loose form {color:blue,size:M}."""
    text = (text or "").strip()
    if not text:
        return {}
    try:
        value = inputs.loads(text)
    except ValueError:
        value = _loose_object(text)
    if not isinstance(value, dict):
        raise InvalidPayload("attributes must be an object such as {\"color\": \"blue\"}")
    return value


def _loose_object(text: str) -> dict:
    if not (text.startswith("{") and text.endswith("}")):
        raise InvalidPayload(f"attributes {text!r} is not an object such as {{color:blue}}")
    result = {}
    for pair in filter(None, (part.strip() for part in text[1:-1].split(","))):
        key, sep, value = pair.partition(":")
        if not sep:
            raise InvalidPayload(f"attributes {text!r} is not an object such as {{color:blue}}")
        result[key.strip().strip("\"'")] = value.strip().strip("\"'")
    return result


def _schema(related_object: str) -> MetadataSchema | None:
    return MetadataSchema.objects.filter(related_object=related_object).first()


def _csv_metadata(cells: dict, schema: MetadataSchema | None) -> dict:
    """Metadata columns typed by the schema (numbers, booleans, comma-separated arrays), then checked."""
    properties = schema.properties if schema else {}
    metadata = {}
    for key, raw in cells.items():
        text = (raw or "").strip()
        if not text:
            continue
        definition = properties.get(key) or {}
        kind = definition.get("type", "string")
        if definition.get("array"):
            metadata[key] = [csv_import.typed_cell(part.strip(), kind) for part in text.split(",") if part.strip()]
        else:
            metadata[key] = csv_import.typed_cell(text, kind)
    if schema is not None:
        errors = metadata_errors(metadata, schema.properties, schema.allow_defined_only)
        if errors:
            raise InvalidPayload("; ".join(errors), key="invalid_metadata", message="Invalid metadata")
    return metadata

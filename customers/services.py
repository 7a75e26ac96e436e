"""Writes of the customers app: customers, orders (and the customer aggregates they feed), custom events,
the customer timeline, and the async actions for CSV import and bulk updates.

Every public function here is one transaction. Input arrives API-shaped (the Voucherify field names, with
`null` meaning "not given") from the API, CSV rows or other apps, and is checked here so that every entry
point gets the same rules; the API serializers only check JSON types on top.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import DateTimeField, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog.selectors import CatalogLookup, product_by_ref, sku_by_ref
from core import csv_import, dates
from core.bulk import Tally
from core.context import current_request_id
from core.errors import ApiError, Conflict, DuplicateFound, InvalidPayload, NotFound
from core.fields import MAX_AMOUNT, new_public_id
from core.metadata import validate_metadata
from core.models import AsyncAction
from core.rawsql import WriteChain
from core.services import async_action_start, register_async_handler
from customers import selectors
from customers.models import (
    Consent,
    Customer,
    CustomerActivity,
    CustomerConsent,
    CustomerConsentEvent,
    CustomEvent,
    Order,
    OrderItem,
)

logger = logging.getLogger(__name__)

MAX_QUANTITY = 10**6
MAX_ITEMS = 500  # as the spec says of an order
MAX_DESCRIPTION = 10_000
UPSERT_ATTEMPTS = 3


# ================================================================ input checks

def _text(value, path: str, max_length: int | None) -> str:
    if not isinstance(value, str):
        raise InvalidPayload(f"{path} must be a string")
    if "\x00" in value:
        raise InvalidPayload(f"{path} must not contain NUL characters")
    if max_length is not None and len(value) > max_length:
        raise InvalidPayload(f"{path} must have at most {max_length} characters")
    return value


def _int(value, path: str, *, minimum: int = 0, maximum: int = MAX_AMOUNT) -> int:
    # bool is an int in Python, and a float such as 10.0 is not an amount: both are refused.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPayload(f"{path} must be an integer")
    if not minimum <= value <= maximum:
        raise InvalidPayload(f"{path} must be between {minimum} and {maximum}")
    return value


def _date(value, path: str) -> date | None:
    if value == "":
        return None  # an empty string clears the date
    parsed = dates.parse_day(value)
    if parsed is None:
        raise InvalidPayload(f"{path} must be a date in the format YYYY-MM-DD")
    return parsed


def parse_timestamp(value, path: str) -> datetime:
    """An ISO 8601 date-time (or a date, meaning its midnight UTC) as an aware datetime."""
    return dates.clean_moment(value, path, naive_zone=UTC)


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def clean_metadata(related_object: str, value, path: str = "metadata") -> dict:
    """A metadata object checked against the project's metadata schema for `related_object`."""
    if not isinstance(value, dict):
        raise InvalidPayload(f"{path} must be a JSON object")
    if _has_nul(value):  # PostgreSQL's jsonb cannot store \u0000
        raise InvalidPayload(f"{path} must not contain NUL characters")
    return validate_metadata(related_object, value)


def _max_length(model, field_name: str) -> int | None:
    return model._meta.get_field(field_name).max_length


# ================================================================ activity

def customer_ref(customer: Customer) -> dict:
    """How activity data names a customer: ids only, so erasing a customer means scrubbing little."""
    return {"id": customer.public_id, "source_id": customer.source_id, "object": "customer"}


def customer_activity_create(customer: Customer, type: str, data: dict | None = None) -> CustomerActivity:
    """One entry of the customer's timeline (GET /v1/customers/{id}/activity). Other apps call this too,
    with a type from the spec's CustomerActivity enum (customer.redemption.succeeded, ...)."""
    activity = customer_activity_row(customer, type, data)
    activity.save()
    return activity


def customer_activity_row(customer: Customer, type: str, data: dict | None = None) -> CustomerActivity:
    """A timeline entry not saved yet, for callers that insert it with their own writes (a redemption)."""
    payload = {"customer": customer_ref(customer), **(data or {})}
    return CustomerActivity(customer=customer, type=type, data=payload, group_id=current_request_id() or "")


def customer_activities_create(customer: Customer, entries: list[tuple[str, dict]]) -> None:
    """Several timeline entries in one INSERT (an order created and paid, on the checkout's hot path)."""
    group_id = current_request_id() or ""
    CustomerActivity.objects.bulk_create([
        CustomerActivity(customer=customer, type=type, data={"customer": customer_ref(customer), **data},
                         group_id=group_id) for type, data in entries])


# ================================================================ segments

def refresh_segments(customer_pks, changed: str | None, known: list[dict] | None = None) -> None:
    """Dynamic segments read customers, orders and events: keep their membership current, in the
    transaction of the change. `changed` names what changed (None: anything); one or two queries.
    `known`: the rows of segments_read_sql(pk) when the caller read them with its own writes (one customer)."""
    from segments.services import refresh_customer  # segments builds on customers

    for pk in sorted(pk for pk in set(customer_pks) if pk is not None):
        refresh_customer(pk, changed=changed, known=known)


def segments_read_sql(customer_pk: int) -> tuple[str, list]:
    from segments.services import refresh_read_sql

    return refresh_read_sql(customer_pk)


def _leave_segments(customer: Customer) -> None:
    from segments.services import customer_leave_all

    customer_leave_all(customer)


# ================================================================ customers

CUSTOMER_TEXT_FIELDS = {"name": 255, "description": MAX_DESCRIPTION, "email": 254, "phone": 50}
ADDRESS_FIELDS = ("city", "state", "line_1", "line_2", "country", "postal_code")


def clean_customer_fields(data: dict, path: str = "") -> dict:
    """API-shaped customer data -> {model field: value} for the fields given (null means not given).

    Metadata is only type-checked here: its schema is checked on the final value when it is stored,
    because bulk updates merge it into what the customer already has.
    """
    if not isinstance(data, dict):
        raise InvalidPayload(f"{path.rstrip('.') or 'customer'} must be an object")
    fields: dict = {}
    for key, max_length in CUSTOMER_TEXT_FIELDS.items():
        if data.get(key) is not None:
            fields[key] = _text(data[key], f"{path}{key}", max_length).strip()
    if fields.get("email"):
        try:
            validate_email(fields["email"])
        except ValidationError:
            raise InvalidPayload(f"{path}email: enter a valid email address")
    birthdate = data.get("birthdate") if data.get("birthdate") is not None else data.get("birthday")
    if birthdate is not None:
        fields["birthdate"] = _date(birthdate, f"{path}birthdate")
    address = data.get("address")
    if address is not None:
        if not isinstance(address, dict):
            raise InvalidPayload(f"{path}address must be an object")
        for key in ADDRESS_FIELDS:
            if address.get(key) is not None:
                column = f"address_{key}"
                fields[column] = _text(address[key], f"{path}address.{key}", _max_length(Customer, column)).strip()
    if data.get("metadata") is not None:
        if not isinstance(data["metadata"], dict) or _has_nul(data["metadata"]):
            raise InvalidPayload(f"{path}metadata must be a JSON object without NUL characters")
        fields["metadata"] = data["metadata"]
    return fields


def clean_source_id(value, path: str = "source_id") -> str | None:
    if value is None or value == "":
        return None
    return _text(value, path, 255)


def _customer_insert(source_id: str | None, fields: dict) -> Customer:
    fields = {**fields}
    fields["metadata"] = validate_metadata("customer", fields.get("metadata") or {})
    customer = Customer.objects.create(source_id=source_id, **fields)
    customer_activity_create(customer, "customer.created")
    refresh_segments([customer.pk], None)
    return customer


def _customer_get_or_create(source_id: str | None, fields: dict) -> tuple[Customer, bool]:
    """The live customer with this source_id, or a new one. Two requests racing to create the same
    customer meet at the unique source_id: the loser reads the winner's row."""
    if source_id is None:
        return _customer_insert(None, fields), True
    for _attempt in range(UPSERT_ATTEMPTS):
        existing = Customer.objects.filter(source_id=source_id).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                return _customer_insert(source_id, fields), True
        except IntegrityError:
            continue
    raise Conflict(f"Customer {source_id} is being created concurrently; retry")


def _claim_update(obj, changes: dict) -> bool:
    """Write `changes` only if the row is still as we read it (its updated_at unchanged): optimistic
    concurrency without holding a lock across Python work. The loser re-reads and finds nothing to do,
    so a change and its activity entry are recorded once even when the same request races itself."""
    now = timezone.now()
    claimed = type(obj).objects.filter(pk=obj.pk, updated_at=obj.updated_at).update(**changes, updated_at=now)
    if claimed:
        for name, value in changes.items():
            setattr(obj, name, value)
        obj.updated_at = now
    return bool(claimed)


def _customer_apply(customer: Customer, fields: dict, *, merge_metadata: bool = False) -> list[str]:
    """Store the given fields; records customer.updated with the names of the fields that changed."""
    for _attempt in range(10):
        wanted = {**fields}
        if "metadata" in wanted:
            metadata = {**customer.metadata, **wanted["metadata"]} if merge_metadata else wanted["metadata"]
            wanted["metadata"] = validate_metadata("customer", metadata)
        changed = sorted(name for name, value in wanted.items() if getattr(customer, name) != value)
        if not changed:
            return []
        if _claim_update(customer, {name: wanted[name] for name in changed}):
            customer_activity_create(customer, "customer.updated", {"changed_fields": changed})
            refresh_segments([customer.pk], "customer")
            return changed
        customer.refresh_from_db()
    raise Conflict("The customer is being updated concurrently; retry")


def customer_create_or_update(data: dict, *, merge_metadata: bool = False) -> tuple[Customer, bool]:
    """POST /v1/customers: create a customer, or update the one with this source_id (an upsert).
    Returns (customer, created)."""
    fields = clean_customer_fields(data)
    source_id = clean_source_id(data.get("source_id"))
    with transaction.atomic():
        customer, created = _customer_get_or_create(source_id, fields)
        if not created:
            _customer_apply(customer, fields, merge_metadata=merge_metadata)
    return customer, created


def customer_update(customer: Customer, data: dict) -> Customer:
    """PUT /v1/customers/{id}: merge the given fields; metadata, when given, replaces the old one."""
    fields = clean_customer_fields(data)
    with transaction.atomic():
        _customer_apply(customer, fields)
    return customer


def customer_delete(customer: Customer) -> None:
    """DELETE /v1/customers/{id}: hide the customer. Its source_id moves to system_metadata, so a new
    customer may take it; orders and history stay attached to the hidden row."""
    now = timezone.now()
    system_metadata = dict(customer.system_metadata)
    if customer.source_id:
        system_metadata["deleted_source_id"] = customer.source_id
    with transaction.atomic():
        hidden = Customer.objects.filter(pk=customer.pk, deleted_at__isnull=True).update(
            deleted_at=now, source_id=None, system_metadata=system_metadata, updated_at=now)
        if not hidden:
            raise NotFound.for_object("customer", customer.public_id)
        customer.refresh_from_db()
        customer_activity_create(customer, "customer.deleted")
        _leave_segments(customer)


ERASED_FIELDS = {"name": "", "description": "", "email": "", "phone": "", "birthdate": None, "metadata": {},
                 "source_id": None, **{f"address_{key}": "" for key in ADDRESS_FIELDS}}


def customer_erase(customer: Customer) -> dict:
    """POST /v1/customers/{id}/permanent-deletion: erase the person, keep the bookkeeping.

    Personal fields are blanked and the row is hidden and marked anonymised; orders and activity rows
    stay attached to it (financial history), but activity data and custom-event metadata, which may
    quote personal data, are scrubbed. Answers in the spec's permanent-deletion shape.
    """
    now = timezone.now()
    system_metadata = {k: v for k, v in customer.system_metadata.items() if k != "deleted_source_id"}
    with transaction.atomic():
        erased = Customer.objects.filter(pk=customer.pk, anonymized_at__isnull=True).update(
            **ERASED_FIELDS, system_metadata=system_metadata, anonymized_at=now, updated_at=now,
            deleted_at=Coalesce(F("deleted_at"), Value(now, output_field=DateTimeField())))
        if not erased:
            raise NotFound.for_object("customer", customer.public_id)
        events = CustomEvent.objects.filter(customer=customer).update(metadata={})
        activities = _scrub_activities(customer)
        _erase_consents(customer)
        _leave_segments(customer)
    return {
        "id": new_public_id("del_"), "created_at": now, "related_object_id": customer.public_id,
        "related_object": "customer", "status": "DONE",
        # Counts of what was erased (orders are kept, anonymised, so none are deleted).
        "data_json": {"events": events, "customer_events": activities, "daily_events": 0, "segments": 0,
                      "orders": 0, "order_events": 0, "customer": 1},
        "object": "pernament_deletion",  # sic: the spec's spelling, which clients may compare against
    }


def _scrub_activities(customer: Customer) -> int:
    scrubbed = []
    for activity in CustomerActivity.objects.filter(customer=customer).only("id", "data").iterator():
        data = dict(activity.data)
        data["customer"] = {"id": customer.public_id, "object": "customer"}
        if isinstance(data.get("event"), dict):
            data["event"] = {**data["event"], "metadata": {}}
        activity.data = data
        scrubbed.append(activity)
    CustomerActivity.objects.bulk_update(scrubbed, ["data"], batch_size=500)
    return len(scrubbed)


# ================================================================ consents (marketing permissions)

# Keys of PUT /v1/customers/{id}/consents that are not consents, so no consent may be named so.
CONSENT_RESERVED_KEYS = {"unsubscribed", "channel", "source"}
CONSENT_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def clean_consent_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidPayload("name is required")
    if set(name) - CONSENT_NAME_CHARS or name.startswith("cnst_") or name in CONSENT_RESERVED_KEYS:
        raise InvalidPayload("name: use letters, digits, '_', '-' and '.', not starting with cnst_ and not "
                             f"one of {', '.join(sorted(CONSENT_RESERVED_KEYS))}")
    return name


def consent_create(data) -> Consent:
    """POST /v1/consents: define a consent customers can grant ({name, description, category})."""
    if not isinstance(data, dict):
        raise InvalidPayload("The consent must be an object")
    name = _text(data.get("name"), "name", _max_length(Consent, "name")) if data.get("name") is not None else ""
    fields = {"name": clean_consent_name(name)}
    for key, max_length in (("description", MAX_DESCRIPTION), ("category", _max_length(Consent, "category"))):
        if data.get(key) is not None:
            fields[key] = _text(data[key], key, max_length).strip()
    try:
        with transaction.atomic():
            return Consent.objects.create(**fields)
    except IntegrityError:
        raise DuplicateFound(f"A consent named {name} already exists")


@dataclass
class ConsentChanges:
    """What a customer says about their consents: [(consent, granted)], and where it was said."""

    values: list[tuple[Consent, bool]]
    channel: str = "api"
    source: str = ""


def clean_consent_changes(data) -> ConsentChanges:
    """The body of PUT /v1/customers/{id}/consents: {"<consent id or name>": true | false, ...}, with
    `"unsubscribed": true` withdrawing every consent, and optional `channel` and `source` texts."""
    if not isinstance(data, dict):
        raise InvalidPayload("The body must be an object such as {\"newsletter\": true}")
    channel = data.get("channel")
    channel = _text(channel, "channel", _max_length(CustomerConsentEvent, "channel")) if channel is not None else "api"
    source = data.get("source")
    source = _text(source, "source", _max_length(CustomerConsentEvent, "source")) if source is not None else ""
    wanted: dict[int, tuple[Consent, bool]] = {}
    unsubscribed = data.get("unsubscribed")
    if unsubscribed is not None and not isinstance(unsubscribed, bool):
        raise InvalidPayload("unsubscribed must be true or false")
    if unsubscribed:
        wanted = {consent.pk: (consent, False) for consent in selectors.consent_list()}
    refs = {key: value for key, value in data.items() if key not in CONSENT_RESERVED_KEYS}
    for ref, granted in refs.items():
        if not isinstance(granted, bool):
            raise InvalidPayload(f"{ref} must be true (granted) or false (withdrawn)")
        consent = selectors.consent_find(ref)
        if consent is None:
            raise NotFound.for_object("consent", ref)
        if unsubscribed and granted:
            raise InvalidPayload(f"{ref}: cannot be granted in a request that unsubscribes from everything")
        if wanted.get(consent.pk, (consent, granted))[1] != granted:
            raise InvalidPayload(f"{ref}: the consent {consent.name} is given twice with different values")
        wanted[consent.pk] = (consent, granted)
    if not wanted and not unsubscribed:
        raise InvalidPayload("Name at least one consent, e.g. {\"newsletter\": true}")
    return ConsentChanges([wanted[pk] for pk in sorted(wanted)], channel, source)


def customer_consents_update(customer: Customer, changes: ConsentChanges) -> list[CustomerConsent]:
    """Record each statement as an immutable history row and make it the customer's current state, in one
    transaction. States are written in consent order (one conditional UPDATE each, an INSERT the first
    time), so concurrent requests for the same customer lock the same rows in the same order; the state
    row points at the history row it came from. Withdrawing is always allowed. Returns the states."""
    request_id = current_request_id() or ""
    states, changed = [], False
    with transaction.atomic():
        previous = selectors.customer_consent_states(customer)
        for consent, granted in changes.values:
            event = CustomerConsentEvent.objects.create(
                customer=customer, consent=consent, granted=granted, channel=changes.channel,
                source=changes.source, request_id=request_id)
            states.append(_consent_state_write(customer, consent, event))
            old = previous.get(consent.pk)
            changed |= old is None or old.granted != granted
        if changed:
            refresh_segments([customer.pk], "consents")
    return states


def _consent_state_write(customer: Customer, consent: Consent, event: CustomerConsentEvent) -> CustomerConsent:
    values = {"granted": event.granted, "last_event": event, "updated_at": event.created_at}
    rows = CustomerConsent.objects.filter(customer=customer, consent=consent)
    for _attempt in range(UPSERT_ATTEMPTS):
        if rows.update(**values):
            return CustomerConsent(customer=customer, consent=consent, **values)
        try:
            with transaction.atomic():
                return CustomerConsent.objects.create(customer=customer, consent=consent, **values)
        except IntegrityError:  # a concurrent request inserted it first: update that row instead
            continue
    raise Conflict("The customer's consents are being updated concurrently; retry")


def _erase_consents(customer: Customer) -> None:
    """Erasure keeps the consent history (proof of what was asked and when) without personal text, and
    withdraws whatever was still granted."""
    CustomerConsentEvent.objects.filter(customer=customer).exclude(source="").update(source="")
    granted = [state.consent for state in
               CustomerConsent.objects.filter(customer=customer, granted=True).select_related("consent")]
    if granted:
        customer_consents_update(customer, ConsentChanges([(consent, False) for consent in granted], "erasure"))


# ---------------------------------------------------------------- customers referenced by orders and events

@dataclass
class CustomerReference:
    """A customer as given inside an order or event: an id, a source_id, and fields to upsert."""

    id: str | None = None
    source_id: str | None = None
    fields: dict = field(default_factory=dict)
    instance: Customer | None = None  # already loaded by the caller: no lookup needed


def clean_customer_reference(data, path: str) -> CustomerReference | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InvalidPayload(f"{path} must be an object")
    ref = CustomerReference(
        id=_text(data["id"], f"{path}.id", 64) if data.get("id") not in (None, "") else None,
        source_id=clean_source_id(data.get("source_id"), f"{path}.source_id"),
        fields=clean_customer_fields(data, f"{path}."),
    )
    return ref if (ref.id or ref.source_id or ref.fields) else None


def _customer_resolve(ref: CustomerReference, fallback: Customer | None = None) -> tuple[Customer, dict]:
    """Find or create the referenced customer. Returns it with the field changes still to apply:
    the caller applies them after its own row updates, so rows are always locked order-then-customer."""
    if ref.instance is not None:
        return ref.instance, ref.fields
    if ref.id:
        return selectors.customer_get(ref.id), ref.fields
    if ref.source_id:
        customer, created = _customer_get_or_create(ref.source_id, ref.fields)
        return customer, {} if created else ref.fields
    if fallback is not None:
        return fallback, ref.fields
    return _customer_insert(None, ref.fields), {}


# ================================================================ orders

ORDER_ACTIVITY_BY_STATUS = {
    Order.Status.PAID: "customer.order.paid",
    Order.Status.CANCELED: "customer.order.canceled",
    Order.Status.FULFILLED: "customer.order.fulfilled",
}
ORDER_FIELDS = ("status", "amount", "initial_amount", "discount_amount", "items_discount_amount", "metadata",
                "ordered_at", "source_id")
ITEM_FIELDS = ("position", "related_object", "source_id", "product_id", "sku_id", "quantity", "price", "amount",
               "discount_amount", "discount_quantity", "metadata", "product_snapshot", "sku_snapshot")
PRODUCT_SNAPSHOT_KEYS = ("id", "source_id", "name", "price", "metadata", "override")
SKU_SNAPSHOT_KEYS = ("id", "source_id", "sku", "price", "metadata", "override")


@dataclass
class OrderInput:
    """A checked order request: model fields given, items (None: not given), customer and referrer."""

    fields: dict
    items: list[dict] | None
    customer: CustomerReference | None
    referrer: CustomerReference | None
    referrer_id: str | None


def _snapshot(data, keys: tuple, path: str, related_object: str) -> dict:
    """What the request said about the item's product or SKU, kept with the item as sent."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidPayload(f"{path} must be an object")
    snapshot = {key: data[key] for key in keys if data.get(key) is not None}
    for key in ("id", "source_id", "name", "sku"):
        if key in snapshot:
            _text(snapshot[key], f"{path}.{key}", 255)
    if "price" in snapshot:
        _int(snapshot["price"], f"{path}.price")
    if "metadata" in snapshot:
        clean_metadata(related_object, snapshot["metadata"], f"{path}.metadata")
    if "override" in snapshot and not isinstance(snapshot["override"], bool):
        raise InvalidPayload(f"{path}.override must be a boolean")
    return snapshot


def _optional_text(data: dict, key: str, path: str, max_length: int = 255) -> str | None:
    value = data.get(key)
    return None if value in (None, "") else _text(value, f"{path}.{key}", max_length)


def _catalog_for(items: list) -> CatalogLookup:
    """Every product/SKU any item may name, fetched in two queries for the whole order."""
    product_refs, sku_refs = set(), set()
    for item in items:
        if not isinstance(item, dict):
            continue
        product = item.get("product") if isinstance(item.get("product"), dict) else {}
        sku = item.get("sku") if isinstance(item.get("sku"), dict) else {}
        refs = [item.get("source_id")]
        product_refs.update(r for r in [*refs, item.get("product_id"), product.get("id"), product.get("source_id")]
                            if isinstance(r, str))
        sku_refs.update(r for r in [*refs, item.get("sku_id"), sku.get("id"), sku.get("source_id")]
                        if isinstance(r, str))
    return CatalogLookup(product_refs, sku_refs)


def _resolve_catalog(data: dict, related_object: str, product_snapshot: dict, sku_snapshot: dict,
                     catalog: CatalogLookup | None = None):
    """The catalog product and SKU an item names, by id or source_id; None when unknown (no auto-create)."""
    source_id = data.get("source_id")
    sku_ref = data.get("sku_id") or sku_snapshot.get("id") or sku_snapshot.get("source_id") or (
        source_id if related_object == "sku" else None)
    product_ref = data.get("product_id") or product_snapshot.get("id") or product_snapshot.get("source_id") or (
        source_id if related_object == "product" else None)
    sku = catalog.sku(sku_ref) if catalog is not None else None
    product = catalog.product(product_ref) if catalog is not None else None
    if sku is None and sku_ref and (catalog is None or sku_ref not in catalog.sku_refs):
        sku = sku_by_ref(sku_ref)
    if product is None and product_ref and (catalog is None or product_ref not in catalog.product_refs):
        product = product_by_ref(product_ref)
    return (product or (sku.product if sku else None)), sku


def _catalog_price(sku_snapshot: dict, product_snapshot: dict, sku, product) -> int | None:
    """The unit price when the item gives none: as sent with the SKU/product, else the catalog's."""
    candidates = (sku_snapshot.get("price"), product_snapshot.get("price"),
                  sku.price if sku else None, product.price if product else None)
    return next((price for price in candidates if price is not None), None)


def _item_amounts(data: dict, path: str, catalog_price: int | None) -> dict:
    """quantity, price and amounts of one item. amount defaults to price x quantity; both given must agree."""
    quantity = 1 if data.get("quantity") is None else _int(data["quantity"], f"{path}.quantity", minimum=1,
                                                             maximum=MAX_QUANTITY)
    given_price = None if data.get("price") is None else _int(data["price"], f"{path}.price")
    given_amount = None if data.get("amount") is None else _int(data["amount"], f"{path}.amount")
    if given_price is not None and given_amount is not None and given_amount != given_price * quantity:
        raise InvalidPayload(f"{path}.amount ({given_amount}) must equal price x quantity "
                             f"({given_price} x {quantity})")
    price = given_price if given_price is not None else catalog_price
    amount = given_amount if given_amount is not None else (price * quantity if price is not None else 0)
    if amount > MAX_AMOUNT:
        raise InvalidPayload(f"{path}.amount must be at most {MAX_AMOUNT}")
    discount = 0 if data.get("discount_amount") is None else _int(data["discount_amount"], f"{path}.discount_amount")
    if discount > amount:
        raise InvalidPayload(f"{path}.discount_amount must not exceed the item amount")
    discount_quantity = 0 if data.get("discount_quantity") is None else _int(
        data["discount_quantity"], f"{path}.discount_quantity", maximum=MAX_QUANTITY)
    return {"quantity": quantity, "price": price, "amount": amount, "discount_amount": discount,
            "discount_quantity": discount_quantity}


def clean_order_item(data, index: int, catalog: CatalogLookup | None = None) -> dict:
    """One item -> OrderItem fields, with its product/SKU resolved in the catalog when it is known there."""
    path = f"items[{index}]"
    if not isinstance(data, dict):
        raise InvalidPayload(f"{path} must be an object")
    related_object = data.get("related_object")
    if related_object is None:
        related_object = "sku" if (data.get("sku_id") or data.get("sku")) else "product"
    if related_object not in OrderItem.RelatedObject.values:
        raise InvalidPayload(f"{path}.related_object must be product or sku")
    for key in ("source_id", "product_id", "sku_id"):
        _optional_text(data, key, path)
    product_snapshot = _snapshot(data.get("product"), PRODUCT_SNAPSHOT_KEYS, f"{path}.product", "product")
    sku_snapshot = _snapshot(data.get("sku"), SKU_SNAPSHOT_KEYS, f"{path}.sku", "sku")
    product, sku = _resolve_catalog(data, related_object, product_snapshot, sku_snapshot, catalog)
    amounts = _item_amounts(data, path, _catalog_price(sku_snapshot, product_snapshot, sku, product))
    metadata = {} if data.get("metadata") is None else clean_metadata("order_item", data["metadata"],
                                                                      f"{path}.metadata")
    named = sku_snapshot if related_object == "sku" else product_snapshot
    return {
        "position": index, "related_object": related_object, "source_id": data.get("source_id") or
        named.get("source_id") or "", "product_id": product.pk if product else None,
        "sku_id": sku.pk if sku else None, "metadata": metadata, "product_snapshot": product_snapshot,
        "sku_snapshot": sku_snapshot, **amounts,
    }


def clean_order(data: dict, catalog: CatalogLookup | None = None) -> OrderInput:
    """Check an order request (POST or PUT) before anything is written."""
    if not isinstance(data, dict):
        raise InvalidPayload("The order must be an object")
    fields: dict = {}
    if data.get("source_id") not in (None, ""):
        fields["source_id"] = _text(data["source_id"], "source_id", 255)
    if data.get("status") is not None:
        if data["status"] not in Order.Status.values:
            raise InvalidPayload(f"status must be one of {', '.join(Order.Status.values)}")
        fields["status"] = data["status"]
    for key in ("amount", "initial_amount", "discount_amount"):
        if data.get(key) is not None:
            fields[key] = _int(data[key], key)
    if data.get("metadata") is not None:
        fields["metadata"] = clean_metadata("order", data["metadata"])
    if data.get("created_at") is not None:
        fields["ordered_at"] = parse_timestamp(data["created_at"], "created_at")
    items = None
    if data.get("items") is not None:
        if not isinstance(data["items"], list) or len(data["items"]) > MAX_ITEMS:
            raise InvalidPayload(f"items must be an array of at most {MAX_ITEMS} items")
        catalog = catalog or _catalog_for(data["items"])
        items = [clean_order_item(item, index, catalog) for index, item in enumerate(data["items"])]
        fields.setdefault("amount", sum(item["amount"] for item in items))
        fields["items_discount_amount"] = sum(item["discount_amount"] for item in items)
    referrer_id = _optional_text(data, "referrer_id", "order", 255)
    return OrderInput(fields=fields, items=items,
                      customer=clean_customer_reference(data.get("customer"), "customer"),
                      referrer=clean_customer_reference(data.get("referrer"), "referrer"),
                      referrer_id=referrer_id)


AMOUNT_FIELDS = ("amount", "discount_amount", "items_discount_amount")


def _check_discounts(amount: int, discount_amount: int, items_discount_amount: int) -> None:
    if amount > MAX_AMOUNT:
        raise InvalidPayload(f"amount must be at most {MAX_AMOUNT}")
    if discount_amount + items_discount_amount > amount:
        raise InvalidPayload("The discounts (discount_amount + items' discount_amount) exceed the order amount")


def order_create_or_update(data: dict, *, reload: bool = True, catalog: CatalogLookup | None = None,
                           customer: Customer | None = None, savepoint: bool = True) -> tuple[Order, bool]:
    """POST /v1/orders: create an order, or update the one with this source_id, so that a resent order
    is never duplicated (nor counted twice). Returns (order, created). With reload=False the written row is
    returned as it is (without its items and customer re-read), for callers that need only the order row.
    `catalog` reuses products and SKUs the caller has already looked up, `customer` the order's customer.
    savepoint=False is for callers inside their own transaction that abort it on any error (a redemption)."""
    order_input = clean_order(data, catalog)
    if customer is not None:
        order_input.customer = CustomerReference(id=customer.public_id, instance=customer)
    source_id = order_input.fields.get("source_id")
    with transaction.atomic(savepoint=savepoint):
        existing = Order.objects.filter(source_id=source_id).first() if source_id else None
        return _order_write(order_input, existing, reload=reload)


def order_update(order: Order, data: dict, *, reload: bool = True, catalog: CatalogLookup | None = None,
                 customer: Customer | None = None, savepoint: bool = True) -> Order:
    """PUT /v1/orders/{id}: merge the given fields; items, when given, replace the old ones."""
    order_input = clean_order(data, catalog)
    if customer is not None:
        order_input.customer = CustomerReference(id=customer.public_id, instance=customer)
    with transaction.atomic(savepoint=savepoint):
        order, _created = _order_write(order_input, order, reload=reload)
    return order


def _order_write(order_input: OrderInput, existing: Order | None, *, reload: bool = True) -> tuple[Order, bool]:
    """Row order matters: new customers are inserted first (invisible to others until commit), then the
    order row is written, and only then are existing customers updated, so that every transaction takes
    its row locks order-then-customer and two of them cannot deadlock."""
    previous_customer = existing.customer_id if existing is not None else None
    customer, customer_changes = _resolve_party(order_input.customer, existing.customer if existing else None)
    referrer, referrer_changes = _resolve_party(order_input.referrer, existing.referrer if existing else None)
    if order_input.referrer_id and referrer is None:
        referrer = selectors.customer_get(order_input.referrer_id)
    created, changed, old_status = False, [], None
    if existing is None:
        existing, created = _order_insert(order_input, customer, referrer)
    if not created:
        changed, old_status = _order_apply(existing, order_input, customer, referrer)
    for party, changes in ((customer, customer_changes), (referrer, referrer_changes)):
        if party is not None and changes:
            _customer_apply(party, changes)
    if not created:
        counted = order_sync_contribution(existing.pk)
        if "ordered_at" in changed:  # a counted order's new date may change the customer's last/first order
            counted_customer = Order.objects.filter(pk=existing.pk).values_list("counted_customer_id", flat=True)[0]
            if counted_customer is not None:
                Customer.objects.filter(pk=counted_customer).update(**_recomputed_order_dates())
        if counted or "ordered_at" in changed:
            refresh_segments({previous_customer, existing.customer_id}, "orders")
        _order_activities(existing, changed, old_status, customer)
    return (selectors.order_get(existing.public_id) if reload else existing), created


def _resolve_party(ref: CustomerReference | None, current: Customer | None) -> tuple[Customer | None, dict]:
    if ref is None:
        return None, {}
    return _customer_resolve(ref, fallback=current)


def _order_insert(order_input: OrderInput, customer, referrer) -> tuple[Order, bool]:
    """Insert the order with its items, what it adds to its customer's aggregates, its timeline entries
    and the read of the segments that may care, in one statement on PostgreSQL (core.rawsql.WriteChain);
    a checkout writes an order with every redemption. If another request inserted the same source_id
    first, nothing is written and that order is returned instead."""
    fields = {"amount": 0, **order_input.fields}
    fields.setdefault("ordered_at", timezone.now())
    order = Order(customer=customer, referrer=referrer, **fields)
    _check_discounts(**{name: getattr(order, name) for name in AMOUNT_FIELDS})
    # A new row is seen by nobody else until commit: it can record its contribution as it is inserted.
    order.counted_customer_id, order.counted_amount = _target_contribution(_fresh_row(order))
    chain = WriteChain()
    inserted = chain.insert([order], ignore_conflicts=bool(fields.get("source_id")))
    if order_input.items:
        chain.insert([OrderItem(order_id=inserted, **item) for item in order_input.items])
    segments = None
    if order.counted_customer_id is not None:
        chain.execute(*_contribution_added_sql(order.counted_customer_id, order.counted_amount,
                                               order.ordered_at or order.created_at), when=inserted)
        segments = chain.select(*segments_read_sql(order.counted_customer_id))
    activities = _order_activity_rows(order, customer)
    if activities:
        chain.insert(activities, when=inserted)
    result = chain.run()
    if not result.inserted(inserted):
        winner = Order.objects.filter(source_id=fields["source_id"]).first()
        if winner is None:
            raise Conflict("The order is being written concurrently; retry")
        return winner, False
    if segments is not None:
        refresh_segments([order.counted_customer_id], "orders", known=result.rows(segments))
    return order, True


def _contribution_added_sql(customer_pk: int, amount: int, when: datetime) -> tuple[str, list]:
    """One counted order added to a customer, in one UPDATE: last_* move only if it is newer,
    first_order_date only if it is older (SET sees the row as it was before the UPDATE)."""
    ops = connection.ops
    at = ops.adapt_datetimefield_value(when)
    newer = "(last_order_date IS NULL OR last_order_date <= %s)"
    sql = (f"UPDATE {ops.quote_name(Customer._meta.db_table)} SET orders_total_count = orders_total_count + 1, "
           "orders_total_amount = orders_total_amount + %s, "
           f"last_order_date = CASE WHEN {newer} THEN %s ELSE last_order_date END, "
           f"last_order_amount = CASE WHEN {newer} THEN %s ELSE last_order_amount END, "
           "first_order_date = CASE WHEN first_order_date IS NULL OR first_order_date > %s THEN %s "
           "ELSE first_order_date END WHERE id = %s")
    return sql, [amount, at, at, at, amount, at, at, customer_pk]


def _order_apply(order: Order, order_input: OrderInput, customer, referrer) -> tuple[list[str], str]:
    """Write the fields that differ from the stored order (items are replaced when they differ).
    Returns the names of what changed and the status the order had before."""
    wanted = dict(order_input.fields)
    if customer is not None:
        wanted["customer_id"] = customer.pk
    if referrer is not None:
        wanted["referrer_id"] = referrer.pk
    for _attempt in range(10):
        old_status = order.status
        changed = sorted(name for name, value in wanted.items() if getattr(order, name) != value)
        items_changed = order_input.items is not None and order_input.items != _item_rows(order)
        if not changed and not items_changed:
            return [], old_status
        _check_discounts(**{name: wanted.get(name, getattr(order, name)) for name in AMOUNT_FIELDS})
        try:
            with transaction.atomic():
                claimed = _claim_update(order, {name: wanted[name] for name in changed})
                if claimed and items_changed:
                    _replace_items(order, order_input.items)
        except IntegrityError:
            raise DuplicateFound(f"Another order already has the source_id {wanted.get('source_id')}")
        if claimed:
            return changed + (["items"] if items_changed else []), old_status
        order.refresh_from_db()
    raise Conflict("The order is being updated concurrently; retry")


def _item_rows(order: Order) -> list[dict]:
    return [{name: getattr(item, name) for name in ITEM_FIELDS}
            for item in OrderItem.objects.filter(order=order).order_by("position", "id")]


def _replace_items(order: Order, items: list[dict]) -> None:
    OrderItem.objects.filter(order=order).delete()
    OrderItem.objects.bulk_create([OrderItem(order=order, **item) for item in items])


def _order_activity_data(order: Order) -> dict:
    return {"order": {"id": order.public_id, "source_id": order.source_id, "status": order.status,
                      "amount": order.amount, "total_amount": order.total_amount, "object": "order"}}


def _order_activities(order: Order, changed: list[str], old_status: str | None, customer: Customer | None) -> None:
    """The timeline entries of a changed order (a new one's go with its insert: _order_activity_rows)."""
    if order.customer_id is None or not changed:
        return
    if customer is None or customer.pk != order.customer_id:
        customer = Customer.objects.get(pk=order.customer_id)
    data = _order_activity_data(order)
    entries = [("customer.order.updated", {**data, "changed_fields": sorted(changed)})]
    if old_status != order.status and order.status in ORDER_ACTIVITY_BY_STATUS:
        entries.append((ORDER_ACTIVITY_BY_STATUS[order.status], data))
    customer_activities_create(customer, entries)


def _order_activity_rows(order: Order, customer: Customer | None) -> list[CustomerActivity]:
    """The timeline entries of a new order (created, and paid/canceled/fulfilled as it arrives)."""
    if customer is None:
        return []
    data = _order_activity_data(order)
    entries = [("customer.order.created", data)]
    if order.status in ORDER_ACTIVITY_BY_STATUS:
        entries.append((ORDER_ACTIVITY_BY_STATUS[order.status], data))
    return [customer_activity_row(customer, type, data) for type, data in entries]


# ---------------------------------------------------------------- customer order aggregates

def _target_contribution(row: dict) -> tuple[int | None, int | None]:
    """(customer pk, amount) this order should add to the aggregates: PAID and FULFILLED orders count,
    with what the customer paid (amount less discounts)."""
    if row["status"] not in Order.COUNTED_STATUSES or row["customer_id"] is None:
        return None, None
    paid = row["amount"] - row["discount_amount"] - row["items_discount_amount"]
    return row["customer_id"], max(paid, 0)


def _fresh_row(order: Order) -> dict:
    return {"status": order.status, "amount": order.amount, "discount_amount": order.discount_amount,
            "items_discount_amount": order.items_discount_amount, "customer_id": order.customer_id,
            "counted_amount": order.counted_amount, "counted_customer_id": order.counted_customer_id,
            "ordered_at": order.ordered_at, "created_at": order.created_at}


def order_sync_contribution(order_pk: int) -> bool:
    """Make the customer aggregates reflect this order exactly once; True if this call changed them.

    The order records what it added (counted_customer, counted_amount). The move from what it records to
    what it should add is claimed by one conditional UPDATE on the order that matches the recorded values;
    only the caller whose UPDATE changed the row applies the difference to the customers, with F()
    expressions. A resent order, a retried request or sixteen concurrent ones therefore count once.
    Other apps call this after changing an order's amounts or discounts (e.g. a redemption).
    """
    for _attempt in range(10):
        row = Order.objects.filter(pk=order_pk).values(
            "status", "amount", "discount_amount", "items_discount_amount", "customer_id", "counted_amount",
            "counted_customer_id", "ordered_at", "created_at").first()
        if row is None:
            return False
        new_customer, new_amount = _target_contribution(row)
        old_customer, old_amount = row["counted_customer_id"], row["counted_amount"]
        if (new_customer, new_amount) == (old_customer, old_amount):
            return False
        claimed = Order.objects.filter(pk=order_pk, counted_customer_id=old_customer,
                                       counted_amount=old_amount).update(counted_customer_id=new_customer,
                                                                         counted_amount=new_amount)
        if claimed:
            when = row["ordered_at"] or row["created_at"]
            _apply_contribution(old_customer, old_amount, new_customer, new_amount, when)
            return True
    raise Conflict("The order is being updated concurrently; retry")


def _apply_contribution(old_customer, old_amount, new_customer, new_amount, when) -> None:
    """Move an order's contribution between customers (or change it in place), customers in pk order."""
    if old_customer is not None and old_customer == new_customer:
        Customer.objects.filter(pk=new_customer).update(
            orders_total_amount=F("orders_total_amount") + (new_amount - old_amount), **_recomputed_order_dates())
        return
    for pk in sorted(pk for pk in (old_customer, new_customer) if pk is not None):
        if pk == old_customer:
            Customer.objects.filter(pk=pk).update(
                orders_total_count=F("orders_total_count") - 1,
                orders_total_amount=F("orders_total_amount") - old_amount, **_recomputed_order_dates())
        else:
            with connection.cursor() as cursor:
                cursor.execute(*_contribution_added_sql(pk, new_amount, when))


def _recomputed_order_dates() -> dict:
    """last/first order from the customer's remaining counted orders (after a cancel, move or change)."""
    counted = Order.objects.filter(counted_customer=OuterRef("pk"), counted_amount__isnull=False).annotate(
        when=Coalesce("ordered_at", "created_at"))
    newest = counted.order_by("-when", "-id")
    return {
        "last_order_date": Subquery(newest.values("when")[:1]),
        "last_order_amount": Subquery(newest.values("counted_amount")[:1]),
        "first_order_date": Subquery(counted.order_by("when", "id").values("when")[:1]),
    }


# ================================================================ custom events

def custom_event_track(data: dict) -> CustomEvent:
    """POST /v1/events: record a named event for a customer (upserted by source_id as Voucherify does),
    and put it on the customer's timeline. Loyalty and referral apps read events through the selectors."""
    if not isinstance(data, dict):
        raise InvalidPayload("The event must be an object")
    name = data.get("event")
    if name in (None, ""):
        raise InvalidPayload("event is required")
    name = _text(name, "event", _max_length(CustomEvent, "name"))
    ref = clean_customer_reference(data.get("customer"), "customer")
    if ref is None or not (ref.id or ref.source_id):
        raise InvalidPayload("customer.id or customer.source_id is required")
    metadata = {} if data.get("metadata") is None else clean_metadata("event", data["metadata"])
    with transaction.atomic():
        customer, changes = _customer_resolve(ref)
        if changes:
            _customer_apply(customer, changes)
        event = CustomEvent.objects.create(name=name, customer=customer, metadata=metadata)
        refresh_segments([customer.pk], "events")
        customer_activity_create(customer, "customer.custom_event", {
            "event": {"id": event.public_id, "type": name, "metadata": metadata, "object": "event"}})
    return event


# ================================================================ async actions: CSV import and bulk updates

PROGRESS_EVERY = 100
CSV_COLUMNS = {"source_id", "name", "email", "phone", "birthdate", "birthday", "description", "metadata", "id"}
CSV_ADDRESS_COLUMNS = {**{f"address_{key}": key for key in ADDRESS_FIELDS}, **{key: key for key in ADDRESS_FIELDS}}


def csv_header_errors(header: list[str]) -> list[str]:
    """Everything wrong with the header row, so a bad file fails whole and at once, not row by row."""
    names = [name.strip().lower() for name in header]
    errors = []
    for number, name in enumerate(names, start=1):
        if not name:
            errors.append(f"column {number} has no name")
        elif " " in name:
            errors.append(f"column {number} ({header[number - 1]!r}): no spaces allowed in column names")
        elif name == "metadata_":
            errors.append(f"column {number}: metadata_ needs a key after the prefix")
    duplicates = sorted({name for name in names if name and names.count(name) > 1})
    errors.extend(f"column {name!r} appears more than once" for name in duplicates)
    if "source_id" not in names:
        errors.append("a source_id column is required (customers are matched by source_id)")
    return errors


def _csv_reader(content: bytes) -> tuple[list[str], Iterator[list[str]]]:
    header, reader = csv_import.open_csv(content)
    csv_import.header_errors("Invalid CSV header", csv_header_errors(header))
    return [name.strip().lower() for name in header], reader


def customer_import_csv_start(content: bytes, *, api_key=None, user=None) -> AsyncAction:
    """POST /v1/customers/importCSV: check the header now (a clear 400), import rows in the background."""
    _csv_reader(content)
    return async_action_start(action_type="CUSTOMERS_IMPORT_CSV", attachment=content, api_key=api_key, user=user,
                              payload={"size": len(content)})


def csv_row_to_customer(columns: list[str], cells: list[str], metadata_types: dict) -> dict:
    """One CSV row -> API-shaped customer data. Columns that are not customer fields become metadata
    keys (as Voucherify does); `metadata_<key>` names a metadata key explicitly; a `metadata` column
    holds a JSON object. Empty cells are not given."""
    if len(cells) > len(columns):
        raise InvalidPayload(f"the row has {len(cells)} cells but the header names {len(columns)} columns")
    data: dict = {}
    address: dict = {}
    metadata: dict = {}
    for name, raw in zip(columns, cells, strict=False):
        text = raw.strip()
        if not text or name == "id":
            continue
        if name == "metadata":
            metadata = {**csv_import.json_object_cell(text), **metadata}
        elif name in CSV_COLUMNS:
            data[name] = text
        elif name in CSV_ADDRESS_COLUMNS:
            address[CSV_ADDRESS_COLUMNS[name]] = text
        else:
            key = name.removeprefix("metadata_")
            metadata[key] = csv_import.typed_cell(text, metadata_types.get(key, "string"))
    if address:
        data["address"] = address
    if metadata:
        data["metadata"] = metadata
    return data


def _upsert_row(tally: Tally, row: int, data: dict) -> None:
    """One row in its own savepoint: a bad row is reported and rolled back, the others go on."""
    source_id = data.get("source_id") if isinstance(data, dict) else None
    try:
        if not source_id:
            raise InvalidPayload("source_id is required")
        customer_create_or_update(data, merge_metadata=True)
    except ApiError as exc:
        tally.fail(row, source_id, exc.details or exc.message)
    except DatabaseError:
        logger.exception("Bulk customer row %s failed", row)
        tally.fail(row, source_id, "The row could not be stored")
    else:
        tally.done_count += 1


@register_async_handler("CUSTOMERS_IMPORT_CSV")
def customers_import_csv(action: AsyncAction, progress) -> dict:
    """Upsert every row by source_id. Rows are numbered as in the file (the header is row 1). Upserting
    makes a rerun after a crash harmless."""
    columns, reader = _csv_reader(action.attachment)
    rows = csv_import.data_rows(reader)
    metadata_types = csv_import.metadata_types("customer")
    tally = Tally()
    progress(0, len(rows))
    for done, (index, cells) in enumerate(rows, start=1):
        try:
            data = csv_row_to_customer(columns, cells, metadata_types)
        except InvalidPayload as exc:
            tally.fail(index, None, exc.details)
        else:
            _upsert_row(tally, index, data)
        if done % PROGRESS_EVERY == 0:
            progress(done, len(rows))
    progress(len(rows), len(rows))
    return tally.result()


def customers_bulk_update_start(customers: list, *, api_key=None, user=None) -> AsyncAction:
    """POST /v1/customers/bulk/async: upsert many customers by source_id in the background."""
    if not isinstance(customers, list) or not customers:
        raise InvalidPayload("The body must be a non-empty array of customers")
    missing = [index for index, item in enumerate(customers)
               if not isinstance(item, dict) or not isinstance(item.get("source_id"), str) or not item["source_id"]]
    if missing:
        raise InvalidPayload(f"Every customer needs a source_id (missing at index {missing[:10]})")
    return async_action_start(action_type="CUSTOMERS_BULK_UPDATE", payload={"customers": customers},
                              api_key=api_key, user=user)


@register_async_handler("CUSTOMERS_BULK_UPDATE")
def customers_bulk_update(action: AsyncAction, progress) -> dict:
    """Rows are numbered from 1 in the order sent. Metadata is merged into what each customer has."""
    customers = action.payload.get("customers", [])
    tally = Tally()
    for done, data in enumerate(customers, start=1):
        _upsert_row(tally, done, data)
        if done % PROGRESS_EVERY == 0:
            progress(done, len(customers))
    progress(len(customers), len(customers))
    return tally.result()


def customers_metadata_update_start(source_ids: list, metadata: dict, *, api_key=None, user=None) -> AsyncAction:
    """POST /v1/customers/metadata/async: merge the same metadata into many customers by source_id."""
    if not isinstance(source_ids, list) or not source_ids or not all(isinstance(s, str) and s for s in source_ids):
        raise InvalidPayload("source_ids must be a non-empty array of strings")
    if not isinstance(metadata, dict) or not metadata or _has_nul(metadata):
        raise InvalidPayload("metadata must be a non-empty JSON object")
    return async_action_start(action_type="CUSTOMERS_METADATA_UPDATE",
                              payload={"source_ids": source_ids, "metadata": metadata}, api_key=api_key, user=user)


@register_async_handler("CUSTOMERS_METADATA_UPDATE")
def customers_metadata_update(action: AsyncAction, progress) -> dict:
    source_ids, metadata = action.payload.get("source_ids", []), action.payload.get("metadata", {})
    tally = Tally()
    for done, source_id in enumerate(source_ids, start=1):
        customer = selectors.live_customers().filter(source_id=source_id).first()
        if customer is None:
            tally.fail(done, source_id, f"Cannot find customer with source_id {source_id}")
        else:
            try:
                with transaction.atomic():
                    _customer_apply(customer, {"metadata": metadata}, merge_metadata=True)
            except ApiError as exc:
                tally.fail(done, source_id, exc.details or exc.message)
            else:
                tally.done_count += 1
        if done % PROGRESS_EVERY == 0:
            progress(done, len(source_ids))
    progress(len(source_ids), len(source_ids))
    return tally.result()

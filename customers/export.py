"""A customer's data export (issue 21, privacy): everything held about one customer as one JSON document.

customers/ is a low layer, so the rows of higher apps are found by introspection, not by import: every
concrete model with a foreign key (or one-to-one) to Customer contributes the rows pointing at the customer,
and every model with a foreign key to Order the rows of the customer's orders (order items, refunds). A new
model with a customer foreign key is exported without a change here (tests/customers/test_export.py holds
that). Rows not reached that way (the ledgers of gift cards the customer holds) are contributed by their app
with `register_export_part()`.

Values are the rows' stored values: money and points stay integers in minor units, date-times are ISO 8601
(UTC, "Z"), foreign keys are the referenced row's primary key.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterable

from django.apps import apps
from django.db.models import Model, Q
from django.utils import timezone

from core import audit
from customers.models import Customer, Order

EXPORT_FORMAT_VERSION = 1
AUDIT_TYPE = "customers.customer"

# section name -> callable(customer) -> rows (model instances)
_PARTS: dict[str, Callable[[Customer], Iterable[Model]]] = {}


def register_export_part(section: str, rows: Callable[[Customer], Iterable[Model]]) -> None:
    """Let a higher app add rows that point at the customer only indirectly (called from AppConfig.ready)."""
    _PARTS[section] = rows


def _project_models() -> list[type[Model]]:
    return [model for model in apps.get_models()
            if not model._meta.proxy and not model._meta.app_config.name.startswith("django.")]


def _links(model: type[Model], target: type[Model]) -> list[str]:
    """Names of the model's foreign keys and one-to-ones to `target`."""
    return [field.name for field in model._meta.concrete_fields
            if field.is_relation and (field.many_to_one or field.one_to_one) and field.related_model is target]


def related_models() -> dict[type[Model], tuple[list[str], list[str]]]:
    """{model: (fields to Customer, fields to Order)} for every model pointing at either (Customer excluded)."""
    found = {}
    for model in _project_models():
        if model is Customer:
            continue
        to_customer, to_order = _links(model, Customer), _links(model, Order)
        if to_customer or to_order:
            found[model] = (to_customer, to_order)
    return found


def section_name(model: type[Model]) -> str:
    return model._meta.label_lower


def row_data(row: Model, customer: Customer | None = None) -> dict:
    """The row's stored values; with `customer`, references to any other customer are left out (an order
    this customer referred names the buyer: that is the buyer's data, not theirs)."""
    data = {field.attname: audit.jsonable(getattr(row, field.attname)) for field in row._meta.concrete_fields}
    if customer is not None:
        for field in row._meta.concrete_fields:
            if field.is_relation and field.related_model is Customer and data[field.attname] not in (None, customer.pk):
                data[field.attname] = None
    return data


def _rows(model: type[Model], to_customer: list[str], to_order: list[str], customer: Customer):
    condition = Q(pk__in=[])
    for name in to_customer:
        condition |= Q(**{name: customer})
    if to_order:
        orders = Order.objects.filter(customer=customer).values("pk")
        for name in to_order:
            condition |= Q(**{f"{name}__in": orders})
    return model._default_manager.filter(condition).order_by("pk")


def customer_export(customer: Customer) -> dict:
    """The whole document: the profile and one section (a list of rows) per model holding data about them."""
    sections = {section_name(model): [row_data(row, customer) for row in _rows(model, *links, customer)]
                for model, links in related_models().items()}
    for name, rows in _PARTS.items():
        sections[name] = [row_data(row) for row in rows(customer)]
    return {
        "object": "customer_export", "version": EXPORT_FORMAT_VERSION,
        "generated_at": audit.jsonable(timezone.now()),
        "customer": row_data(customer),
        "sections": dict(sorted(sections.items())),
    }


def _csv(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(name for row in rows for name in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        # nested values (metadata, JSON fields) stay JSON inside their cell
        writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()})
    return out.getvalue()


def export_archive(document: dict) -> bytes:
    """The readable archive: export.json, customer.csv and one CSV per section that has rows."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.json", json.dumps(document, indent=2, ensure_ascii=False))
        archive.writestr("customer.csv", _csv([document["customer"]]))
        for name, rows in document["sections"].items():
            if rows:
                archive.writestr(f"{name}.csv", _csv(rows))
    return buffer.getvalue()


def customer_export_delivered(customer: Customer, *, format: str = "json") -> dict:
    """Build the export and record in the audit log that it was requested and delivered (who, when, which
    request, how many rows of each section)."""
    audit.record(audit.Action.EXPORT, customer, extra={"stage": "requested", "format": format})
    document = customer_export(customer)
    counts = {name: len(rows) for name, rows in document["sections"].items() if rows}
    audit.record(audit.Action.EXPORT, customer, extra={"stage": "delivered", "format": format, "rows": counts})
    return document

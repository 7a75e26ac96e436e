"""A customer's data export (issue 21): complete by introspection, served by the API to keys of every category,
recorded in the audit log, linked from the customer-service console."""

import csv
import datetime as dt
import io
import itertools
import json
import zipfile

import pytest
from django.apps import apps
from django.db import models
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEntry
from customers.export import customer_export
from customers.models import Customer, Order
from tests.conftest import assert_error
from tests.customers.factories import CustomerFactory, OrderFactory, OrderItemFactory
from tests.giftcards.factories import gift_card

pytestmark = pytest.mark.django_db

_serial = itertools.count(1)


def models_pointing_at(*targets) -> list[type[models.Model]]:
    """Found independently of customers.export: every concrete project model with a foreign key to a target."""
    return [model for model in apps.get_models()
            if not model._meta.proxy and not model._meta.app_config.name.startswith("django.")
            and model not in targets
            and any(f.is_relation and f.concrete and f.related_model in targets and (f.many_to_one or f.one_to_one)
                    for f in model._meta.fields)]


def _value(field, links: dict):
    """A valid value for a required field: the customer or order where it points at them, otherwise a new row."""
    if field.is_relation:
        target = field.related_model
        return links.get(target) or make_row(target, links)
    if field.choices:
        return field.choices[0][0]
    n = next(_serial)
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.DateField):
        return dt.date(2026, 1, 1)
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.UUIDField):
        import uuid

        return uuid.uuid4()
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.IntegerField | models.DecimalField | models.FloatField):
        return 1
    if isinstance(field, models.GenericIPAddressField):
        return "192.0.2.1"
    if isinstance(field, models.EmailField):
        return f"row{n}@example.com"
    return f"x{n}"[: field.max_length or 50]


def make_row(model, links: dict):
    """A row of any model, with every foreign key to Customer or Order set to the given ones (and the other
    required fields filled in), so that a model added later is tested without a factory of its own."""
    values = {}
    for field in model._meta.concrete_fields:
        if field.primary_key and not field.is_relation:
            continue
        if field.is_relation and field.related_model in links:
            values[field.name] = links[field.related_model]
        elif not (field.null or field.blank or field.has_default() or getattr(field, "auto_now", False)
                  or getattr(field, "auto_now_add", False)):
            values[field.name] = _value(field, links)
    return model._default_manager.create(**values)


def test_every_model_pointing_at_a_customer_or_order_is_a_section_with_its_rows():
    customer = CustomerFactory()
    order = OrderFactory(customer=customer)
    made = {model: make_row(model, {Customer: customer, Order: order})
            for model in models_pointing_at(Customer, Order) if model is not Order}
    made[Order] = order
    OrderFactory()  # another customer's order stays out

    sections = customer_export(customer)["sections"]

    assert {"customers.customerconsent", "promo.voucher", "promo.redemption", "customers.orderitem",
            "segments.segmentmembership"} <= {m._meta.label_lower for m in made}
    for model, row in made.items():
        section = sections.get(model._meta.label_lower)
        assert section is not None, f"{model._meta.label} is missing from the customer export"
        assert row.pk in [r[model._meta.pk.attname] for r in section], model._meta.label
    assert [r["id"] for r in sections["customers.order"]] == [order.pk]


def test_export_values_are_json_money_in_integers_and_dates_in_iso_8601():
    customer = CustomerFactory(email="ann@example.com")
    order = OrderFactory(customer=customer, amount=12_345)
    OrderItemFactory(order=order, price=12_345, amount=12_345)

    document = json.loads(json.dumps(customer_export(customer)))

    assert document["object"] == "customer_export" and document["customer"]["email"] == "ann@example.com"
    exported = document["sections"]["customers.order"][0]
    assert exported["amount"] == 12_345 and isinstance(exported["amount"], int)
    assert dt.datetime.fromisoformat(exported["created_at"]).tzinfo is not None
    assert document["sections"]["customers.orderitem"][0]["price"] == 12_345


def test_an_order_the_customer_referred_does_not_name_the_buyer():
    referrer, buyer = CustomerFactory(source_id="referrer"), CustomerFactory(source_id="buyer")
    OrderFactory(customer=buyer, referrer=referrer, amount=5_000)

    exported = customer_export(referrer)["sections"]["customers.order"]

    assert [(row["referrer_id"], row["customer_id"]) for row in exported] == [(referrer.pk, None)]
    assert customer_export(buyer)["sections"]["customers.order"][0]["customer_id"] == buyer.pk


def test_gift_cards_held_come_with_their_ledger():
    customer = CustomerFactory()
    card = gift_card(code="GIFT-EXPORT", amount=5_000)
    card.voucher.holder = customer
    card.voucher.save(update_fields=["holder"])
    gift_card(code="GIFT-OTHER")

    sections = customer_export(customer)["sections"]

    assert [row["balance"] for row in sections["giftcards.giftcard"]] == [5_000]
    assert {row["card_id"] for row in sections["giftcards.giftcardtransaction"]} <= {card.pk}
    assert [row["code"] for row in sections["promo.voucher"]] == ["GIFT-EXPORT"]


def test_api_export_is_recorded_in_the_audit_log(api, issued_key):
    customer = CustomerFactory(source_id="ann")
    OrderFactory(customer=customer)

    response = api.get(f"/v1/customers/{customer.public_id}/export")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["customer"]["public_id"] == customer.public_id and len(body["sections"]["customers.order"]) == 1
    entries = AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT, object_id=str(customer.pk)).order_by("id")
    assert [e.extra["stage"] for e in entries] == ["requested", "delivered"]
    assert entries[1].extra["rows"]["customers.order"] == 1
    assert all(e.api_key_id == issued_key.api_key.pk and e.request_id == response["X-Request-ID"] for e in entries)


def test_api_export_of_an_unknown_customer_is_404(api):
    assert_error(api.get("/v1/customers/cust_missing/export"), 404, "not_found")
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()


def test_console_links_the_export_for_staff_who_may_view_customers(admin_client):
    customer = CustomerFactory()

    page = admin_client.get(reverse("backoffice:customer", kwargs={"ref": customer.public_id}))
    link = reverse("backoffice:customer_export", kwargs={"ref": customer.public_id})
    assert page.status_code == 200 and link.encode() in page.content and b"Download data export" in page.content

    download = admin_client.get(link)
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    assert json.loads(download.content)["customer"]["public_id"] == customer.public_id
    assert AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT, extra__stage="delivered").count() == 1
    archive = admin_client.get(link, {"format": "zip"})
    assert archive.status_code == 200 and archive["Content-Type"] == "application/zip"
    assert "export.json" in zipfile.ZipFile(io.BytesIO(archive.content)).namelist()


def test_console_refuses_the_export_without_the_permission_to_view_customers(client, django_user_model):
    customer = CustomerFactory()
    user = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(user)

    assert client.get(reverse("backoffice:customer_export", kwargs={"ref": customer.public_id})).status_code == 403
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()


def test_api_archive_is_a_zip_with_the_json_and_one_csv_per_section(api):
    customer = CustomerFactory(name="Ann")
    OrderItemFactory(order=OrderFactory(customer=customer, amount=2_500, metadata={"channel": "web"}))

    response = api.get(f"/v1/customers/{customer.public_id}/export.zip")

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = set(archive.namelist())
        assert {"export.json", "customer.csv", "customers.order.csv", "customers.orderitem.csv"} <= names
        assert json.loads(archive.read("export.json"))["customer"]["name"] == "Ann"
        orders = list(csv.DictReader(io.StringIO(archive.read("customers.order.csv").decode())))
    assert orders[0]["amount"] == "2500" and json.loads(orders[0]["metadata"]) == {"channel": "web"}
    delivered = AuditEntry.objects.get(action=AuditEntry.Action.EXPORT, extra__stage="delivered")
    assert delivered.extra["format"] == "zip"

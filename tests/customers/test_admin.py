"""Admin screens and the CSV/XLSX import-export resources of customers and orders."""

import pytest
import tablib
from django.urls import reverse
from import_export.formats.base_formats import XLSX

from core.models import MetadataSchema
from customers.admin import CustomerResource, OrderResource
from customers.models import Customer, CustomerActivity, Order
from tests.customers.factories import CustomerFactory, CustomEventFactory, OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["customer", "order", "customevent", "customeractivity"])
def test_changelists_load_and_search(admin_client, model):
    customer = CustomerFactory(source_id="findme", email="find@example.com")
    OrderItemFactory(order=OrderFactory(customer=customer, source_id="ord-findme"))
    CustomEventFactory(customer=customer)
    CustomerActivity.objects.create(customer=customer, type="customer.created")
    url = reverse(f"admin:customers_{model}_changelist")
    assert admin_client.get(url).status_code == 200
    response = admin_client.get(url, {"q": "findme"})
    assert response.status_code == 200 and response.context["cl"].result_count == 1


def test_customer_filters_and_change_page(admin_client):
    customer = CustomerFactory(address_country="FR")
    url = reverse("admin:customers_customer_changelist")
    assert admin_client.get(url, {"address_country": "FR"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"deleted_at__isnull": "False"}).context["cl"].result_count == 0
    page = admin_client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    assert page.status_code == 200 and b"orders_total_amount" in page.content


def test_customer_form_checks_metadata_schema(admin_client):
    MetadataSchema.objects.create(related_object="customer", properties={"tier": {"type": "string",
                                                                                  "in": ["gold"]}})
    customer = CustomerFactory()
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    response = admin_client.post(url, {"source_id": customer.source_id, "name": "X", "metadata": '{"tier": "tin"}'})
    assert response.status_code == 200 and "metadata.tier" in response.content.decode()
    customer.refresh_from_db()
    assert customer.metadata == {}


def test_deleting_in_the_admin_hides_the_customer(admin_client):
    customer = CustomerFactory(source_id="bye")
    OrderFactory(customer=customer)  # PROTECT would forbid a real delete
    url = reverse("admin:customers_customer_delete", args=[customer.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    customer.refresh_from_db()
    assert customer.deleted_at is not None and customer.system_metadata["deleted_source_id"] == "bye"


def test_erase_action_anonymises(admin_client):
    customer = CustomerFactory(name="Secret Name")
    url = reverse("admin:customers_customer_changelist")
    admin_client.post(url, {"action": "erase_personal_data", "_selected_action": [customer.pk]})
    customer.refresh_from_db()
    assert customer.anonymized_at is not None and customer.name == ""


def test_saving_an_order_in_the_admin_counts_it_once(admin_client):
    order = OrderFactory(amount=900)
    url = reverse("admin:customers_order_change", args=[order.pk])
    form = {"source_id": order.source_id, "status": "PAID", "customer": order.customer_id, "amount": 900,
            "discount_amount": 0, "items_discount_amount": 0, "applied_discount_amount": 0,
            "items_applied_discount_amount": 0, "metadata": "{}", "ordered_at_0": "2024-01-01",
            "ordered_at_1": "10:00:00", "items-TOTAL_FORMS": 0, "items-INITIAL_FORMS": 0}
    for _ in range(2):
        response = admin_client.post(url, form)
        assert response.status_code == 302, response.context["adminform"].form.errors
    order.customer.refresh_from_db()
    assert (order.customer.orders_total_count, order.customer.orders_total_amount) == (1, 900)


def test_import_export_pages_load(admin_client):
    for model in ("customer", "order"):
        assert admin_client.get(reverse(f"admin:customers_{model}_import")).status_code == 200
        assert admin_client.get(reverse(f"admin:customers_{model}_export")).status_code == 200


# ---------------------------------------------------------------- resources

def test_customer_export_in_csv_and_xlsx():
    CustomerFactory(source_id="exp-1", name="Exported", orders_total_amount=1234)
    CustomerFactory(source_id="hidden", deleted_at="2024-01-01T00:00:00Z")
    dataset = CustomerResource().export()
    assert dataset.headers[:3] == ["id", "source_id", "name"]
    assert [row[1] for row in dataset] == ["exp-1"]
    assert "1234" in dataset.csv
    xlsx = XLSX().export_data(dataset)
    assert xlsx[:2] == b"PK"  # a zip: a real workbook


def test_customer_import_upserts_by_source_id_and_reports_bad_rows():
    CustomerFactory(source_id="imp-1", name="Before")
    dataset = tablib.Dataset(headers=["source_id", "name", "email", "orders_total_amount", "metadata"])
    dataset.append(["imp-1", "After", "after@example.com", "999999", "{}"])
    dataset.append(["imp-2", "New", "new@example.com", "", '{"a": 1}'])
    dataset.append(["imp-3", "Bad", "not-an-email", "", "{}"])
    dataset.append(["", "No id", "x@example.com", "", "{}"])
    result = CustomerResource().import_data(dataset, dry_run=False, raise_errors=False)
    invalid_rows = {row.number for row in result.invalid_rows}
    error_rows = {number for number, _errors in result.row_errors()}
    assert invalid_rows | error_rows == {3, 4}
    after = Customer.objects.get(source_id="imp-1")
    assert after.name == "After" and after.orders_total_amount == 0  # aggregates are never imported
    assert Customer.objects.get(source_id="imp-2").metadata == {"a": 1}
    assert not Customer.objects.filter(source_id="imp-3").exists()


def test_order_import_counts_each_order_once():
    customer = CustomerFactory(source_id="buyer")
    dataset = tablib.Dataset(headers=["source_id", "status", "amount", "discount_amount", "customer_source_id",
                                      "metadata", "ordered_at"])
    dataset.append(["imp-order", "PAID", "1500", "0", "buyer", "{}", "2024-02-01 10:00:00"])
    for _ in range(2):
        result = OrderResource().import_data(dataset, dry_run=False, raise_errors=True)
        assert not result.has_errors() and not result.has_validation_errors()
    customer.refresh_from_db()
    assert (customer.orders_total_count, customer.orders_total_amount) == (1, 1500)
    assert Order.objects.get(source_id="imp-order").counted_amount == 1500

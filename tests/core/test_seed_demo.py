import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Product, ProductCollection, Sku
from core import demo, services
from core.models import ApiKey
from customers.models import Customer, CustomEvent, Order, OrderItem

pytestmark = pytest.mark.django_db

@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


SMALL = {"customers": 60, "products": 16, "orders": 200, "events": 90}


def run(*args, **options) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, **{**SMALL, **options})
    return out.getvalue()


def printed_key(output: str) -> tuple[str, str]:
    app_id = re.search(r"^X-App-Id:\s+(\S+)$", output, re.M)
    token = re.search(r"^X-App-Token:\s+(\S+)$", output, re.M)
    assert app_id and token, output
    return app_id.group(1), token.group(1)


def order_snapshot() -> list[tuple]:
    return list(Order.objects.order_by("source_id").values_list("source_id", "status", "amount", "customer__source_id"))


def test_creates_the_requested_rows_and_a_working_key():
    output = run()

    assert Customer.objects.filter(source_id__startswith="demo-").count() == 60
    assert Product.objects.filter(source_id__startswith="demo-").count() == 16
    assert Order.objects.filter(source_id__startswith="demo-").count() == 200
    assert CustomEvent.objects.count() == 90
    assert 200 <= OrderItem.objects.count() <= 1000
    assert Sku.objects.exists()
    assert re.search(r"Customers\s+60$", output, re.M) and re.search(r"Orders\s+200$", output, re.M)

    app_id, token = printed_key(output)
    key = services.api_key_authenticate(app_id, token)
    assert key is not None and key.name == "demo" and key.scope == ApiKey.Scope.MANAGEMENT
    assert "local use only" in output
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password("admin")


def test_customer_aggregates_equal_sums_recomputed_from_orders():
    run()
    counted = [Order.Status.PAID, Order.Status.FULFILLED]
    assert Customer.objects.filter(orders_total_count__gt=0).exists()
    assert Customer.objects.filter(orders_total_count=0).exists()
    for customer in Customer.objects.all():
        orders = list(customer.orders.filter(status__in=counted).order_by("ordered_at", "id"))
        assert customer.orders_total_count == len(orders)
        assert customer.orders_total_amount == sum(o.amount for o in orders)
        if orders:
            assert customer.first_order_date == orders[0].ordered_at
            assert customer.last_order_date == orders[-1].ordered_at
            assert customer.last_order_amount == orders[-1].amount
        else:
            assert customer.first_order_date is customer.last_order_date is customer.last_order_amount is None
    # Each counted order carries what it added, so later updates through the service count it once.
    for order in Order.objects.all():
        if order.status in counted:
            assert (order.counted_amount, order.counted_customer_id) == (order.amount, order.customer_id)
        else:
            assert order.counted_amount is None and order.counted_customer_id is None
    statuses = set(Order.objects.values_list("status", flat=True))
    assert statuses == {"PAID", "FULFILLED", "CREATED", "CANCELED"}


def test_amounts_are_integers_and_orders_add_up():
    run()
    for order in Order.objects.prefetch_related("items"):
        items = list(order.items.all())
        assert 1 <= len(items) <= 5
        assert order.amount == sum(item.amount for item in items) > 0
        assert type(order.amount) is int
        for item in items:
            assert type(item.price) is int and type(item.amount) is int
            assert item.amount == item.price * item.quantity
            assert item.product_id is not None
            assert item.product_snapshot == {"name": item.product.name, "price": item.product.price}
            if item.related_object == "sku":
                assert item.sku.product_id == item.product_id and item.source_id == item.sku.source_id
                assert item.price == item.sku.price
            else:
                assert item.sku_id is None and item.source_id == item.product.source_id
    assert all(type(p) is int for p in Product.objects.values_list("price", flat=True))
    assert all(type(p) is int for p in Sku.objects.values_list("price", flat=True))
    assert all(type(a) is int for a in Customer.objects.values_list("orders_total_amount", flat=True))


def test_dates_are_spread_and_consistent():
    run()
    now = timezone.now()
    created = list(Customer.objects.values_list("created_at", flat=True))
    assert min(created) >= now - timedelta(days=731) and max(created) <= now
    assert max(created) - min(created) > timedelta(days=180)  # not all "just now"
    for order in Order.objects.select_related("customer"):
        assert order.created_at == order.ordered_at
        assert now - timedelta(days=549) <= order.ordered_at <= now
        assert order.ordered_at >= order.customer.created_at
        assert order.updated_at >= order.created_at
    for event in CustomEvent.objects.select_related("customer"):
        assert event.created_at >= event.customer.created_at
        assert event.name in demo.EVENT_NAMES
    today = timezone.localdate()
    assert Customer.objects.filter(birthdate__month=today.month, birthdate__day=today.day).exists()


def test_customers_products_and_collections_look_real():
    run()
    countries = set(Customer.objects.values_list("address_country", flat=True))
    assert len(countries) >= 4
    for customer in Customer.objects.filter(address_country="PL"):
        assert re.fullmatch(r"\d\d-\d\d\d", customer.address_postal_code)
        assert customer.phone.startswith("+48 ")
    customer = Customer.objects.first()
    assert customer.name and "@" in customer.email and customer.address_city
    assert set(customer.metadata) >= {"industry", "vip", "newsletter"}
    assert isinstance(customer.metadata["vip"], bool)
    product = Product.objects.first()
    assert set(product.metadata) == {"brand", "family", "series"}
    assert Product.objects.values("metadata__brand").distinct().count() == 8
    sku = Sku.objects.first()
    assert set(sku.attributes) == set(sku.product.attributes) and sku.attributes
    auto = ProductCollection.objects.filter(type=ProductCollection.Type.AUTO_UPDATE)
    assert auto.count() >= 2
    assert auto.get(name="Demo: Acme products").filter == {
        "junction": "and", "metadata.brand": {"conditions": {"$is": ["Acme"]}}}
    for collection in ProductCollection.objects.filter(type=ProductCollection.Type.STATIC):
        assert collection.items.exists()


def test_second_run_does_not_duplicate_and_keeps_the_key():
    first = run()
    app_id, token = printed_key(first)
    before = demo.demo_data_counts()
    second = run()
    assert "already present" in second
    assert demo.demo_data_counts() == before
    assert ApiKey.objects.filter(name="demo").count() == 1
    assert app_id in second and token not in second and "create_api_key NAME --json" in second
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert "X-App-Token" not in second

    third = run(new_key=True)
    new_id, new_token = printed_key(third)
    assert new_id != app_id and services.api_key_authenticate(new_id, new_token) is not None
    assert ApiKey.objects.filter(name="demo", revoked_at__isnull=True).count() == 2


def test_reset_recreates_the_same_data_from_the_same_seed():
    run(seed=7)
    first = order_snapshot()
    customer_ids = set(Customer.objects.values_list("pk", flat=True))
    # An order placed later for a demo customer (e.g. through the API) goes with the demo data.
    Order.objects.create(source_id="later-order", customer=Customer.objects.first(), amount=500)
    output = run("--reset", seed=7)
    assert not Order.objects.filter(source_id="later-order").exists()
    assert "Deleted the previous demo data" in output
    assert order_snapshot() == first
    assert not customer_ids & set(Customer.objects.values_list("pk", flat=True))  # really new rows
    assert Customer.objects.count() == SMALL["customers"]
    run("--reset", seed=8)
    assert order_snapshot() != first


def test_fixed_now_makes_the_dates_deterministic_too():
    now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    demo.seed_demo(**SMALL, seed=3, now=now)
    first = list(Order.objects.order_by("source_id").values_list("ordered_at", "created_at", "updated_at"))
    customers = list(Customer.objects.order_by("source_id").values_list("created_at", "last_order_date"))
    summary = demo.seed_demo(**SMALL, seed=3, now=now, reset=True)
    assert summary["skipped"] is False and summary["orders"] == SMALL["orders"]
    assert list(Order.objects.order_by("source_id").values_list("ordered_at", "created_at", "updated_at")) == first
    assert list(Customer.objects.order_by("source_id").values_list("created_at", "last_order_date")) == customers


def test_writes_in_batches_not_per_row():
    with CaptureQueriesContext(connection) as small:
        demo.seed_demo(customers=20, products=8, orders=40, events=20)
    demo.seed_demo(reset=True, customers=0, products=0, orders=0, events=0)
    with CaptureQueriesContext(connection) as large:
        demo.seed_demo(customers=400, products=40, orders=1200, events=400)
    rows = sum(demo.demo_data_counts().values())
    assert Order.objects.count() == 1200 and rows > 4000
    # Multi-row inserts (SQLite caps a batch at 999 parameters) and executemany updates: queries grow
    # with the number of batches, not of rows.
    assert len(large.captured_queries) < rows / 25
    assert len(small.captured_queries) < 40


def test_admin_password_from_option_or_environment(monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "from-env-secret")
    run(customers=2, products=2, orders=2, events=2)
    assert get_user_model().objects.get(username="admin").check_password("from-env-secret")
    get_user_model().objects.all().delete()
    run("--admin-password=from-option", customers=2, products=2, orders=2, events=2)
    assert get_user_model().objects.get(username="admin").check_password("from-option")


def test_existing_admin_is_left_alone():
    get_user_model().objects.create_user(username="admin", password="mine")
    output = run(customers=2, products=2, orders=2, events=2)
    assert "exists: left unchanged" in output
    assert get_user_model().objects.get(username="admin").check_password("mine")


def test_bad_sizes_are_refused():
    with pytest.raises(CommandError, match="customers must be >= 0"):
        run(customers=-1)
    with pytest.raises(CommandError, match="orders need"):
        run(products=0)
    assert not Customer.objects.exists()

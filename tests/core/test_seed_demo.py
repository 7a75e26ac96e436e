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


SMALL = {"customers": 60, "products": 16, "orders": 200, "events": 90, "no_campaigns": True, "no_role_users": True}
BASE = {key: value for key, value in SMALL.items() if not key.startswith("no_")}


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
    assert Customer.objects.count() == BASE["customers"]
    run("--reset", seed=8)
    assert order_snapshot() != first


def test_fixed_now_makes_the_dates_deterministic_too():
    now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    demo.seed_demo(**BASE, seed=3, now=now, campaigns=False)
    first = list(Order.objects.order_by("source_id").values_list("ordered_at", "created_at", "updated_at"))
    customers = list(Customer.objects.order_by("source_id").values_list("created_at", "last_order_date"))
    summary = demo.seed_demo(**BASE, seed=3, now=now, reset=True, campaigns=False)
    assert summary["skipped"] is False and summary["orders"] == BASE["orders"]
    assert list(Order.objects.order_by("source_id").values_list("ordered_at", "created_at", "updated_at")) == first
    assert list(Customer.objects.order_by("source_id").values_list("created_at", "last_order_date")) == customers


def test_writes_in_batches_not_per_row():
    with CaptureQueriesContext(connection) as small:
        demo.seed_demo(customers=20, products=8, orders=40, events=20, campaigns=False)
    demo.seed_demo(reset=True, customers=0, products=0, orders=0, events=0, campaigns=False)
    with CaptureQueriesContext(connection) as large:
        demo.seed_demo(customers=400, products=40, orders=1200, events=400, campaigns=False)
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


# ---------------------------------------------------------------- demo campaigns

WITH_CAMPAIGNS = {"no_campaigns": False, "no_role_users": False, "redemptions": 40}


def campaigns_run(*args, **options) -> str:
    return run(*args, **{**WITH_CAMPAIGNS, **options})


def test_demo_campaigns_are_made_through_the_services():
    from giftcards.models import GiftCard, GiftCardTransaction
    from promo.models import Campaign, PromotionStack, Redemption, Voucher
    from rules.models import ValidationRuleAssignment
    from segments.models import Segment

    output = campaigns_run()
    live = Campaign.objects.filter(deleted_at__isnull=True)
    assert set(live.values_list("name", flat=True)) == {"Welcome 10%", "Sorry coupons", "Everyday promotions",
                                                         "Gift cards 50.00"}
    assert all(c.metadata == {"demo": True} and c.active for c in live)

    welcome = live.get(name="Welcome 10%")
    assert welcome.vouchers_generation_status == Campaign.Status.DONE
    assert welcome.vouchers.count() == 1000
    assert all(code.startswith("WELCOME-") for code in welcome.vouchers.values_list("code", flat=True))
    assert ValidationRuleAssignment.objects.filter(related_object_type="campaign",
                                                   related_object_id=welcome.public_id).count() == 2
    blackfriday = Voucher.objects.get(code="BLACKFRIDAY")
    assert blackfriday.campaign is None and blackfriday.discount["percent_off"] == 20
    assert ValidationRuleAssignment.objects.filter(related_object_type="voucher",
                                                   related_object_id=blackfriday.public_id).count() == 2
    sorry_campaign = live.get(name="Sorry coupons")
    assert sorry_campaign.sorry_coupons
    assert sorry_campaign.vouchers.filter(holder__isnull=False).count() == 3

    promotion = live.get(name="Everyday promotions")
    tiers = {t.name: t for t in promotion.promotion_tiers.all()}
    assert set(tiers) == {"Happy hour 15%", "Spend 200.00, save 20.00", "Free shipping over 100.00"}
    assert tiers["Happy hour 15%"].validity_hours == {"daily": [
        {"start_time": "17:00", "expiration_time": "19:00", "days_of_week": [1, 2, 3, 4, 5]}]}
    assert PromotionStack.objects.filter(campaign=promotion).count() == 1

    cards = GiftCard.objects.filter(voucher__campaign__name="Gift cards 50.00")
    assert cards.count() == 50
    assert cards.filter(redeemed_amount__gt=0).count() >= 5
    for card in cards:  # the balance is what the ledger says
        assert card.balance == sum(GiftCardTransaction.objects.filter(card=card).values_list("amount", flat=True))
    kinds = set(GiftCardTransaction.objects.filter(card__in=cards).values_list("kind", flat=True))
    assert {"issue", "spend", "top_up", "refund"} <= kinds

    segments = {s.name: s for s in Segment.objects.all()}
    assert set(segments) == {"London customers", "VIP: spent over 500.00", "Customer panel (static)"}
    london = Customer.objects.filter(segment_memberships__segment=segments["London customers"],
                                     segment_memberships__left_at__isnull=True)
    assert london.exists() and set(london.values_list("address_city", flat=True)) == {"London"}
    assert london.count() == Customer.objects.filter(address_city="London").count()
    vip = Customer.objects.filter(segment_memberships__segment=segments["VIP: spent over 500.00"],
                                  segment_memberships__left_at__isnull=True)
    assert vip.count() == Customer.objects.filter(orders_total_amount__gt=50000).count() > 0
    assert segments["Customer panel (static)"].memberships.count() == 20

    parents = Redemption.objects.filter(parent__isnull=True)
    assert parents.filter(result="SUCCESS").count() >= 15
    failed = parents.filter(result="FAILURE")
    assert failed.exists() and all(r.failure_code for r in failed)
    assert parents.filter(status="ROLLED_BACK").count() == 1
    assert re.search(r"Redemptions\s+\d+$", output, re.M) and re.search(r"Campaigns\s+4$", output, re.M)

    users = get_user_model().objects.filter(username__in=["marketer", "junior", "support", "analyst", "partner"])
    assert users.count() == 5
    for user in users:
        assert user.is_staff and not user.is_superuser and user.groups.count() == 1 and user.check_password("demo")
    assert "support / demo" in output and "Customer Service" in output


def test_a_demo_code_validates_with_the_printed_key():
    from promo.models import Voucher
    from tests.conftest import JsonClient

    output = campaigns_run()
    app_id, token = printed_key(output)
    client = JsonClient({"X-App-Id": app_id, "X-App-Token": token})
    code = Voucher.objects.filter(campaign__name="Welcome 10%", redemptions__isnull=True).order_by("code").first().code
    product = Product.objects.order_by("source_id").first()
    order = {"items": [{"product_id": product.public_id, "quantity": 1, "price": 6000}]}
    answer = client.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": code}], "order": order,
                                             "customer": {"source_id": "demo-cust-00001"}})
    assert answer.status_code == 200 and answer.json()["valid"] is True, answer.json()
    assert answer.json()["order"]["total_discount_amount"] == 600
    small = client.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": code}],
                                            "order": {"amount": 4000}})
    assert small.json()["valid"] is False


def test_second_run_keeps_the_demo_campaigns():
    from promo.models import Campaign, Redemption

    campaigns_run()
    before = (demo.demo_campaigns_counts(), Redemption.objects.count())
    second = campaigns_run()
    assert "already present" in second and "campaigns already present" in second
    assert (demo.demo_campaigns_counts(), Redemption.objects.count()) == before
    assert Campaign.objects.count() == 4
    assert "exist: left unchanged" in second


def test_campaigns_are_added_to_existing_demo_data_and_reset_replaces_them():
    from promo.models import Campaign, Voucher

    run()  # an older seed: data without campaigns
    assert not Campaign.objects.exists()
    campaigns_run()
    first = demo.demo_campaigns_counts()
    assert first["campaigns"] == 4 and first["segments"] == 3
    old_ids = set(Campaign.objects.values_list("public_id", flat=True))
    output = campaigns_run("--reset")
    assert "Deleted the previous demo data" in output
    # The old campaigns are soft-deleted through the service (their names freed, history and ledgers kept).
    assert Campaign.objects.filter(public_id__in=old_ids, deleted_at__isnull=False).count() == 4
    live = Campaign.objects.filter(deleted_at__isnull=True)
    assert live.count() == 4 and not old_ids & set(live.values_list("public_id", flat=True))
    assert Voucher.objects.filter(code="BLACKFRIDAY").count() == 1
    assert demo.demo_campaigns_counts()["segments"] == 3


def test_no_campaigns_and_bad_redemptions():
    from promo.models import Campaign

    run()
    assert not Campaign.objects.exists()
    with pytest.raises(CommandError, match="redemptions must be >= 0"):
        run(redemptions=-1)

"""Customer order aggregates: only PAID and FULFILLED orders count, each exactly once."""

from datetime import UTC, datetime, timedelta

import pytest

from customers import services
from customers.models import Customer, Order
from tests.customers.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

JAN = datetime(2024, 1, 15, 12, tzinfo=UTC)


def send(source_id: str, customer: Customer, status: str = "PAID", amount: int = 1000, when: datetime = JAN,
         **extra) -> Order:
    order, _created = services.order_create_or_update({
        "source_id": source_id, "status": status, "amount": amount, "customer": {"id": customer.public_id},
        "created_at": when.isoformat(), **extra})
    return order


def totals(customer: Customer) -> tuple:
    customer.refresh_from_db()
    return (customer.orders_total_count, customer.orders_total_amount, customer.last_order_amount,
            customer.last_order_date, customer.first_order_date)


def test_an_order_sent_twice_counts_once():
    customer = CustomerFactory()
    send("o1", customer)
    send("o1", customer)
    assert totals(customer) == (1, 1000, 1000, JAN, JAN)
    order = Order.objects.get(source_id="o1")
    assert (order.counted_amount, order.counted_customer_id) == (1000, customer.pk)


def test_only_paid_and_fulfilled_count():
    customer = CustomerFactory()
    send("created", customer, status="CREATED")
    send("canceled", customer, status="CANCELED")
    assert totals(customer)[:2] == (0, 0)
    send("fulfilled", customer, status="FULFILLED", amount=250)
    assert totals(customer)[:2] == (1, 250)


def test_paid_then_canceled_then_paid_again():
    customer = CustomerFactory()
    order = send("o1", customer)
    services.order_update(order, {"status": "CANCELED"})
    assert totals(customer) == (0, 0, None, None, None)
    services.order_update(order, {"status": "PAID"})
    assert totals(customer) == (1, 1000, 1000, JAN, JAN)


def test_amount_change_of_a_paid_order_is_applied_as_a_difference():
    customer = CustomerFactory()
    send("o1", customer, amount=1000)
    send("o2", customer, amount=500, when=JAN - timedelta(days=1))
    send("o1", customer, amount=1200)
    assert totals(customer)[:3] == (2, 1700, 1200)


def test_discounts_are_not_spent():
    customer = CustomerFactory()
    send("o1", customer, amount=1000, discount_amount=300)
    assert totals(customer)[:3] == (1, 700, 700)


def test_last_and_first_dates_follow_order_dates_not_arrival():
    customer = CustomerFactory()
    feb, dec = JAN + timedelta(days=31), JAN - timedelta(days=31)
    send("feb", customer, amount=200, when=feb)
    send("dec", customer, amount=100, when=dec)  # older order arriving later
    assert totals(customer) == (2, 300, 200, feb, dec)
    services.order_update(Order.objects.get(source_id="feb"), {"status": "CANCELED"})
    assert totals(customer) == (1, 100, 100, dec, dec)


def test_changing_the_date_of_a_counted_order_recomputes_the_dates():
    customer = CustomerFactory()
    send("a", customer, amount=100, when=JAN)
    send("b", customer, amount=200, when=JAN + timedelta(days=1))
    send("a", customer, amount=100, when=JAN + timedelta(days=2))
    assert totals(customer)[2:4] == (100, JAN + timedelta(days=2))


def test_sync_is_idempotent_and_repairs_an_uncounted_order():
    """An order written outside the services (admin, fixtures) is counted by the first sync, once."""
    order = OrderFactory(status=Order.Status.PAID, amount=800)
    assert services.order_sync_contribution(order.pk) is True
    assert services.order_sync_contribution(order.pk) is False
    assert totals(order.customer)[:3] == (1, 800, 800)


def test_the_contribution_follows_the_order_to_another_customer():
    first, second = CustomerFactory(), CustomerFactory()
    order = send("o1", first)
    services.order_update(order, {"customer": {"id": second.public_id}})
    assert totals(first) == (0, 0, None, None, None)
    assert totals(second) == (1, 1000, 1000, JAN, JAN)


def test_a_stale_claim_changes_nothing():
    """The conditional UPDATE is what makes it exactly-once: a writer holding an outdated view of
    counted_amount matches no row, so it cannot apply its difference a second time."""
    customer = CustomerFactory()
    order = send("o1", customer)
    stale = Order.objects.filter(pk=order.pk, counted_amount=None).update(counted_amount=1000)
    assert stale == 0
    assert totals(customer)[:2] == (1, 1000)


@pytest.mark.postgres
def test_a_counted_order_updates_its_customer_in_place():
    """The aggregates' UPDATE changes no indexed column and finds room in the row's page, so PostgreSQL
    writes it without an entry in each of the customer table's indexes (a HOT update)."""
    from django.db import connection

    customer = CustomerFactory()

    def updates() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
                           [Customer._meta.db_table])
            return cursor.fetchone()

    before = updates()
    for n in range(3):
        send(f"hot-{n}", customer, when=JAN + timedelta(days=n))
    after = updates()
    assert after[0] - before[0] >= 3 and after[1] - before[1] == after[0] - before[0]
    assert totals(customer)[:2] == (3, 3000)

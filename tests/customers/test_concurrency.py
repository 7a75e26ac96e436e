"""Exactly-once customer aggregates under real concurrency (PostgreSQL, real threads).

SQLite serialises every writer, so these only prove something on PostgreSQL: they are skipped
elsewhere and required in CI.
"""

import threading

import pytest
from django.db import connection, transaction

from customers import selectors, services
from customers.models import Customer, CustomerActivity, Order, OrderItem
from tests.customers.factories import OrderFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 16
ORDER = {
    "source_id": "race-order", "status": "PAID",
    "customer": {"source_id": "race-customer", "name": "Racer"},
    "items": [{"source_id": "sku-1", "quantity": 2, "price": 1250}, {"source_id": "sku-2", "price": 500}],
}


def run_in_threads(work) -> list:
    """Run work(index) in THREADS threads released together; returns the exceptions raised."""
    barrier = threading.Barrier(THREADS)
    errors = []

    def worker(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except Exception as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_the_same_order_sent_from_16_threads_counts_once():
    errors = run_in_threads(lambda index: services.order_create_or_update(ORDER))
    assert errors == []
    customer = Customer.objects.get(source_id="race-customer")
    assert (customer.orders_total_count, customer.orders_total_amount, customer.last_order_amount) == (1, 3000, 3000)
    assert Customer.objects.count() == 1 and Order.objects.count() == 1 and OrderItem.objects.count() == 2
    assert CustomerActivity.objects.filter(type="customer.order.created").count() == 1
    assert CustomerActivity.objects.filter(type="customer.created").count() == 1


def test_concurrent_creates_and_updates_of_one_order_count_once():
    """Half the threads resend the order (POST upsert), half update it (PUT) to PAID."""
    created, _ = services.order_create_or_update({**ORDER, "status": "CREATED"})

    def work(index: int) -> None:
        if index % 2:
            services.order_update(selectors.order_get(created.public_id), {"status": "PAID"})
        else:
            services.order_create_or_update(ORDER)

    assert run_in_threads(work) == []
    customer = Customer.objects.get(source_id="race-customer")
    assert (customer.orders_total_count, customer.orders_total_amount) == (1, 3000)
    assert CustomerActivity.objects.filter(type="customer.order.paid").count() == 1


def test_concurrent_paid_and_canceled_end_consistent():
    """Whatever order the writers land in, the aggregates match the order's final status."""
    created, _ = services.order_create_or_update(ORDER)

    def work(index: int) -> None:
        status = "CANCELED" if index % 2 else "PAID"
        services.order_update(selectors.order_get(created.public_id), {"status": status})

    assert run_in_threads(work) == []
    order = Order.objects.get(pk=created.pk)
    customer = Customer.objects.get(source_id="race-customer")
    expected = (1, 3000) if order.status == "PAID" else (0, 0)
    assert (customer.orders_total_count, customer.orders_total_amount) == expected


def test_16_concurrent_syncs_of_an_uncounted_order_apply_it_once():
    """The mechanism itself, without the order-row lock that an upsert takes first: sixteen transactions
    read "not counted yet" together; the conditional UPDATE lets exactly one of them add the amount."""
    order = OrderFactory(status=Order.Status.PAID, amount=800)  # written outside the services

    def work(index: int) -> None:
        with transaction.atomic():
            services.order_sync_contribution(order.pk)

    assert run_in_threads(work) == []
    customer = Customer.objects.get(pk=order.customer_id)
    assert (customer.orders_total_count, customer.orders_total_amount, customer.last_order_amount) == (1, 800, 800)


def test_concurrent_consent_statements_leave_one_state_matching_the_latest_history_row():
    """16 threads grant and withdraw two consents of one customer at once: one state row per consent
    (UNIQUE), every statement in the history, and each state equal to the history row it points at."""
    from customers.models import CustomerConsent, CustomerConsentEvent

    services.consent_create({"name": "newsletter"})
    services.consent_create({"name": "sms"})
    customer, _ = services.customer_create_or_update({"source_id": "consenting"})

    def work(index: int) -> None:
        changes = services.clean_consent_changes({"sms": index % 3 == 0, "newsletter": index % 2 == 0})
        services.customer_consents_update(customer, changes)

    assert run_in_threads(work) == []
    states = list(CustomerConsent.objects.filter(customer=customer).select_related("last_event"))
    assert len(states) == 2
    assert all(state.granted == state.last_event.granted and state.last_event.consent_id == state.consent_id
               for state in states)
    assert CustomerConsentEvent.objects.filter(customer=customer).count() == 2 * THREADS

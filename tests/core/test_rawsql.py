"""core.rawsql.WriteChain: dependent inserts and updates in one statement on PostgreSQL, one after another
on SQLite, with the same results on both."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core.rawsql import WriteChain
from customers.models import Customer, CustomerActivity, Order, OrderItem

pytestmark = pytest.mark.django_db


def _order(customer=None, **fields) -> Order:
    return Order(customer=customer, amount=fields.pop("amount", 1000), status=Order.Status.PAID, **fields)


def test_an_order_its_items_and_an_update_that_hangs_on_it():
    ana = Customer.objects.create(source_id="ana")
    chain = WriteChain()
    order = _order(ana, metadata={"channel": "web", "nested": {"a": [1, 2]}})
    ref = chain.insert([order])
    items = [OrderItem(order_id=ref, position=n, quantity=n + 1, price=100 * n, amount=100 * n * (n + 1),
                       metadata={"n": n}) for n in range(3)]
    chain.insert(items)
    chain.execute("UPDATE customers_customer SET orders_total_count = orders_total_count + 5 WHERE id = %s",
                  [ana.pk], when=ref)
    with CaptureQueriesContext(connection) as queries:
        result = chain.run()
    assert len(queries) == (1 if connection.vendor == "postgresql" else 3)
    assert result.inserted(ref) and result.ids(ref) == [order.pk]
    stored = Order.objects.get(pk=order.pk)
    assert stored.public_id == order.public_id and stored.public_id.startswith("ord_")
    assert stored.metadata == {"channel": "web", "nested": {"a": [1, 2]}}
    assert stored.created_at == order.created_at  # auto_now_add filled when queued, stored as is
    assert [(i.position, i.quantity, i.price, i.amount, i.metadata) for i in stored.items.order_by("position")] == [
        (0, 1, 0, 0, {"n": 0}), (1, 2, 100, 200, {"n": 1}), (2, 3, 200, 600, {"n": 2})]
    assert [item.order_id for item in items] == [order.pk] * 3 and all(item.pk for item in items)
    assert Customer.objects.get(pk=ana.pk).orders_total_count == 5
    assert not order._state.adding


def test_a_conflicting_insert_skips_everything_that_hangs_on_it():
    ana = Customer.objects.create(source_id="ana")
    Order.objects.create(source_id="ord-1", amount=10)
    chain = WriteChain()
    order = _order(ana, source_id="ord-1")
    ref = chain.insert([order], ignore_conflicts=True)
    chain.insert([OrderItem(order_id=ref, quantity=1, amount=10)])
    chain.insert([CustomerActivity(customer=ana, type="customer.order.created", data={})], when=ref)
    chain.execute("UPDATE customers_customer SET orders_total_count = 99 WHERE id = %s", [ana.pk], when=ref)
    result = chain.run()
    assert not result.inserted(ref) and order.pk is None
    assert Order.objects.count() == 1 and OrderItem.objects.count() == 0
    assert CustomerActivity.objects.count() == 0
    assert Customer.objects.get(pk=ana.pk).orders_total_count == 0


def test_nulls_and_many_rows_of_one_column_type():
    """Many rows go as one array a column on PostgreSQL; None and empty JSON must survive the casts."""
    chain = WriteChain()
    ref = chain.insert([_order(amount=0, initial_amount=None)])
    items = [OrderItem(order_id=ref, position=n, quantity=1, price=None, amount=0, sku=None, product=None,
                       source_id="", metadata={}) for n in range(40)]
    chain.insert(items)
    chain.run()
    stored = OrderItem.objects.filter(order_id=items[0].order_id)
    assert stored.count() == 40 and {i.price for i in stored} == {None} and {i.sku_id for i in stored} == {None}


def test_select_returns_rows_as_dicts_seen_before_the_chains_writes():
    Customer.objects.create(source_id="ana", name="Ana")
    chain = WriteChain()
    chain.insert([Customer(source_id="ben", name="Ben")])
    read = chain.select("SELECT source_id, name FROM customers_customer ORDER BY source_id")
    result = chain.run()
    rows = result.rows(read)
    if connection.vendor == "postgresql":  # one statement: the SELECT sees the table as it was
        assert rows == [{"source_id": "ana", "name": "Ana"}]
    else:
        assert rows == [{"source_id": "ana", "name": "Ana"}, {"source_id": "ben", "name": "Ben"}]


def test_a_failing_step_leaves_nothing_behind():
    chain = WriteChain()
    ref = chain.insert([_order()])
    chain.insert([OrderItem(order_id=ref, quantity=1, amount=-5)])  # CHECK amount >= 0
    with pytest.raises(IntegrityError), transaction.atomic():
        chain.run()
    assert Order.objects.count() == 0 and OrderItem.objects.count() == 0


def test_nothing_to_insert_is_refused():
    with pytest.raises(ValueError):
        WriteChain().insert([])


def test_values_arrive_exactly_as_the_orm_would_store_them():
    """Text with quotes, backslashes and emoji, JSON scalars and nesting, booleans, big integers, aware
    timestamps with microseconds: the same rows through the chain and through the ORM read back equal."""
    from datetime import UTC, datetime

    ana = Customer.objects.create(source_id="ana")
    tricky = {"note": 'He said "50% off" \\ \u017c\u00f3\u0142w \U0001f600', "n": [1, 2.5, None, True],
              "deep": {"a": {"b": []}}, "big": 10**15}
    when = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    rows = [{"source_id": 'o"1\\x', "amount": 10**15, "metadata": tricky, "ordered_at": when,
             "status": Order.Status.PAID},
            {"source_id": "o2", "amount": 0, "metadata": {}, "ordered_at": None, "status": Order.Status.CREATED}]
    chain = WriteChain()
    chained = [Order(customer=ana, **row) for row in rows]
    for order in chained:
        chain.insert([order])
    chain.insert([CustomerActivity(customer=ana, type="t", data="a JSON string"),
                  CustomerActivity(customer=ana, type="t", data=[1, "two"])])
    chain.run()
    fields = ["source_id", "amount", "metadata", "ordered_at", "status", "customer_id", "counted_amount"]
    for order, row in zip(chained, rows, strict=True):
        stored = Order.objects.values(*fields).get(pk=order.pk)
        via_orm = Order.objects.create(customer=ana, **{**row, "source_id": row["source_id"] + "-orm"})
        expected = Order.objects.values(*fields).get(pk=via_orm.pk)
        assert stored == {**expected, "source_id": row["source_id"]}
    assert sorted(map(str, CustomerActivity.objects.values_list("data", flat=True))) == ["[1, 'two']", "a JSON string"]


def test_rows_hanging_on_different_steps_go_row_by_row():
    existing = Order.objects.create(amount=5)
    chain = WriteChain()
    first, second = chain.insert([_order()]), chain.insert([_order(amount=2000)])
    items = [OrderItem(order_id=first, quantity=1, amount=1), OrderItem(order_id=second, quantity=2, amount=2),
             OrderItem(order_id=existing.pk, quantity=3, amount=3)]
    chain.insert(items)
    result = chain.run()
    orders = [result.ids(first)[0], result.ids(second)[0], existing.pk]
    assert [item.order_id for item in items] == orders
    stored = [(i.order_id, i.quantity) for i in OrderItem.objects.order_by("quantity")]
    assert stored == list(zip(orders, [1, 2, 3], strict=True))


@pytest.mark.postgres
def test_checkout_rows_travel_as_one_json_document():
    """Every model a redemption writes has a JSON form for each field: one without it (a new column of a type
    jsonb_populate_record is not known to read) falls back to a parameter per value, which cost a checkout
    half a millisecond when Redemption gained its `ip` column."""
    from core.rawsql import _plan
    from promo.models import Redemption

    for model in (Order, OrderItem, CustomerActivity, Redemption):
        assert _plan(model, connection).as_json is not None, model

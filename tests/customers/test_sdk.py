"""The official Voucherify Python SDK (6.1.1) against a live server: customers, orders, events."""

from datetime import date

import pytest
import voucherify as v

from customers.models import Customer, CustomEvent, Order

pytestmark = pytest.mark.django_db(transaction=True)


def test_customers_create_get_update_list_delete(sdk_client):
    customers = v.CustomersApi(sdk_client)
    created = customers.create_customer(v.CustomersCreateRequestBody(
        source_id="sdk-1", name="Grace Hopper", email="grace@example.com", birthdate=date(1906, 12, 9),
        address=v.CustomersCreateRequestBodyAddress(city="Arlington", country="US"), metadata={"rank": "admiral"}))
    assert created.id.startswith("cust_") and created.source_id == "sdk-1"
    assert created.birthdate == date(1906, 12, 9) and created.address.city == "Arlington"
    assert created.summary.orders.total_count == 0 and created.summary.redemptions.total_redeemed == 0

    fetched = customers.get_customer("sdk-1")
    assert fetched.id == created.id and fetched.metadata == {"rank": "admiral"}

    updated = customers.update_customer(created.id, v.CustomersUpdateRequestBody(phone="+1 555 0100"))
    assert updated.phone == "+1 555 0100" and updated.name == "Grace Hopper"

    listed = customers.list_customers(limit=10, email="grace@example.com")
    assert [c.id for c in listed.customers] == [created.id] and listed.total == 1

    activity = customers.list_customer_activity(created.id)
    assert [a.type for a in activity.data] == ["customer.updated", "customer.created"]

    customers.delete_customer(created.id)
    with pytest.raises(v.exceptions.NotFoundException):
        customers.get_customer(created.id)
    assert Customer.objects.get(public_id=created.id).deleted_at is not None


def test_customer_from_dict_with_explicit_nulls(sdk_client):
    """from_dict() sends every optional field as null: the server treats them as not given."""
    customers = v.CustomersApi(sdk_client)
    body = v.CustomersCreateRequestBody.from_dict({"source_id": "sdk-null", "name": "Nully", "address": None})
    created = customers.create_customer(body)
    assert created.name == "Nully" and created.email is None


def test_orders_create_get_update_list(sdk_client):
    orders = v.OrdersApi(sdk_client)
    created = orders.create_order(v.OrdersCreateRequestBody(
        source_id="sdk-order-1", status="PAID", customer=v.Customer(source_id="sdk-buyer", name="Buyer"),
        items=[v.OrderItem(source_id="sku-1", related_object="sku", quantity=2, price=1250)],
        metadata={"store": "online"}))
    assert created.id.startswith("ord_") and created.amount == 2500 and created.total_amount == 2500
    assert created.items[0].amount == 2500 and created.customer.id == created.customer_id

    # Resending the order (e.g. a retried webhook) updates it, never duplicates it.
    resent = orders.create_order(v.OrdersCreateRequestBody(source_id="sdk-order-1", status="PAID", amount=2500))
    assert resent.id == created.id and Order.objects.count() == 1

    fetched = orders.get_order("sdk-order-1")
    assert fetched.id == created.id and fetched.metadata == {"store": "online"}

    canceled = orders.update_order(created.id, v.OrdersUpdateRequestBody(status="CANCELED"))
    assert canceled.status == "CANCELED"

    listed = orders.list_orders(limit=5)
    assert [o.id for o in listed.orders] == [created.id] and listed.total == 1

    buyer = v.CustomersApi(sdk_client).get_customer("sdk-buyer")
    assert buyer.summary.orders.total_count == 0  # canceled: no longer counted


def test_track_custom_event(sdk_client):
    events = v.EventsApi(sdk_client)
    result = events.track_custom_event(v.EventsCreateRequestBody(
        event="app_installed", customer=v.Customer(source_id="sdk-eventer", email="ev@example.com"),
        metadata={"platform": "ios"}))
    assert result.object == "event" and result.type == "app_installed"
    assert result.customer.source_id == "sdk-eventer" and result.referral is None
    assert CustomEvent.objects.get().metadata == {"platform": "ios"}


def test_import_csv_through_the_sdk(sdk_client):
    customers = v.CustomersApi(sdk_client)
    answer = customers.import_customers_using_csv(file=b"source_id,name\nimp-1,One\nimp-2,Two\n")
    action = v.AsyncActionsApi(sdk_client).get_async_action(answer.async_action_id)
    assert action.status == "DONE" and action.progress == 100
    assert action.result["done_count"] == 2
    assert customers.get_customer("imp-2").name == "Two"

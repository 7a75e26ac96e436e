"""Refunds to gift cards in the customer-service console: what each order can still refund, a warning before
a second refund of the same order, the staff cap, and refunds waiting for a second person's approval."""

import pytest
from django.test import Client

from backoffice import roles
from giftcards.models import GiftCard, GiftCardTransaction, RefundRequest
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.giftcards.factories import gift_card

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    return CustomerFactory(name="Ada Lovelace", source_id="shop-ada")


@pytest.fixture
def card(customer):
    return gift_card("GC-ADA", 0, holder_id=customer.public_id)


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _refund(client, customer, amount: str, order: str, **extra):
    return client.post(f"/backoffice/customers/{customer.public_id}/refund",
                       {"card": "GC-ADA", "amount": amount, "order": order, "reason": "returned", **extra})


def _balance() -> int:
    return GiftCard.objects.get(voucher__code="GC-ADA").balance


def test_orders_show_what_they_can_still_refund(make_user, customer, card):
    OrderFactory(source_id="ORD-1", customer=customer, amount=3499)
    client = browser(make_user(roles.CUSTOMER_SERVICE, "agent"))
    assert _refund(client, customer, "10.00", "ORD-1").status_code == 302
    page = client.get(f"/backoffice/customers/{customer.public_id}/").content.decode()
    assert "Can still refund" in page
    assert "34.99" in page and "24.99" in page and "10.00 refunded (1×)" in page


def test_a_refund_above_what_the_order_can_refund_is_refused(make_user, customer, card):
    OrderFactory(source_id="ORD-2", customer=customer, amount=3499)
    client = browser(make_user(roles.CUSTOMER_SERVICE, "agent"))
    response = _refund(client, customer, "1000.00", "ORD-2")
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Refund not made" in page and "can refund 3499 more" in page
    assert _balance() == 0


def test_an_unknown_order_is_refused(make_user, customer, card):
    client = browser(make_user(roles.CUSTOMER_SERVICE, "agent"))
    page = client.get(_refund(client, customer, "5.00", "NO-SUCH-ORDER")["Location"]).content.decode()
    assert "Cannot find order with id NO-SUCH-ORDER" in page
    assert _balance() == 0


def test_a_second_refund_of_an_order_asks_first(make_user, customer, card):
    OrderFactory(source_id="ORD-3", customer=customer, amount=5000)
    client = browser(make_user(roles.CUSTOMER_SERVICE, "agent"))
    _refund(client, customer, "20.00", "ORD-3")
    again = _refund(client, customer, "20.00", "ORD-3")
    assert again.status_code == 200
    page = again.content.decode()
    assert 'id="refund-warning"' in page and "Order ORD-3 was refunded before: 20.00 in 1 refund(s)" in page
    assert "it can still refund 30.00" in page and 'name="repeat"' in page and 'value="20.00"' in page
    assert _balance() == 2000
    assert _refund(client, customer, "20.00", "ORD-3", repeat="1").status_code == 302
    assert _balance() == 4000
    assert GiftCardTransaction.objects.filter(kind="refund").count() == 2


def test_customer_service_is_capped(make_user, customer, card, settings):
    settings.CS_REFUND_MAX_AMOUNT = 5000
    OrderFactory(source_id="ORD-4", customer=customer, amount=100_000)
    client = browser(make_user(roles.CUSTOMER_SERVICE, "agent"))
    page = client.get(_refund(client, customer, "50.01", "ORD-4")["Location"]).content.decode()
    assert "above the refund cap of 5000" in page
    assert "At most 50.00 at once" in page
    assert _balance() == 0


def test_a_refund_above_the_threshold_waits_for_a_marketer(make_user, customer, card, settings):
    settings.GIFTCARD_REFUND_APPROVAL_ABOVE = 2000
    OrderFactory(source_id="ORD-5", customer=customer, amount=10_000)
    agent = browser(make_user(roles.CUSTOMER_SERVICE, "agent"))
    page = agent.get(_refund(agent, customer, "30.00", "ORD-5")["Location"]).content.decode()
    assert "waits for approval by a Marketer or Admin" in page
    assert 'id="pending-refunds"' in page and "Approve" not in page  # customer service may not approve
    assert _balance() == 0
    request = RefundRequest.objects.get()
    url = f"/backoffice/customers/{customer.public_id}/refund-requests/{request.public_id}"
    assert agent.post(url, {"decision": "approve"}).status_code == 403
    marketer = browser(make_user(roles.MARKETER, "marketer"))
    assert "Approve" in marketer.get(f"/backoffice/customers/{customer.public_id}/").content.decode()
    done = marketer.get(marketer.post(url, {"decision": "approve"})["Location"]).content.decode()
    assert "approved and made" in done
    assert _balance() == 3000
    request.refresh_from_db()
    assert request.status == "APPROVED" and request.transaction.user.username == "agent"

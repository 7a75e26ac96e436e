"""Staff pages: the in-store till (same engine path as the API), the liability page, the admin move form."""

import pytest
from django.test import Client

from giftcards.models import GiftCard
from promo.models import Redemption
from tests.giftcards.factories import gift_card

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_superuser(username="clerk", email="c@example.com", password="pw")
    client = Client()
    client.force_login(user)
    return client


def test_till_needs_a_staff_login(client):
    response = client.get("/backoffice/gift-cards/till")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_till_shows_the_balance_and_spends_through_the_engine(staff):
    gift_card("GC-STORE", 5000)
    page = staff.get("/backoffice/gift-cards/till", {"code": "GC-STORE"}).content.decode()
    assert "50.00" in page
    response = staff.post("/backoffice/gift-cards/till", {"code": "GC-STORE", "amount": "12.50", "receipt": "R-77"})
    page = response.content.decode()
    assert "Took 12.50 from the card" in page and "37.50" in page
    card = GiftCard.objects.get(voucher__code="GC-STORE")
    assert card.balance == 3750
    spend = card.transactions.get(kind="spend")
    assert spend.actor == "user:clerk" and spend.order_source_id == "R-77"
    parent = Redemption.objects.get(parent__isnull=True, result="SUCCESS")
    assert parent.metadata == {"channel": "in_store", "clerk": "clerk"} and parent.order.source_id == "R-77"


def test_till_refuses_more_than_the_balance_and_bad_input(staff):
    gift_card("GC-STORE2", 1000)
    page = staff.post("/backoffice/gift-cards/till", {"code": "GC-STORE2", "amount": "10.01"}).content.decode()
    assert "more than the card&#x27;s balance" in page
    for amount in ("", "abc", "0", "1.234", "-5"):
        page = staff.post("/backoffice/gift-cards/till", {"code": "GC-STORE2", "amount": amount}).content.decode()
        assert "Enter the amount" in page
    assert "No gift card with code NOPE" in staff.get("/backoffice/gift-cards/till", {"code": "NOPE"}).content.decode()
    assert GiftCard.objects.get(voucher__code="GC-STORE2").balance == 1000


def test_liability_page_has_the_chart(staff):
    gift_card("GC-L1", 5000)
    page = staff.get("/backoffice/gift-cards/liability").content.decode()
    assert '<svg id="chart"' in page and "50.00" in page and "(standalone cards)" in page


def test_admin_move_form_refunds_with_the_order(staff):
    from tests.customers.factories import OrderFactory

    card = gift_card("GC-ADM", 1000)
    OrderFactory(source_id="ORD-9", amount=3000)
    assert staff.get(f"/admin/giftcards/giftcard/{card.pk}/change/").status_code == 200
    url = f"/admin/giftcards/giftcard/{card.pk}/move/"
    assert staff.get(url).status_code == 200
    response = staff.post(url, {"kind": "refund", "amount": "2500", "order": "ORD-9", "reason": "Returned"})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.balance == 3500
    row = card.transactions.get(kind="refund")
    assert row.order_source_id == "ORD-9" and row.actor == "user:clerk"
    bad = staff.post(url, {"kind": "adjustment", "amount": "-99999", "reason": "x"})
    assert bad.status_code == 200 and "less than" in bad.content.decode()
    action = staff.post("/admin/giftcards/giftcard/", {"action": "move_money", "_selected_action": [card.pk]})
    assert action.status_code == 302 and action["Location"].endswith(url)

"""Refunds to gift cards are bounded: by what the order can still refund (its paid amount less earlier refunds),
by the no-order rule for orders the engine does not know, by the staff cap, and above a threshold by a second
person's approval."""

import pytest
from django.db.models import Sum

from backoffice import roles
from core import services as core_services
from core.models import AuditEntry
from giftcards import refunds, selectors
from giftcards.models import GiftCard, GiftCardTransaction, OrderRefund, RefundRequest
from tests.conftest import assert_error
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.giftcards.factories import gift_card
from tests.promo.factories import VoucherFactory

pytestmark = pytest.mark.django_db

Actor = refunds.services.Actor


def _balance(code: str) -> int:
    return GiftCard.objects.get(voucher__code=code).balance


def _refund(api, amount: int, order: str, code: str = "GC-R", **extra):
    return api.post("/v1/gift-cards/refunds", {"amount": amount, "order": order, "voucher": code, **extra})


@pytest.fixture
def staff_user(db):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    def make(role: str, name: str, **extra):
        user = get_user_model().objects.create_user(name, password="pw-123456789", is_staff=True, **extra)
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


# ---------------------------------------------------------------- what the order can still refund

def test_a_refund_is_capped_at_what_the_order_was_paid(api):
    gift_card("GC-R", 0)
    OrderFactory(source_id="ORD-34", amount=3499)
    assert_error(_refund(api, 100_000, "ORD-34"), 400, "refund_exceeds_order")
    OrderFactory(source_id="ORD-5000", amount=5000)
    assert_error(_refund(api, 10**9, "ORD-5000"), 400, "refund_exceeds_order")
    assert _balance("GC-R") == 0 and not GiftCardTransaction.objects.filter(kind="refund").exists()
    assert _refund(api, 3499, "ORD-34").status_code == 201
    assert _balance("GC-R") == 3499


def test_earlier_refunds_count_and_the_answer_says_what_is_left(api):
    gift_card("GC-R", 0)
    order = OrderFactory(source_id="ORD-45", amount=5000, discount_amount=500)
    first = _refund(api, 2000, "ORD-45").json()
    assert first["order"] == {"id": order.public_id, "source_id": "ORD-45", "paid_amount": 4500,
                              "refunded_amount": 2000, "refunds": 1, "refundable_amount": 2500}
    assert _refund(api, 2000, order.public_id).status_code == 201  # by its id as well as its number
    refused = assert_error(_refund(api, 1000, "ORD-45"), 400, "refund_exceeds_order")
    assert "can refund 500 more" in refused["details"]
    assert _refund(api, 500, "ORD-45").json()["order"]["refundable_amount"] == 0
    assert OrderRefund.objects.get(order=order).refunded_amount == 4500 == _balance("GC-R")


def test_gift_card_credits_spent_on_the_order_count_as_paid(api):
    """Order.discount_amount counts gift card credits as a discount; they were paid, with a card."""
    gift_card("GC-PAY", 2000)
    gift_card("GC-R", 0)
    VoucherFactory(code="TENOFF", discount={"type": "AMOUNT", "amount_off": 1000})
    redeemed = api.post("/v1/redemptions", {"redeemables": [{"object": "voucher", "id": "TENOFF"},
                                                            {"object": "voucher", "id": "GC-PAY"}],
                                            "order": {"source_id": "ORD-GC", "amount": 6000}})
    assert redeemed.status_code == 200, redeemed.json()
    order = selectors.find_order("ORD-GC")
    assert order.total_amount == 3000  # 6000 - 1000 off - 2000 of gift card credits
    assert selectors.refundable(order).paid == 5000
    assert_error(_refund(api, 5001, "ORD-GC"), 400, "refund_exceeds_order")
    assert _refund(api, 5000, "ORD-GC").status_code == 201


def test_a_rolled_back_gift_card_spend_is_not_paid_any_more(api):
    gift_card("GC-PAY", 2000)
    redeemed = api.post("/v1/redemptions", {"redeemables": [{"object": "voucher", "id": "GC-PAY"}],
                                            "order": {"source_id": "ORD-RB", "amount": 3000}}).json()
    order = selectors.find_order("ORD-RB")
    assert selectors.refundable(order).paid == 3000
    api.post(f"/v1/redemptions/{redeemed['parent_redemption']['id']}/rollbacks", {})
    assert selectors.refundable(order).paid == 1000  # the order still shows the 2000 as a discount


# ---------------------------------------------------------------- orders the engine does not know

def test_an_unknown_order_is_refused(api):
    gift_card("GC-R", 0)
    assert_error(_refund(api, 100, "NO-SUCH-ORDER", reason="goodwill"), 404, "order_not_found")
    assert _balance("GC-R") == 0


def test_an_unknown_order_within_the_no_order_cap_with_a_reason(api, settings):
    settings.GIFTCARD_REFUND_WITHOUT_ORDER_MAX = 1000
    gift_card("GC-R", 0)
    assert_error(_refund(api, 500, "PAPER-RECEIPT-7"), 400, "invalid_payload")  # no reason
    assert_error(_refund(api, 1001, "PAPER-RECEIPT-7", reason="Paper receipt"), 400, "refund_cap_exceeded")
    made = _refund(api, 1000, "PAPER-RECEIPT-7", reason="Paper receipt")
    assert made.status_code == 201
    body = made.json()
    assert body["order"] is None
    assert body["transaction"]["details"]["order"] == {"id": None, "source_id": "PAPER-RECEIPT-7"}
    assert body["transaction"]["details"]["extra"] == {"order_found": False}
    assert body["transaction"]["reason"] == "Paper receipt"


# ---------------------------------------------------------------- role cap and approval

def test_staff_are_capped_superusers_are_not(staff_user, settings):
    settings.CS_REFUND_MAX_AMOUNT = 2000
    gift_card("GC-R", 0)
    OrderFactory(source_id="ORD-BIG", amount=10_000)
    agent = staff_user(roles.CUSTOMER_SERVICE, "agent")
    with pytest.raises(refunds.RefundCapExceeded, match="CS_REFUND_MAX_AMOUNT"):
        refunds.refund_to_card(amount=2001, order="ORD-BIG", code="GC-R", actor=Actor.of(user=agent))
    refunds.refund_to_card(amount=2000, order="ORD-BIG", code="GC-R", actor=Actor.of(user=agent))
    boss = staff_user(roles.ADMIN, "boss", is_superuser=True)
    refunds.refund_to_card(amount=8000, order="ORD-BIG", code="GC-R", actor=Actor.of(user=boss))
    with pytest.raises(refunds.RefundExceedsOrder):  # the order caps a superuser too
        refunds.refund_to_card(amount=1, order="ORD-BIG", code="GC-R", actor=Actor.of(user=boss))
    assert _balance("GC-R") == 10_000


def test_above_the_threshold_an_api_refund_waits_for_approval(api, issued_key, staff_user, settings):
    settings.GIFTCARD_REFUND_APPROVAL_ABOVE = 1000
    gift_card("GC-R", 0)
    order = OrderFactory(source_id="ORD-AP", amount=5000)
    assert _refund(api, 1000, "ORD-AP").status_code == 201  # at the threshold: made at once
    waiting = api.post("/v1/gift-cards/refunds", {"amount": 1500, "order": "ORD-AP", "voucher": "GC-R",
                                                  "reason": "Damaged parcel"})
    assert waiting.status_code == 202
    body = waiting.json()
    assert body["object"] == "gift_card_refund_request" and body["status"] == "PENDING" and body["amount"] == 1500
    assert _balance("GC-R") == 1000
    request = RefundRequest.objects.get(public_id=body["id"])
    agent = staff_user(roles.CUSTOMER_SERVICE, "agent")
    with pytest.raises(refunds.permissions.Forbidden):
        refunds.decide(request, True, agent)
    marketer = staff_user(roles.MARKETER, "marketer")
    refunds.decide(request, True, marketer, note="ok")
    request.refresh_from_db()
    assert request.status == "APPROVED" and request.decided_by == marketer
    row = request.transaction
    assert row.amount == 1500 and row.api_key_id == issued_key.api_key.pk and row.reason == "Damaged parcel"
    assert row.details["approval"] == {"request": request.public_id, "approved_by": "marketer"}
    assert _balance("GC-R") == 2500 and selectors.refundable(order).left == 2500
    with pytest.raises(refunds.Conflict):  # decided once
        refunds.decide(request, False, marketer)
    assert AuditEntry.objects.filter(object_ref=request.public_id).count() == 2  # submitted, approved


def test_a_requester_does_not_approve_their_own_refund(staff_user, settings):
    settings.GIFTCARD_REFUND_APPROVAL_ABOVE = 1000
    gift_card("GC-R", 0)
    OrderFactory(source_id="ORD-OWN", amount=5000)
    marketer = staff_user(roles.MARKETER, "marketer")
    request = refunds.refund_to_card(amount=3000, order="ORD-OWN", code="GC-R", actor=Actor.of(user=marketer))
    assert isinstance(request, RefundRequest)
    with pytest.raises(refunds.permissions.Forbidden, match="someone other"):
        refunds.decide(request, True, marketer)
    refunds.decide(request, False, staff_user(roles.MARKETER, "other"))
    request.refresh_from_db()
    assert request.status == "REJECTED" and request.transaction is None and _balance("GC-R") == 0


def test_approval_checks_the_order_again(staff_user, settings):
    """Two requests that each fit the order but not together: the second approval is refused and waits."""
    settings.GIFTCARD_REFUND_APPROVAL_ABOVE = 1000
    gift_card("GC-R", 0)
    OrderFactory(source_id="ORD-TWICE", amount=5000)
    agent = staff_user(roles.CUSTOMER_SERVICE, "agent")
    first, second = (refunds.refund_to_card(amount=3000, order="ORD-TWICE", code="GC-R", actor=Actor.of(user=agent))
                     for _ in range(2))
    marketer = staff_user(roles.MARKETER, "marketer")
    refunds.decide(first, True, marketer)
    with pytest.raises(refunds.RefundExceedsOrder):
        refunds.decide(second, True, marketer)
    second.refresh_from_db()
    assert second.status == "PENDING" and _balance("GC-R") == 3000


def test_a_new_card_refund_waiting_for_approval_issues_the_card_when_approved(staff_user, settings):
    settings.GIFTCARD_REFUND_APPROVAL_ABOVE = 1000
    customer = CustomerFactory(source_id="ann")
    OrderFactory(source_id="ORD-NEW", amount=5000, customer=customer)
    agent = staff_user(roles.CUSTOMER_SERVICE, "agent")
    request = refunds.refund_to_card(amount=4000, order="ORD-NEW", customer="ann", actor=Actor.of(user=agent))
    assert not GiftCard.objects.exists()
    refunds.decide(request, True, staff_user(roles.ADMIN, "admin"))
    card = GiftCard.objects.select_related("voucher").get()
    assert card.voucher.holder == customer and card.balance == 4000 and card.origin == "refund"


def test_an_api_key_may_not_approve(api, settings):
    settings.GIFTCARD_REFUND_APPROVAL_ABOVE = 1000
    gift_card("GC-R", 0)
    OrderFactory(source_id="ORD-K", amount=5000)
    request = RefundRequest.objects.get(public_id=_refund(api, 2000, "ORD-K").json()["id"])
    key = core_services.api_key_create(name="other").api_key
    with pytest.raises(refunds.permissions.Forbidden, match="back office"):
        refunds.decide(request, True, key)


def test_ledger_and_counter_agree(api):
    gift_card("GC-R", 0)
    order = OrderFactory(source_id="ORD-SUM", amount=9000)
    for amount in (1000, 2500, 99):
        _refund(api, amount, "ORD-SUM")
    refunded = GiftCardTransaction.objects.filter(kind="refund", order_id=order.public_id).aggregate(
        total=Sum("amount"))["total"]
    assert refunded == OrderRefund.objects.get(order=order).refunded_amount == 3599

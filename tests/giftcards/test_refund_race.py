"""Refunds of one order made at once never together pass what the order was paid. On PostgreSQL, through the
real HTTP stack (live server, threads)."""

from collections import Counter

import pytest
from django.db.models import Sum

from giftcards.models import GiftCard, GiftCardTransaction, OrderRefund
from tests.customers.factories import OrderFactory
from tests.giftcards.factories import gift_card
from tests.promo import test_concurrency as promo_race

http = promo_race.http  # the fixture: POST through a live server with an API key
_parallel = promo_race._parallel
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_32_refunds_of_one_order_at_once_stop_at_its_paid_amount(http):
    for code in ("GC-A", "GC-B"):
        gift_card(code, 0)
    order = OrderFactory(source_id="ORD-RACE", amount=5000, discount_amount=500)  # paid: 4500

    def refund(i: int) -> tuple[int, dict]:
        return http("/v1/gift-cards/refunds", {"amount": 1000, "order": "ORD-RACE",
                                               "voucher": "GC-A" if i % 2 else "GC-B"})

    results = _parallel(32, refund)
    assert Counter(status for status, _ in results) == {201: 4, 400: 28}
    assert {body["key"] for status, body in results if status == 400} == {"refund_exceeds_order"}
    refunded = GiftCardTransaction.objects.filter(kind="refund", order_id=order.public_id).aggregate(
        total=Sum("amount"))["total"]
    assert refunded == OrderRefund.objects.get(order=order).refunded_amount == 4000
    assert sum(GiftCard.objects.values_list("balance", flat=True)) == 4000
    assert http("/v1/gift-cards/refunds", {"amount": 500, "order": "ORD-RACE", "voucher": "GC-A"})[0] == 201

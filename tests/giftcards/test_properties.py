"""Random sequences of movements on one card -- spends through the engine, rollbacks, top-ups, debits,
refunds, temporary credit and its expiry -- against a model: the balance always equals the ledger sum,
never goes negative, and matches what the model expects."""

import itertools
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ApiError
from giftcards import refunds, services
from giftcards.models import GiftCard, GiftCardCredit, GiftCardTransaction
from promo import services as promo_services
from tests.customers.factories import OrderFactory
from tests.giftcards.factories import gift_card

ORDER = {"amount": services.MAX_AMOUNT}  # what one spend can take at most (the order's total)


def movements(amounts):
    return st.lists(st.one_of(
        st.tuples(st.just("spend"), amounts), st.tuples(st.just("spend_all"), st.just(0)),
        st.tuples(st.just("rollback"), st.just(0)), st.tuples(st.just("top_up"), amounts),
        st.tuples(st.just("debit"), amounts), st.tuples(st.just("refund"), amounts),
        st.tuples(st.just("temporary"), amounts), st.tuples(st.just("expire"), st.just(0)),
    ), min_size=1, max_size=30)


_codes = itertools.count()
ACTOR = services.Actor(label="property test", channel="API")


def _check(card: GiftCard, expected: int) -> None:
    card.refresh_from_db()
    ledger = GiftCardTransaction.objects.filter(card=card).aggregate(total=Sum("amount"))["total"]
    temporary = GiftCardCredit.objects.filter(card=card, expired_at__isnull=True).aggregate(
        total=Sum("remaining"))["total"] or 0
    assert card.balance == ledger == expected
    assert card.balance >= 0 and temporary <= card.balance
    assert card.balance == card.amount - card.subtracted_amount - card.redeemed_amount


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=movements(st.integers(1, 400)), start=st.integers(0, 500))
def test_balance_is_the_ledger_sum_and_never_negative(moves, start):
    _play(moves, start)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=movements(st.integers(1, services.MAX_AMOUNT)), start=st.integers(0, services.MAX_AMOUNT))
def test_large_balances_up_to_the_documented_maximum(moves, start):
    """Amounts up to 10^12 a movement (the documented maximum), balances beyond it."""
    _play(moves, start)


def _play(moves, start):
    code = f"PROP-{next(_codes)}"
    card = gift_card(code, start)
    order = OrderFactory(amount=services.MAX_AMOUNT * len(moves))  # refunds are capped by what it was paid
    # The model: balance, temporary buckets [remaining, expired?], spends (parent id, amount, {bucket: part}).
    balance, buckets, spends = start, [], []
    later = timezone.now() + timedelta(hours=1)
    for move, amount in moves:
        live = [b for b in buckets if not b[1]]
        if move in ("spend", "spend_all"):
            redeemable = {"object": "voucher", "id": code}
            if move == "spend":
                redeemable["gift"] = {"credits": amount}
            try:
                answer = promo_services.redeem({"redeemables": [redeemable], "order": ORDER})
            except ApiError as refused:
                assert refused.key == "gift_amount_exceeded"
                assert (move == "spend" and amount > balance) or (move == "spend_all" and balance == 0)
            else:
                assert move == "spend_all" or amount <= balance
                taken = min(amount if move == "spend" else balance, ORDER["amount"])
                balance -= taken
                left, parts = taken, {}
                for bucket in live:  # temporary credit first, earliest first
                    use = min(bucket[0], left)
                    bucket[0] -= use
                    left -= use
                    parts[id(bucket)] = (bucket, use)
                spends.append((answer["parent_redemption"]["id"], taken, parts))
        elif move == "rollback" and spends:
            parent, taken, parts = spends.pop(0)
            promo_services.rollback(parent)
            balance += taken
            for bucket, use in parts.values():
                if bucket[1]:
                    balance -= use  # given back, and expired again at once: its bucket has expired
                else:
                    bucket[0] += use
        elif move == "top_up":
            services.adjust_balance(code, amount, actor=ACTOR, reason="top-up")
            balance += amount
        elif move == "debit":
            try:
                services.adjust_balance(code, -amount, actor=ACTOR, reason="debit")
            except services.GiftAmountExceeded:
                assert amount > balance
            else:
                balance -= amount
                excess = sum(b[0] for b in live) - balance  # beyond the permanent part: temporary, latest first
                for bucket in reversed(live):
                    use = min(bucket[0], max(0, excess))
                    bucket[0] -= use
                    excess -= use
        elif move == "refund":
            refunds.refund_to_card(amount=amount, order=order.source_id, code=code, actor=ACTOR)
            balance += amount
        elif move == "temporary":
            services.add_temporary_credit(code, amount, later, actor=ACTOR, reason="promo")
            balance += amount
            buckets.append([amount, False])
        elif move == "expire":
            removed = services.expire_overdue(card, later + timedelta(seconds=1))
            assert removed == sum(b[0] for b in live)
            balance -= removed
            for bucket in live:
                bucket[0], bucket[1] = 0, True
            later += timedelta(hours=1)
        _check(card, balance)

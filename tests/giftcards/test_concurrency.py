"""Gift card balances under concurrent checkouts, on PostgreSQL, through the real HTTP stack."""

import pytest
from django.db.models import Sum

from giftcards.models import GiftCard, GiftCardReservation, GiftCardTransaction
from promo.models import Redemption
from tests.giftcards.factories import gift_card
from tests.promo import test_concurrency as promo_race

http = promo_race.http  # the fixture: POST through a live server with an API key
_parallel = promo_race._parallel
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CART = {"amount": 5000, "items": [{"source_id": "sku-1", "related_object": "sku", "quantity": 1, "price": 5000}]}


def _ledger_sum(card: GiftCard) -> int:
    return GiftCardTransaction.objects.filter(card=card).aggregate(total=Sum("amount"))["total"]


def test_64_parallel_spends_of_10_against_100(http):
    card = gift_card("GC-RACE", 100)
    body = {"redeemables": [{"object": "voucher", "id": "GC-RACE", "gift": {"credits": 10}}], "order": CART}
    results = _parallel(64, lambda i: http("/v1/redemptions", body))
    statuses = [status for status, _ in results]
    assert statuses.count(200) == 10, statuses
    assert statuses.count(400) == 54
    refused = {payload["key"] for status, payload in results if status == 400}
    assert refused == {"gift_amount_exceeded"}
    card.refresh_from_db()
    assert card.balance == 0 and card.redeemed_amount == 100
    assert _ledger_sum(card) == card.balance == 0
    assert GiftCardTransaction.objects.filter(card=card, kind="spend").count() == 10
    assert Redemption.objects.filter(parent__isnull=True, result="SUCCESS").count() == 10


def test_spends_top_ups_and_rollbacks_racing_reconcile(http):
    card = gift_card("GC-MIX", 1000)
    spend = {"redeemables": [{"object": "voucher", "id": "GC-MIX", "gift": {"credits": 30}}], "order": CART}

    def client(i: int):
        if i % 4 == 0:
            return http("/v1/vouchers/GC-MIX/balance", {"amount": 50, "reason": f"top-up {i}"})
        status, payload = http("/v1/redemptions", spend)
        if status == 200 and i % 3 == 0:
            http(f"/v1/redemptions/{payload['parent_redemption']['id']}/rollbacks", {})
        return status, payload

    results = _parallel(48, client)
    assert all(status in (200, 400) for status, _ in results)
    card.refresh_from_db()
    assert card.balance >= 0
    assert _ledger_sum(card) == card.balance
    assert card.balance == card.amount - card.subtracted_amount - card.redeemed_amount
    spends = GiftCardTransaction.objects.filter(card=card, kind="spend").count()
    rollbacks = GiftCardTransaction.objects.filter(card=card, kind="rollback").count()
    top_ups = GiftCardTransaction.objects.filter(card=card, kind="top_up").count()
    assert card.balance == 1000 + 50 * top_ups - 30 * (spends - rollbacks)


def test_locked_sessions_reserve_credits_that_racing_checkouts_cannot_take(http):
    card = gift_card("GC-SESS", 100)
    body = {"redeemables": [{"object": "voucher", "id": "GC-SESS", "gift": {"credits": 10}}], "order": CART}
    results = _parallel(24, lambda i: http("/v1/validations", {**body, "session": {"type": "LOCK"}}))
    sessions = [payload["session"]["key"] for status, payload in results if status == 200 and payload["valid"]]
    assert len(sessions) == 10, [payload.get("valid") for _, payload in results]
    card.refresh_from_db()
    assert (card.balance, card.locked_amount) == (100, 100)

    # the 10 sessions redeem while 20 checkouts without a session race them: only the sessions succeed
    def client(i: int):
        if i < 10:
            return "session", http("/v1/redemptions", {**body, "session": {"key": sessions[i]}})[0]
        return "other", http("/v1/redemptions", body)[0]

    outcomes = _parallel(30, client)
    assert [s for who, s in outcomes if who == "session"] == [200] * 10
    assert [s for who, s in outcomes if who == "other"] == [400] * 20
    card.refresh_from_db()
    assert (card.balance, card.locked_amount, card.redeemed_amount) == (0, 0, 100)
    assert _ledger_sum(card) == 0
    assert not GiftCardReservation.objects.exists()


def test_a_session_and_its_release_racing_a_redemption_never_double_spend(http):
    card = gift_card("GC-SESS2", 50)
    body = {"redeemables": [{"object": "voucher", "id": "GC-SESS2", "gift": {"credits": 50}}], "order": CART}
    key = http("/v1/validations", {**body, "session": {"type": "LOCK"}})[1]["session"]["key"]

    def client(i: int):
        if i % 2:
            return http("/v1/redemptions", {**body, "session": {"key": key}})[0]
        return http("/v1/redemptions", body)[0]

    statuses = _parallel(16, client)
    assert statuses.count(200) == 1, statuses
    card.refresh_from_db()
    assert (card.balance, card.locked_amount) == (0, 0)
    assert _ledger_sum(card) == 0

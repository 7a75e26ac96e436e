"""Gift card balances under concurrent checkouts, on PostgreSQL, through the real HTTP stack."""

import pytest
from django.db.models import Sum

from giftcards.models import GiftCard, GiftCardTransaction
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

"""Validation sessions (`session: {type: LOCK}`) reserve the gift credits they would spend: another checkout
cannot spend them; the redemption with the session key consumes the reservation; DELETE of the session and
expiry give them back."""

from datetime import timedelta

import pytest
from django.utils import timezone

from giftcards import selectors, services
from giftcards.models import GiftCard, GiftCardReservation
from promo.models import SessionLock
from tests.conftest import assert_error
from tests.giftcards.factories import gift_card
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db
ORDER = {"amount": 10_000}


def _body(code: str, credits: int | None, session: dict | None = None, order: dict = ORDER) -> dict:
    ref = {"object": "voucher", "id": code}
    if credits is not None:
        ref["gift"] = {"credits": credits}
    return {"redeemables": [ref], "order": order, **({"session": session} if session else {})}


def _card(code: str) -> GiftCard:
    return GiftCard.objects.get(voucher__code=code)


def test_a_locked_validation_reserves_its_credits_until_its_redemption(api):
    gift_card("GC-LOCK", 10_000)
    response = api.post("/v1/validations", _body("GC-LOCK", 6000, {"type": "LOCK", "ttl": 1, "ttl_unit": "HOURS"}))
    body = assert_matches_spec(response, "/v1/validations", "post")
    assert body["valid"] is True
    key = body["session"]["key"]
    card = _card("GC-LOCK")
    assert (card.balance, card.locked_amount) == (10_000, 6000)
    reservation = GiftCardReservation.objects.get(card=card)
    assert reservation.session_key == key and reservation.amount == 6000
    # another checkout sees 4000: asking for more is refused, in a validation and in a redemption
    other = api.post("/v1/validations", _body("GC-LOCK", 5000)).json()
    assert other["valid"] is False
    assert other["inapplicable_redeemables"][0]["result"]["error"]["key"] == "gift_amount_exceeded"
    assert_error(api.post("/v1/redemptions", _body("GC-LOCK", 5000)), 400, "gift_amount_exceeded")
    # without gift.credits it pays what is not reserved
    free = api.post("/v1/validations", _body("GC-LOCK", None)).json()
    assert free["redeemables"][0]["result"]["gift"]["credits"] == 4000
    assert api.post("/v1/redemptions", _body("GC-LOCK", 4000)).status_code == 200
    # the session's own redemption consumes its reservation
    own = api.post("/v1/redemptions", _body("GC-LOCK", 6000, {"key": key, "type": "LOCK"}))
    assert own.status_code == 200, own.content
    card.refresh_from_db()
    assert (card.balance, card.locked_amount, card.redeemed_amount) == (0, 0, 10_000)
    assert not GiftCardReservation.objects.exists()
    spend = card.transactions.filter(kind="spend").order_by("-id").first()
    assert spend.details["reserved"] == {"session_key": key, "amount": 6000}
    assert selectors.reconciliation()["reconciled"]


def test_the_session_may_spend_more_than_it_reserved_if_the_rest_is_free(api):
    gift_card("GC-MORE", 10_000)
    key = api.post("/v1/validations", _body("GC-MORE", 3000, {"type": "LOCK"})).json()["session"]["key"]
    ok = api.post("/v1/redemptions", _body("GC-MORE", 5000, {"key": key}))
    assert ok.status_code == 200, ok.content
    card = _card("GC-MORE")
    assert (card.balance, card.locked_amount) == (5000, 0)


def test_revalidating_the_session_replaces_its_reservation(api):
    gift_card("GC-RE", 10_000)
    key = api.post("/v1/validations", _body("GC-RE", 3000, {"type": "LOCK"})).json()["session"]["key"]
    again = api.post("/v1/validations", _body("GC-RE", 8000, {"type": "LOCK", "key": key})).json()
    assert again["valid"] is True and again["session"]["key"] == key
    assert _card("GC-RE").locked_amount == 8000
    smaller = api.post("/v1/validations", _body("GC-RE", 1000, {"type": "LOCK", "key": key})).json()
    assert smaller["valid"] is True
    assert _card("GC-RE").locked_amount == 1000
    assert GiftCardReservation.objects.get().amount == 1000


def test_a_second_session_cannot_reserve_what_the_first_holds(api):
    gift_card("GC-TWO", 10_000)
    assert api.post("/v1/validations", _body("GC-TWO", 7000, {"type": "LOCK"})).json()["valid"] is True
    second = api.post("/v1/validations", _body("GC-TWO", 4000, {"type": "LOCK"})).json()
    assert second["valid"] is False and "session" not in second
    assert second["inapplicable_redeemables"][0]["result"]["error"]["key"] == "gift_amount_exceeded"
    assert _card("GC-TWO").locked_amount == 7000
    assert GiftCardReservation.objects.count() == 1
    assert SessionLock.objects.count() == 0  # an unlimited voucher: no use to reserve


def test_delete_of_the_session_releases_the_credits(api):
    gift_card("GC-FREE", 5000)
    key = api.post("/v1/validations", _body("GC-FREE", 5000, {"type": "LOCK"})).json()["session"]["key"]
    assert_error(api.post("/v1/redemptions", _body("GC-FREE", 100)), 400, "gift_amount_exceeded")
    assert api.delete(f"/v1/vouchers/GC-FREE/sessions/{key}").status_code == 204
    assert _card("GC-FREE").locked_amount == 0
    assert api.post("/v1/redemptions", _body("GC-FREE", 5000)).status_code == 200
    assert_error(api.delete(f"/v1/vouchers/GC-FREE/sessions/{key}"), 404, "not_found")


def test_expired_reservations_are_released_lazily_and_by_the_job(api):
    gift_card("GC-EXP", 5000)
    gift_card("GC-EXP2", 5000)
    for code in ("GC-EXP", "GC-EXP2"):
        api.post("/v1/validations", _body(code, 5000, {"type": "LOCK", "ttl": 1, "ttl_unit": "MINUTES"}))
    GiftCardReservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    # a checkout finds the expired reservation and frees it first
    assert api.post("/v1/redemptions", _body("GC-EXP", 5000)).status_code == 200
    assert _card("GC-EXP").locked_amount == 0
    assert services.expire_credits()["reservations_released"] == 1
    assert _card("GC-EXP2").locked_amount == 0 and not GiftCardReservation.objects.exists()


def test_an_expired_session_cannot_consume_a_reservation_it_lost(api):
    gift_card("GC-LATE", 5000)
    key = api.post("/v1/validations", _body("GC-LATE", 5000, {"type": "LOCK"})).json()["session"]["key"]
    GiftCardReservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    api.post("/v1/redemptions", _body("GC-LATE", 4000))  # another checkout takes 4000 once it is free
    assert_error(api.post("/v1/redemptions", _body("GC-LATE", 5000, {"key": key})), 400, "gift_amount_exceeded")


def test_a_debit_by_staff_may_eat_into_a_reservation(api):
    gift_card("GC-DEBIT", 5000)
    key = api.post("/v1/validations", _body("GC-DEBIT", 4000, {"type": "LOCK"})).json()["session"]["key"]
    assert api.post("/v1/vouchers/GC-DEBIT/balance", {"amount": -3000, "reason": "fraud"}).status_code == 200
    assert_error(api.post("/v1/redemptions", _body("GC-DEBIT", 4000, {"key": key})), 400, "gift_amount_exceeded")
    assert api.post("/v1/redemptions", _body("GC-DEBIT", 2000, {"key": key})).status_code == 200
    card = _card("GC-DEBIT")
    assert (card.balance, card.locked_amount) == (0, 0)

"""Temporary credit and its expiry job, expiry law at issue, birthday cards, bulk issue with CSV."""

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from core.models import AsyncAction
from giftcards import services, tasks
from giftcards.models import BirthdayGift, ExpiryLaw, GiftCard, GiftCardCredit
from promo import services as promo_services
from tests.conftest import assert_error
from tests.customers.factories import CustomerFactory
from tests.giftcards.factories import gift_campaign, gift_card

pytestmark = pytest.mark.django_db
ACTOR = services.Actor(label="test", channel="API")


def _spend(code: str, credits: int):
    return promo_services.redeem({"redeemables": [{"object": "voucher", "id": code, "gift": {"credits": credits}}],
                                  "order": {"amount": 100_000}})


def test_temporary_credit_is_spent_first_and_expires_with_a_ledger_row():
    card = gift_card("GC-T", 5000)
    midnight = timezone.now() + timedelta(hours=3)
    services.add_temporary_credit("GC-T", 1000, midnight, actor=ACTOR, reason="Sorry for the wait")
    card.refresh_from_db()
    assert card.balance == 6000
    _spend("GC-T", 600)
    bucket = GiftCardCredit.objects.get(card=card)
    assert bucket.remaining == 400
    spend = card.transactions.get(kind="spend")
    assert spend.temporary_amount == -600 and spend.details == {"credits": {str(bucket.pk): 600}}
    assert services.expire_credits(now=timezone.now())["removed"] == 0  # not yet
    result = services.expire_credits(now=midnight + timedelta(seconds=1))
    assert result == {"buckets": 1, "removed": 400, "reservations_released": 0}
    card.refresh_from_db()
    assert card.balance == 5000 and card.subtracted_amount == 400
    expiry = card.transactions.get(kind="expiry")
    assert expiry.amount == -400 and expiry.balance_after == 5000 and expiry.credit_id == bucket.pk
    assert "expired" in expiry.reason
    assert services.expire_credits(now=midnight + timedelta(days=1))["removed"] == 0  # once


def test_overdue_temporary_credit_cannot_be_spent_before_the_job_runs():
    gift_card("GC-T2", 0)
    soon = timezone.now() + timedelta(seconds=30)
    services.add_temporary_credit("GC-T2", 1000, soon, actor=ACTOR)
    card = GiftCard.objects.get(voucher__code="GC-T2")
    assert services.spendable(card, soon + timedelta(seconds=1)) == 0
    assert services.spendable(card, soon - timedelta(seconds=1)) == 1000


def test_the_beat_job_runs_the_service():
    gift_card("GC-T3", 0)
    services.add_temporary_credit("GC-T3", 700, timezone.now() + timedelta(seconds=1), actor=ACTOR)
    GiftCardCredit.objects.filter(card__voucher__code="GC-T3").update(expires_at=timezone.now() - timedelta(1))
    assert tasks.expire_credits.delay().get() == {"buckets": 1, "removed": 700, "reservations_released": 0}


def test_temporary_credit_needs_a_future_expiry():
    gift_card("GC-T4", 0)
    with pytest.raises(services.InvalidPayload):
        services.add_temporary_credit("GC-T4", 100, timezone.now() - timedelta(1), actor=ACTOR)


def test_expiry_law_no_expiry_and_minimum_validity(api):
    ExpiryLaw.objects.create(country="US-CA", aliases="California", no_expiry=True, note="Cal. Civ. Code 1749.5")
    ExpiryLaw.objects.create(country="DE", min_validity_years=3, note="BGB 195")
    CustomerFactory(source_id="cal", address_country="California")
    CustomerFactory(source_id="ger", address_country="de")
    CustomerFactory(source_id="fra", address_country="FR")
    ends = (timezone.now() + timedelta(days=365)).replace(microsecond=0)
    for code, holder in (("GC-CA", "cal"), ("GC-DE", "ger"), ("GC-FR", "fra")):
        response = api.post("/v1/vouchers", {"type": "GIFT_VOUCHER", "code": code, "gift": {"amount": 1000},
                                             "holder_id": holder, "expiration_date": ends.isoformat()})
        assert response.status_code == 201, response.json()
    ca = GiftCard.objects.select_related("voucher").get(voucher__code="GC-CA")
    assert ca.voucher.expiration_date is None and ca.law_sets_expiry
    assert "never expires" in ca.expiry_rule and "1749.5" in ca.expiry_rule
    de = GiftCard.objects.select_related("voucher").get(voucher__code="GC-DE")
    assert de.voucher.expiration_date.year == timezone.now().year + 3
    assert "at least 3 years" in de.expiry_rule
    fr = GiftCard.objects.select_related("voucher").get(voucher__code="GC-FR")
    assert fr.voucher.expiration_date == ends and not fr.law_sets_expiry
    assert "No expiry law" in fr.expiry_rule
    assert api.get("/v1/vouchers/GC-CA").json().get("expiration_date") is None


def test_law_overrides_the_campaign_end_for_the_holders_card():
    ExpiryLaw.objects.create(country="US-CA", no_expiry=True)
    campaign = gift_campaign("Short campaign", amount=1000,
                             expiration_date=(timezone.now() + timedelta(days=1)).isoformat())
    customer = CustomerFactory(source_id="cal2", address_country="US-CA")
    card = services.new_card_for(customer, campaign=campaign.public_id, origin="test", actor=ACTOR)
    from promo.models import Campaign
    Campaign.objects.filter(pk=campaign.pk).update(expiration_date=timezone.now() - timedelta(days=1))
    assert card.law_sets_expiry
    _spend(card.voucher.code, 100)  # the campaign has ended, the law keeps the card valid
    card.refresh_from_db()
    assert card.balance == 900


def test_birthday_cards_once_a_year(django_capture_on_commit_callbacks):
    gift_campaign("Birthdays", amount=1500, metadata={"birthday": True})
    today = date(2025, 6, 1)
    ann = CustomerFactory(source_id="ann", birthdate=date(1990, 6, 1))
    CustomerFactory(source_id="bob", birthdate=date(1990, 6, 2))
    leap = CustomerFactory(source_id="leap", birthdate=date(2000, 2, 29))
    assert services.issue_birthday_cards(today)["issued"] == 1
    assert services.issue_birthday_cards(today)["issued"] == 0  # a rerun issues nothing twice
    gift = BirthdayGift.objects.get(customer=ann)
    assert gift.card.balance == 1500 and gift.card.voucher.holder_id == ann.pk and gift.card.origin == "birthday"
    assert services.issue_birthday_cards(date(2026, 6, 1))["issued"] == 1  # next year: again
    assert services.issue_birthday_cards(date(2025, 2, 28))["issued"] == 1  # 29 Feb birthdays on the 28th
    assert BirthdayGift.objects.filter(customer=leap).count() == 1


def test_birthday_job_without_a_campaign_does_nothing():
    CustomerFactory(birthdate=timezone.localdate())
    assert tasks.issue_birthday_cards.delay().get()["issued"] == 0


def test_bulk_issue_for_a_partner_with_progress_and_csv(api, django_capture_on_commit_callbacks):
    campaign = gift_campaign("Partner sale", amount=5000)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/v1/gift-cards/bulk-issues", {"campaign": campaign.public_id, "count": 30,
                                                           "sold_price": 4000, "partner": "ACME",
                                                           "label": "Summer fair"})
    assert response.status_code == 202, response.json()
    action_id = response.json()["async_action_id"]
    action = AsyncAction.objects.get(public_id=action_id)
    assert action.status == "DONE" and action.progress == 100 and action.processed == 30
    cards = GiftCard.objects.filter(voucher__metadata__gift_batch=action_id)
    assert cards.count() == 30 and {c.sold_price for c in cards} == {4000} and {c.balance for c in cards} == {5000}
    assert api.get(f"/v1/async-actions/{action_id}").json()["status"] == "DONE"
    export = api.client.get(response.json()["export_url"], headers=api.headers)
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert export["Content-Disposition"] == f'attachment; filename="{action_id}-gift-cards.csv"'
    assert lines[0] == "code,id,amount,balance,sold_price,expiration_date,partner,label,created_at"
    assert len(lines) == 31 and lines[1].split(",")[2:5] == ["5000", "5000", "4000"] and "ACME" in lines[1]
    liability = api.get("/v1/gift-cards/liability").json()
    assert liability["sold_total"] == 120_000 and liability["face_value_total"] == 150_000
    assert liability["discount_on_sale_total"] == 30_000


@pytest.mark.parametrize("batch_id", ["aa_nope", "a%0Ab", "a%0D%0ASet-Cookie:%20x=1", "%22%3B"])
def test_export_of_a_batch_that_does_not_exist_is_404(api, batch_id):
    assert_error(api.get(f"/v1/gift-cards/batches/{batch_id}/export.csv"), 404, "not_found")


def test_export_of_another_kind_of_async_action_is_404(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        action_id = api.post("/v1/customers/metadata/async", {"source_ids": ["x"], "metadata": {"a": 1}}).json()[
            "async_action_id"]
    assert_error(api.get(f"/v1/gift-cards/batches/{action_id}/export.csv"), 404, "not_found")


def test_bulk_issue_checks(api):
    coupons = api.post("/v1/campaigns", {"name": "Coupons", "voucher": {"discount": {"type": "AMOUNT",
                                                                                      "amount_off": 5}}}).json()
    gift = gift_campaign("Gifts", amount=5000)
    for body in ({"campaign": coupons["id"], "count": 2}, {"campaign": gift.public_id, "count": 0},
                 {"campaign": gift.public_id, "count": 2, "sold_price": 6000}):
        response = api.post("/v1/gift-cards/bulk-issues", body)
        assert response.status_code == 400, (body, response.json())
    assert api.post("/v1/gift-cards/bulk-issues", {"campaign": "nope", "count": 1}).status_code == 404


def test_ledger_rows_are_immutable():
    card = gift_card("GC-IMM", 100)
    row = card.transactions.get()
    row.amount = 1_000_000
    with pytest.raises(TypeError):
        row.save()
    with pytest.raises(TypeError):
        row.delete()
    with pytest.raises(TypeError):
        card.transactions.update(amount=5)


def test_staff_adjustment_needs_a_reason():
    card = gift_card("GC-ADJ", 100)
    with pytest.raises(services.InvalidPayload):
        services.staff_adjustment(card, 50, actor=ACTOR, reason="  ")
    row = services.staff_adjustment(card, -50, actor=ACTOR, reason="Miscounted")
    assert row.kind == "adjustment" and row.balance_after == 50


def test_the_law_explains_itself_for_a_date_boundary():
    law = ExpiryLaw(country="X", min_validity_years=2)
    issued = datetime(2024, 2, 29, tzinfo=timezone.get_current_timezone())
    when, text, overrides = services.expiry_under_law(law, issued, issued + timedelta(days=10))
    assert when.date() == date(2026, 2, 28) and overrides and "2026-02-28" in text

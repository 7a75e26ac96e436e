"""The expiry a gift card shows is the one redemptions enforce (an expiry law may replace the campaign's
end), with the law's explanation; and the breakage job writing off the balance of expired cards."""

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from giftcards import selectors, services, tasks
from giftcards.models import ExpiryLaw, GiftCard, GiftCardCredit
from promo import services as promo_services
from promo.models import Campaign, Voucher
from tests.customers.factories import CustomerFactory
from tests.giftcards.factories import gift_campaign, gift_card
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db
ACTOR = services.Actor(label="test", channel="API")


def _spend(code: str, credits: int):
    return promo_services.redeem({"redeemables": [{"object": "voucher", "id": code, "gift": {"credits": credits}}],
                                  "order": {"amount": 100_000}})


def _card(code: str) -> GiftCard:
    return GiftCard.objects.select_related("voucher", "voucher__campaign").get(voucher__code=code)


def _expire_campaign(campaign, days_ago: int) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(expiration_date=timezone.now() - timedelta(days=days_ago))


@pytest.fixture
def laws():
    ExpiryLaw.objects.create(country="US-CA", aliases="California", no_expiry=True, note="Cal. Civ. Code 1749.5")
    ExpiryLaw.objects.create(country="DE", min_validity_years=3, note="BGB 195")


def test_a_card_the_law_says_never_expires_shows_no_expiration_date(api, laws):
    ends = timezone.now() + timedelta(days=30)
    campaign = gift_campaign("Spring cards", amount=2000, expiration_date=ends.isoformat())
    CustomerFactory(source_id="cal", address_country="California")
    created = api.post(f"/v1/campaigns/{campaign.public_id}/vouchers", {"holder_id": "cal"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["expiration_date"] is None  # not the campaign's end: the law forbids expiry
    code = body["code"]
    response = api.get(f"/v1/vouchers/{code}")
    body = assert_matches_spec(response, "/v1/vouchers/{code}", "get")
    assert body["expiration_date"] is None
    law = body["gift"]["expiry_law"]
    assert law["country"] == "California" and law["overrides_campaign_expiration"] is True
    assert "never expires" in law["explanation"] and "1749.5" in law["explanation"]
    # the list shows the same, and what is shown is what is enforced: the campaign ends, the card still pays
    listed = api.get("/v1/vouchers", campaign_id=campaign.public_id).json()["vouchers"]
    assert [v["expiration_date"] for v in listed] == [None]
    _expire_campaign(campaign, 1)
    assert api.get(f"/v1/vouchers/{code}").json()["expiration_date"] is None
    _spend(code, 500)
    assert _card(code).balance == 1500


def test_minimum_validity_shows_the_moved_date_and_no_law_keeps_the_campaigns(api, laws):
    ends = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    campaign = gift_campaign("Short cards", amount=2000, expiration_date=ends.isoformat())
    CustomerFactory(source_id="ger", address_country="DE")
    CustomerFactory(source_id="fra", address_country="FR")
    german = api.post(f"/v1/campaigns/{campaign.public_id}/vouchers", {"holder_id": "ger"}).json()
    french = api.post(f"/v1/campaigns/{campaign.public_id}/vouchers", {"holder_id": "fra"}).json()
    shown = api.get(f"/v1/vouchers/{german['code']}").json()
    assert shown["expiration_date"].startswith(str(timezone.now().year + 3))
    assert "at least 3 years" in shown["gift"]["expiry_law"]["explanation"]
    assert shown["gift"]["expiry_law"]["overrides_campaign_expiration"] is True
    fr = api.get(f"/v1/vouchers/{french['code']}").json()
    assert fr["expiration_date"] == ends.isoformat().replace("+00:00", "Z")
    assert fr["gift"]["expiry_law"]["overrides_campaign_expiration"] is False
    # enforced as shown: after the campaign's end the German card pays, the French one is refused
    _expire_campaign(campaign, 1)
    _spend(german["code"], 100)
    with pytest.raises(promo_services.RedemptionFailed) as refused:
        _spend(french["code"], 100)
    assert refused.value.key == "voucher_expired"


def test_a_card_without_holder_has_no_law_field_and_the_spec_shape(api):
    gift_card("GC-PLAIN", 1000)
    body = api.get("/v1/vouchers/GC-PLAIN").json()
    assert body["gift"] == {"amount": 1000, "subtracted_amount": 0, "balance": 1000, "effect": "APPLY_TO_ORDER"}


def test_the_sdk_reads_a_never_expiring_card(laws, sdk_client):
    import voucherify as v

    campaign = gift_campaign("SDK law", amount=1000, expiration_date=(timezone.now() + timedelta(days=3)).isoformat())
    customer = CustomerFactory(source_id="cal-sdk", address_country="US-CA")
    card = services.new_card_for(customer, campaign=campaign.public_id, origin="test", actor=ACTOR)
    fetched = v.VouchersApi(sdk_client).get_voucher(card.voucher.code)
    assert fetched.expiration_date is None and fetched.gift.balance == 1000


def test_admin_and_till_show_the_enforced_expiry_and_the_law(laws, django_user_model):
    campaign = gift_campaign("Admin law", amount=1000, expiration_date=(timezone.now() + timedelta(days=3)).isoformat())
    customer = CustomerFactory(source_id="cal-adm", address_country="US-CA")
    card = services.new_card_for(customer, campaign=campaign.public_id, origin="test", actor=ACTOR)
    staff = Client()
    staff.force_login(django_user_model.objects.create_superuser(username="boss", email="b@example.com", password="p"))
    page = staff.get(f"/admin/giftcards/giftcard/{card.pk}/change/").content.decode()
    assert "Never" in page and "never expires" in page and "1749.5" in page
    listing = staff.get("/admin/giftcards/giftcard/").content.decode()
    assert "expiry law" in listing
    till = staff.get("/backoffice/gift-cards/till", {"code": card.voucher.code}).content.decode()
    assert "Does not expire" in till and "never expires" in till


# ---------------------------------------------------------------- write-off of expired cards

def test_write_off_is_disabled_by_default(settings):
    assert settings.GIFTCARD_EXPIRY_WRITE_OFF_DAYS == 0
    campaign = gift_campaign("Old", amount=1000)
    services.new_card_for(CustomerFactory(source_id="x"), campaign=campaign.public_id, origin="t", actor=ACTOR)
    _expire_campaign(campaign, 400)
    assert services.write_off_expired()["cards"] == 0
    assert GiftCard.objects.get().balance == 1000
    assert "giftcards-write-off-expired" in settings.CELERY_BEAT_SCHEDULE


def test_write_off_after_the_grace_period_never_where_the_law_forbids(settings, laws):
    settings.GIFTCARD_EXPIRY_WRITE_OFF_DAYS = 30
    campaign = gift_campaign("Expired", amount=5000, expiration_date=(timezone.now() + timedelta(days=1)).isoformat())
    plain = gift_card("GC-OLD", 4000, campaign_id=campaign.public_id)
    services.add_temporary_credit("GC-OLD", 300, timezone.now() + timedelta(days=1), actor=ACTOR)
    _spend("GC-OLD", 1000)  # 3300 left, 0 of it temporary credit
    services.add_temporary_credit("GC-OLD", 200, timezone.now() + timedelta(days=1), actor=ACTOR)  # 3500
    recent = gift_card("GC-RECENT", 700)
    Voucher.objects.filter(pk=recent.pk).update(expiration_date=timezone.now() - timedelta(days=10))  # in grace
    # a Californian card issued before the law was recorded: the law now forbids writing it off
    ExpiryLaw.objects.filter(country="US-CA").update(country="US-CA-later")
    californian = services.new_card_for(CustomerFactory(source_id="cal3", address_country="US-CA"),
                                        campaign=campaign.public_id, origin="t", actor=ACTOR)
    ExpiryLaw.objects.filter(country="US-CA-later").update(country="US-CA")
    _expire_campaign(campaign, 31)
    result = tasks.write_off_expired.delay().get()
    assert result == {"cards": 1, "written_off": 3500, "skipped_by_law": 1, "grace_days": 30}
    plain.refresh_from_db()
    assert (plain.balance, plain.subtracted_amount, plain.locked_amount) == (0, 3500, 0)
    row = plain.transactions.get(kind="expiry")
    assert row.amount == -3500 and row.balance_after == 0 and row.temporary_amount == -200
    assert row.details["write_off"] is True and row.actor == "system:write_off_expired"
    assert "written off after 30 days' grace" in row.reason
    assert not GiftCardCredit.objects.filter(card=plain, expired_at__isnull=True).exists()
    assert GiftCard.objects.get(pk=recent.pk).balance == 700
    assert GiftCard.objects.get(pk=californian.pk).balance == 5000
    assert services.write_off_expired()["cards"] == 0  # once
    report = selectors.liability()
    assert report["written_off_total"] == 3500 and report["removed_total"] == 3500
    row = next(r for r in report["by_campaign"] if r["campaign_id"] == campaign.public_id)
    assert row["written_off_amount"] == 3500
    assert selectors.reconciliation()["reconciled"]
    assert plain.transactions.aggregate(total=Sum("amount"))["total"] == 0


def test_liability_counts_law_cards_as_not_expired_and_the_page_shows_write_offs(api, laws, settings,
                                                                                django_user_model):
    campaign = gift_campaign("Ended", amount=1000, expiration_date=(timezone.now() + timedelta(days=1)).isoformat())
    services.new_card_for(CustomerFactory(source_id="cal4", address_country="US-CA"), campaign=campaign.public_id,
                          origin="t", actor=ACTOR)
    gift_card("GC-ENDED", 600, campaign_id=campaign.public_id)
    _expire_campaign(campaign, 5)
    report = api.get("/v1/gift-cards/liability").json()
    assert report["expired_outstanding_balance"] == 600  # the Californian card never expires
    assert {m["month"]: m["outstanding_balance"] for m in report["by_expiry_month"]}[None] == 1000
    assert services.write_off_expired(grace_days=1)["written_off"] == 600
    assert api.get("/v1/gift-cards/liability").json()["written_off_total"] == 600
    staff = Client()
    staff.force_login(django_user_model.objects.create_superuser(username="acc", email="a@example.com", password="p"))
    page = staff.get("/backoffice/gift-cards/liability").content.decode()
    assert 'id="written-off">6.00' in page


def test_the_data_migration_adds_the_law_to_cards_issued_before(laws):
    import importlib

    from django.apps import apps

    campaign = gift_campaign("Before", amount=1000, expiration_date=(timezone.now() + timedelta(days=3)).isoformat())
    card = services.new_card_for(CustomerFactory(source_id="cal5", address_country="US-CA"),
                                 campaign=campaign.public_id, origin="t", actor=ACTOR)
    old_gift = {k: v for k, v in card.voucher.gift.items() if k != "expiry_law"}
    Voucher.objects.filter(pk=card.pk).update(gift=old_gift)
    from promo.campaigns import voucher_expiration
    assert voucher_expiration(Voucher.objects.get(pk=card.pk)) is not None  # the bug: the campaign's end
    importlib.import_module("giftcards.migrations.0003_show_expiry_laws").show_expiry_laws(apps, None)
    voucher = Voucher.objects.get(pk=card.pk)
    assert voucher.gift["expiry_law"]["overrides_campaign_expiration"] is True
    assert voucher_expiration(voucher) is None

"""CSV import of gift cards into a GIFT_VOUCHERS campaign: POST /v1/campaigns/{id}/importCSV (the spec's
endpoint) and the admin's Import CSV, an async action with progress and per-row errors; each card issued
through the same services (an issue row in its ledger, the holder's expiry law)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from core.models import AsyncAction
from giftcards import selectors
from giftcards.models import ExpiryLaw, GiftCard
from tests.conftest import assert_error
from tests.customers.factories import CustomerFactory
from tests.giftcards.factories import gift_campaign, gift_card
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

CSV = ("Code,Gift Amount,Holder,Email,Sold Price,partner,metadata\n"
       "GC-IMP-1,5000,anna,,4500,acme,\"{\"\"tier\"\": 2}\"\n"
       "GC-IMP-2,,,bob@example.com,,\n"
       "GC-IMP-3,abc,,,,\n"
       "GC-TAKEN,1000,,,,\n"
       "GC-IMP-4,1000,nobody,,,\n"
       "GC-IMP-5,1000,,,2000,\n"
       "GC-IMP-1,1000,,,,\n"
       "\n"
       "GC-IMP-6,250,,,,\n")


def _upload(api, path: str, text: str, capture):
    with capture(execute=True):
        response = api.client.post(path, {"file": SimpleUploadedFile("cards.csv", text.encode(), "text/csv")},
                                   headers=api.headers)
    return response


def test_import_csv_into_a_gift_campaign(api, django_capture_on_commit_callbacks):
    ExpiryLaw.objects.create(country="US-CA", no_expiry=True)
    campaign = gift_campaign("Partner cards", amount=3000,
                             expiration_date=(timezone.now() + timezone.timedelta(days=30)).isoformat())
    CustomerFactory(source_id="anna", address_country="US-CA")
    CustomerFactory(source_id="bob", email="Bob@Example.com")
    gift_card("GC-TAKEN", 100)
    response = _upload(api, f"/v1/campaigns/{campaign.public_id}/importCSV", CSV, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.content
    assert_matches_spec(response, "/v1/campaigns/{campaignId}/importCSV", "post")
    action = AsyncAction.objects.get(public_id=response.json()["async_action_id"])
    assert action.type == "GIFT_CARDS_IMPORT" and action.status == "DONE" and action.progress == 100
    result = action.result
    assert result["done_count"] == 3 and result["failed_count"] == 5
    errors = {e["row"]: (e["code"], e["message"]) for e in result["errors"]}
    assert set(errors) == {4, 5, 6, 7, 8}
    assert "whole number" in errors[4][1]
    assert "already exists" in errors[5][1].lower() or "duplicate" in errors[5][1].lower()
    assert "nobody" in errors[6][1]
    assert "above the face value" in errors[7][1]
    assert errors[8][0] == "GC-IMP-1"
    one = GiftCard.objects.select_related("voucher").get(voucher__code="GC-IMP-1")
    assert (one.face_value, one.sold_price, one.balance, one.origin) == (5000, 4500, 5000, "import")
    assert one.voucher.holder.source_id == "anna" and one.voucher.campaign_id == campaign.pk
    assert one.voucher.metadata == {"tier": 2, "partner": "acme"}
    assert one.law_sets_expiry and one.voucher.expiration_date is None  # the holder's law applied
    issue = one.transactions.get()
    assert (issue.kind, issue.amount) == ("issue", 5000)
    assert issue.actor == f"import:{action.public_id}" and issue.reason == f"CSV import {action.public_id}"
    assert issue.details == {"sold_price": 4500}
    two = GiftCard.objects.select_related("voucher").get(voucher__code="GC-IMP-2")
    assert two.face_value == 3000 and two.voucher.holder.source_id == "bob"  # the campaign's value
    assert GiftCard.objects.get(voucher__code="GC-IMP-6").balance == 250
    assert selectors.reconciliation()["reconciled"]
    status = api.get(f"/v1/async-actions/{action.public_id}").json()
    assert status["status"] == "DONE" and status["result"]["done_count"] == 3


def test_import_checks_the_header_at_once(api, django_capture_on_commit_callbacks):
    campaign = gift_campaign("Header", amount=1000)
    response = _upload(api, f"/v1/campaigns/{campaign.public_id}/importCSV", "amount\n100\n",
                       django_capture_on_commit_callbacks)
    assert_error(response, 400, "invalid_csv")
    assert not AsyncAction.objects.exists()


def test_admin_import_button_and_status_page(django_user_model, django_capture_on_commit_callbacks):
    campaign = gift_campaign("Admin import", amount=1000)
    staff = Client()
    staff.force_login(django_user_model.objects.create_superuser(username="imp", email="i@example.com", password="p"))
    assert 'id="import-gift-cards"' in staff.get("/admin/giftcards/giftcard/").content.decode()
    assert staff.get("/admin/giftcards/giftcard/import/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post("/admin/giftcards/giftcard/import/", {
            "campaign": campaign.pk,
            "file": SimpleUploadedFile("c.csv", b"code,amount\nGC-ADM-1,700\nGC-ADM-2,-5\n", "text/csv")})
    assert response.status_code == 302, response.content.decode()[:2000]
    page = staff.get(response["Location"]).content.decode()
    assert "DONE" in page and "Cards issued: <strong>1</strong>" in page and "rows refused: <strong>1</strong>" in page
    assert "GC-ADM-2" in page
    card = GiftCard.objects.get(voucher__code="GC-ADM-1")
    assert card.balance == 700 and card.transactions.get().actor == f"import:{response['Location'].split('/')[-2]}"

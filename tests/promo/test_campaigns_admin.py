"""The admin for categories, campaigns, vouchers and the redemption history: pages render, searches and
filters work, edits apply the API's rules and never overwrite the redemption counters."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from customers.models import Customer
from promo.models import Campaign, Redemption, RedemptionRollback, SessionLock, Voucher
from tests.promo.factories import CampaignFactory, CategoryFactory, VoucherFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-123456789")
    client = Client()
    client.force_login(user)
    return client


def listed(response) -> set[str]:
    return {str(obj) for obj in response.context["cl"].result_list}


def form_data(response) -> dict:
    """The initial POST data of an admin change form (as a browser would submit it)."""
    form = response.context["adminform"].form
    return {name: form[name].value() for name in form.fields if form[name].value() is not None}


def test_pages_render(staff):
    campaign = CampaignFactory(name="Spring")
    voucher = VoucherFactory(campaign=campaign, code="SPRING-1")
    redemption = Redemption.objects.create(result="SUCCESS", status="SUCCEEDED", related_object_type="voucher",
                                           voucher=voucher, campaign=campaign, amount=100)
    RedemptionRollback.objects.create(redemption=redemption, amount=100)
    SessionLock.objects.create(session_key="ssn_1", voucher=voucher, expires_at=timezone.now() + timedelta(days=1))
    for path in ("category", "campaign", "voucher", "redemption", "redemptionrollback", "sessionlock"):
        assert staff.get(f"/admin/promo/{path}/").status_code == 200, path
    assert staff.get(f"/admin/promo/campaign/{campaign.pk}/change/").status_code == 200
    assert staff.get(f"/admin/promo/voucher/{voucher.pk}/change/").status_code == 200
    assert staff.get(f"/admin/promo/redemption/{redemption.pk}/change/").status_code == 200
    assert staff.get("/admin/promo/voucher/add/").status_code == 200
    assert staff.get("/admin/promo/campaign/add/").status_code == 403  # campaigns come from the API/wizard


def test_campaign_list_counts_codes_and_actions(staff):
    spring, autumn = CampaignFactory(name="Spring"), CampaignFactory(name="Autumn")
    for n in range(3):
        VoucherFactory(campaign=spring, code=f"S{n}")
    page = staff.get("/admin/promo/campaign/")
    counts = {c.name: c.codes_total for c in page.context["cl"].result_list}
    assert counts == {"Spring": 3, "Autumn": 0}
    assert listed(staff.get("/admin/promo/campaign/", {"q": "Spri"})) == {"Spring"}

    staff.post("/admin/promo/campaign/", {"action": "disable", "_selected_action": [spring.pk, autumn.pk]})
    assert set(Campaign.objects.values_list("active", flat=True)) == {False}
    staff.post("/admin/promo/campaign/", {"action": "enable", "_selected_action": [spring.pk]})
    assert Campaign.objects.get(pk=spring.pk).active is True

    export = staff.post("/admin/promo/campaign/", {"action": "export_codes", "_selected_action": [spring.pk]})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [r["code"] for r in rows] == ["S0", "S1", "S2"]
    refused = staff.post("/admin/promo/campaign/", {"action": "export_codes",
                                                    "_selected_action": [spring.pk, autumn.pk]}, follow=True)
    assert "exactly one campaign" in refused.content.decode()


def test_campaign_edit_uses_the_api_rules(staff):
    campaign = CampaignFactory(name="Edit me")
    page = staff.get(f"/admin/promo/campaign/{campaign.pk}/change/")
    data = form_data(page)
    data.update({"description": "Changed", "start_date_0": "2030-02-01", "start_date_1": "00:00:00",
                 "expiration_date_0": "2030-01-01", "expiration_date_1": "00:00:00", "metadata": "{}"})
    refused = staff.post(f"/admin/promo/campaign/{campaign.pk}/change/", data)
    assert refused.status_code == 200 and "must be after" in refused.content.decode()
    data.update({"expiration_date_0": "2030-03-01"})
    saved = staff.post(f"/admin/promo/campaign/{campaign.pk}/change/", data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    campaign.refresh_from_db()
    assert campaign.description == "Changed" and campaign.expiration_date.month == 3


def test_campaign_delete_is_soft(staff):
    campaign = CampaignFactory(name="Bye")
    staff.post(f"/admin/promo/campaign/{campaign.pk}/delete/", {"post": "yes"})
    campaign.refresh_from_db()
    assert campaign.deleted_at is not None


def test_voucher_search_filters_and_actions(staff):
    spring = CampaignFactory(name="Spring")
    VoucherFactory(code="ALPHA-1", campaign=spring)
    beta = VoucherFactory(code="BETA-1", campaign=None, active=False)
    assert listed(staff.get("/admin/promo/voucher/", {"q": "ALPHA-1"})) == {"ALPHA-1"}
    assert listed(staff.get("/admin/promo/voucher/", {"q": "BET"})) == {"BETA-1"}
    assert listed(staff.get("/admin/promo/voucher/", {"q": beta.public_id})) == {"BETA-1"}
    assert listed(staff.get("/admin/promo/voucher/", {"active__exact": "0"})) == {"BETA-1"}
    assert listed(staff.get("/admin/promo/voucher/", {"campaign__id__exact": spring.pk})) == {"ALPHA-1"}
    staff.post("/admin/promo/voucher/", {"action": "enable", "_selected_action": [beta.pk]})
    assert Voucher.objects.get(pk=beta.pk).active is True


def test_voucher_edit_keeps_the_counters_and_checks_the_quantity(staff):
    voucher = VoucherFactory(code="EDIT-1", redemption_quantity=10)
    data = form_data(staff.get(f"/admin/promo/voucher/{voucher.pk}/change/"))
    Voucher.objects.filter(pk=voucher.pk).update(redeemed_quantity=6)  # redeemed while the form was open
    data.update({"additional_info": "edited", "redemption_quantity": "5"})
    refused = staff.post(f"/admin/promo/voucher/{voucher.pk}/change/", data)
    assert refused.status_code == 200 and "below the uses" in refused.content.decode()
    data.update({"redemption_quantity": "8"})
    saved = staff.post(f"/admin/promo/voucher/{voucher.pk}/change/", data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    voucher.refresh_from_db()
    assert (voucher.additional_info, voucher.redemption_quantity, voucher.redeemed_quantity) == ("edited", 8, 6)

    data.update({"discount": '{"type": "AMOUNT", "amount_off": 1.5}'})
    refused = staff.post(f"/admin/promo/voucher/{voucher.pk}/change/", data)
    assert refused.status_code == 200 and "must be an integer" in refused.content.decode()


def test_voucher_add_form(staff):
    category = CategoryFactory()
    response = staff.post("/admin/promo/voucher/add/", {
        "code": "ADMIN-NEW", "type": "DISCOUNT_VOUCHER", "discount": '{"type": "PERCENT", "percent_off": 5}',
        "category": category.pk, "active": "on", "additional_info": "", "metadata": "{}", "redemption_quantity": "3",
        "validity_timeframe": "null", "validity_day_of_week": "null", "validity_hours": "null"})
    assert response.status_code == 302, response.content.decode()[:3000]
    voucher = Voucher.objects.get(code="ADMIN-NEW")
    assert voucher.discount["percent_off"] == 5 and voucher.redemption_quantity == 3
    bad = staff.post("/admin/promo/voucher/add/", {
        "code": "BAD/CODE", "type": "DISCOUNT_VOUCHER", "discount": '{"type": "NOPE"}', "metadata": "{}",
        "validity_timeframe": "null", "validity_day_of_week": "null", "validity_hours": "null"})
    assert bad.status_code == 200 and not Voucher.objects.filter(code="BAD/CODE").exists()


def test_history_is_read_only_and_searchable(staff):
    alice = Customer.objects.create(source_id="alice")
    voucher = VoucherFactory(code="HIST-1")
    Redemption.objects.create(result="FAILURE", status="FAILED", related_object_type="voucher", voucher=voucher,
                              customer=alice, failure_code="quantity_exceeded")
    Redemption.objects.create(result="SUCCESS", status="SUCCEEDED", related_object_type="voucher")
    by_code = staff.get("/admin/promo/redemption/", {"q": "HIST-1"})
    assert len(by_code.context["cl"].result_list) == 1
    assert len(staff.get("/admin/promo/redemption/", {"q": "alice"}).context["cl"].result_list) == 1
    failed = staff.get("/admin/promo/redemption/", {"failure_code": "quantity_exceeded"})
    assert len(failed.context["cl"].result_list) == 1
    assert staff.get("/admin/promo/redemption/add/").status_code == 403


def test_session_lock_release_action(staff):
    voucher = VoucherFactory(code="LOCKED", redemption_quantity=2, locked_quantity=1)
    lock = SessionLock.objects.create(session_key="ssn_x", voucher=voucher,
                                      expires_at=timezone.now() + timedelta(hours=1))
    staff.post("/admin/promo/sessionlock/", {"action": "release", "_selected_action": [lock.pk]})
    assert not SessionLock.objects.exists()
    assert Voucher.objects.get(pk=voucher.pk).locked_quantity == 0

"""Bulk actions on codes and the promotion-tier editor in a real browser: "Extend the expiry date" asks for
the date, runs in the background and its progress bar reaches 100 %; a tier is written with plain fields."""

from datetime import datetime

import pytest
from django.utils import timezone

from core.context import acting
from core.models import AuditEntry
from promo import campaigns as services
from promo.models import PromotionTier, Voucher
from tests.browser.conftest import DESKTOP, PHONE
from tests.promo.factories import CampaignFactory, VoucherFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_extend_expiry_of_many_codes_with_progress(open_page, admin_login, live_server, save_screenshot):
    campaign = CampaignFactory(name="Autumn sale", voucher_template={
        "type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}})
    for n in range(30):
        VoucherFactory(code=f"AUTUMN-{n:03d}", campaign=campaign)
    page = admin_login(open_page(DESKTOP))
    page.goto(f"{live_server.url}/admin/promo/voucher/?campaign__id__exact={campaign.pk}")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "extend_expiry")
    save_screenshot(page, "admin-vouchers-bulk-actions-desktop")
    page.click("button[name=index]")

    page.wait_for_selector("#bulk-form")
    assert "30" in page.locator("#bulk-count").inner_text()
    page.fill("#id_expiration_date", "2030-06-30T18:00")
    save_screenshot(page, "admin-vouchers-extend-expiry-desktop")
    page.click("#bulk-form input[type=submit]")

    page.locator("#progress-text[data-status=DONE]").wait_for()
    assert page.locator("#progress-bar").get_attribute("value") == "100"
    assert "30 codes updated" in page.locator("#bulk-result").inner_text()
    save_screenshot(page, "admin-vouchers-bulk-progress-desktop")

    expected = timezone.make_aware(datetime(2030, 6, 30, 18, 0))
    assert set(Voucher.objects.filter(campaign=campaign).values_list("expiration_date", flat=True)) == {expected}
    action_id = page.locator("#bulk-action-id").inner_text()
    assert AuditEntry.objects.filter(object_type="promo.voucher", extra__async_action=action_id).count() == 30

    phone = admin_login(open_page(PHONE))
    phone.goto(page.url)
    phone.locator("#progress-text[data-status=DONE]").wait_for()
    save_screenshot(phone, "admin-vouchers-bulk-progress-phone")
    assert page.blocked_requests == [] and phone.blocked_requests == []


def test_promotion_tier_editor(open_page, admin_login, live_server, save_screenshot):
    with acting(None):
        campaign = services.campaign_create({"name": "Basket promotion", "campaign_type": "PROMOTION", "promotion": {
            "tiers": [{"name": "10% off above 50", "action": {"discount": {"type": "PERCENT", "percent_off": 10}}}]}})
    page = admin_login(open_page(DESKTOP))
    page.goto(f"{live_server.url}/admin/promo/promotiontier/add/")
    page.select_option("#id_campaign", str(campaign.pk))
    page.fill("#id_name", "5.00 off above 30")
    page.select_option("#id_discount_type", "AMOUNT")
    page.fill("#id_discount_value", "5.00")
    save_screenshot(page, "admin-promotion-tier-editor-desktop")
    page.click("input[name=_save]")
    page.wait_for_selector("#result_list")
    tier = PromotionTier.objects.get(name="5.00 off above 30")
    assert tier.discount["amount_off"] == 500 and tier.discount["type"] == "AMOUNT"
    assert tier.hierarchy == 2  # left empty: after the campaign's first tier
    save_screenshot(page, "admin-promotion-tiers-desktop")
    assert page.blocked_requests == []

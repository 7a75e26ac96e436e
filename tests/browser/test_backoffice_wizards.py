"""The promotion and gift card wizards in a real browser: a marketer picks a wizard from the chooser, builds a
promotion with a happy-hour tier (live preview by the engine) and the tier then qualifies and validates
through the API over real HTTP; a marketer builds a gift card campaign (the code-space rule in words, the
progress, the CSV) and a customer-service agent issues cards for a partner from the console.
Screenshots at desktop and phone widths (docs/guide-staff.md)."""

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from backoffice import roles
from core import services
from promo.models import Campaign, PromotionTier
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_backoffice_console_wizard import login, staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def api_post(live_server, path: str, body: dict) -> requests.Response:
    issued = services.api_key_create(name="checkout")
    return requests.post(f"{live_server.url}{path}", timeout=30, json=body,
                         headers={"X-App-Id": issued.app_id, "X-App-Token": issued.app_token})


def tall(page, name: str, save_screenshot, height: int = 1300):
    page.set_viewport_size({"width": DESKTOP["width"], "height": height})
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, name)
    page.set_viewport_size(DESKTOP)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_marketer_builds_a_happy_hour_promotion_and_the_api_applies_it(open_page, live_server, save_screenshot,
                                                                       viewport):
    staff(roles.MARKETER, "marketer")
    name = "desktop" if viewport is DESKTOP else "phone"
    page = login(open_page(viewport), live_server, "marketer", "/admin/")
    page.locator("#backoffice-module").get_by_text("New campaign: choose a wizard").click()
    page.wait_for_url("**/backoffice/campaigns/")
    page.locator("#wizards").get_by_text("Promotion", exact=True).wait_for()
    save_screenshot(page, f"backoffice-wizard-chooser-{name}")
    page.click("#wizard-promotion")
    page.wait_for_url("**/backoffice/campaigns/new/promotion")

    local = timezone.localtime(timezone.now())
    page.fill("#id_name", "Friday feelings")
    for day in {(local + timedelta(days=shift)).isoweekday() % 7 for shift in (-1, 0, 1)}:
        page.check(f"input[name=days][value='{day}']")
    page.fill("#id_window_start", (local - timedelta(minutes=60)).strftime("%H:%M"))
    page.fill("#id_window_end", (local + timedelta(minutes=60)).strftime("%H:%M"))
    page.fill("#id_tier-0-name", "Happy hour 15%")
    page.select_option("#id_tier-0-kind", "PERCENT_ORDER")
    page.fill("#id_tier-0-value", "15")
    page.fill("#id_tier-0-banner", "15% off during the happy hour")
    page.check("#id_tier-0-in_window")
    page.click("#add-tier")
    page.fill("#id_tier-1-name", "Free shipping from 100")
    page.select_option("#id_tier-1-kind", "FREE_SHIPPING")
    page.fill("#id_tier-1-min_amount", "100")
    page.fill("#id_cart_amount", "80")
    preview = page.locator("#preview-body")
    # by the engine: 15% of the 80.00 sample cart plus its 5.00 shipping line
    preview.get_by_text("Happy hour 15%: 12.75 off").wait_for()
    assert "does not apply" in preview.inner_text()  # free shipping wants 100.00
    assert "order.amount" in preview.inner_text()
    page.fill("#id_cart_amount", "120")
    preview.get_by_text("Free shipping from 100: 5.00 off").wait_for()
    if viewport is DESKTOP:
        tall(page, "backoffice-promotion-wizard-desktop", save_screenshot, 1500)
    else:
        page.locator("#tiers").scroll_into_view_if_needed()
        save_screenshot(page, "backoffice-promotion-wizard-phone")
        page.locator("#preview").scroll_into_view_if_needed()
        save_screenshot(page, "backoffice-promotion-wizard-preview-phone")

    page.click("#create")
    page.wait_for_url("**/backoffice/campaigns/*/codes")
    page.locator("#promotion-tiers").get_by_text("Happy hour 15%").wait_for()
    save_screenshot(page, f"backoffice-promotion-created-{name}")

    campaign = Campaign.objects.get(name="Friday feelings")
    assert campaign.campaign_type == "PROMOTION" and campaign.is_live
    happy = PromotionTier.objects.get(campaign=campaign, name="Happy hour 15%")
    qualified = api_post(live_server, "/v1/qualifications", {"order": {"amount": 10000}, "options": {"limit": 50}})
    assert qualified.status_code == 200, qualified.text
    rows = {row["id"]: row for row in qualified.json()["redeemables"]["data"]}
    assert rows[happy.public_id]["banner"] == "15% off during the happy hour"
    validated = api_post(live_server, "/v1/validations", {
        "redeemables": [{"object": "promotion_tier", "id": happy.public_id}], "order": {"amount": 10000}})
    assert validated.status_code == 200 and validated.json()["valid"] is True, validated.text
    assert validated.json()["order"]["total_discount_amount"] == 1500
    assert page.blocked_requests == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_gift_card_campaign_and_cards_for_a_partner(open_page, live_server, save_screenshot, viewport):
    staff(roles.MARKETER, "marketer")
    staff(roles.CUSTOMER_SERVICE, "agent")
    name = "desktop" if viewport is DESKTOP else "phone"
    page = login(open_page(viewport), live_server, "marketer", "/backoffice/campaigns/new/gift-cards")
    page.fill("#id_name", "Christmas gift cards")
    page.fill("#id_amount", "50")
    page.fill("#id_count", "200")
    page.fill("#id_sold_price", "45")
    page.fill("#id_expiration_date", "2030-12-31T23:59")
    page.fill("#id_length", "6")
    preview = page.locator("#preview-body")
    preview.get_by_text("too easy to guess", exact=False).wait_for()
    assert "a trillion possible codes" in preview.inner_text()
    if viewport is DESKTOP:
        tall(page, "backoffice-giftcard-wizard-error-desktop", save_screenshot, 1000)
    page.fill("#id_length", "12")
    preview.locator("code").first.wait_for()
    assert preview.locator("code").count() == 3 and "too easy" not in preview.inner_text()
    assert "200 cards of 50.00, sold for 45.00" in preview.inner_text()
    if viewport is DESKTOP:
        tall(page, "backoffice-giftcard-wizard-desktop", save_screenshot, 1000)
    else:
        page.locator("#preview").scroll_into_view_if_needed()
        save_screenshot(page, "backoffice-giftcard-wizard-phone")
    page.click("#create")
    page.wait_for_url("**/backoffice/gift-cards/batches/*")
    page.locator("#download").wait_for()
    assert page.locator("#progress-bar").get_attribute("value") == "100"
    save_screenshot(page, f"backoffice-giftcard-batch-{name}")
    campaign = Campaign.objects.get(name="Christmas gift cards")

    page.context.clear_cookies()
    page = login(page, live_server, "agent", "/backoffice/customers/")
    page.click("#partner-cards-link")
    page.wait_for_url("**/backoffice/gift-cards/issue")
    page.select_option("#id_campaign", campaign.public_id)
    page.fill("#id_partner", "ACME staff party")
    page.fill("#id_count", "12")
    page.fill("#id_amount", "25")
    page.fill("#id_label", "December 2026")
    save_screenshot(page, f"backoffice-partner-cards-{name}")
    page.click("#issue")
    page.wait_for_url("**/backoffice/gift-cards/batches/*")
    page.locator("#download").wait_for()
    with page.expect_download() as download_info:
        page.click("#download")
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert len(rows) == 12 and {r["partner"] for r in rows} == {"ACME staff party"}
    assert {r["amount"] for r in rows} == {"2500"}
    save_screenshot(page, f"backoffice-partner-cards-done-{name}")
    assert page.goto(f"{live_server.url}/backoffice/campaigns/new/gift-cards").status == 403
    assert page.blocked_requests == []

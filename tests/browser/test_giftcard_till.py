"""The in-store gift card till on a phone: a clerk logs in, types a code, sees the balance, takes an
amount, and sees the new balance; a second attempt above the balance is refused. Then the liability page."""

import pytest

from giftcards.models import GiftCard
from tests.browser.conftest import PHONE
from tests.giftcards.factories import gift_card

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clerk_spends_part_of_a_gift_card_on_a_phone(open_page, admin_login, live_server, save_screenshot):
    gift_card("GC-PHONE-1", 5000)
    page = admin_login(open_page(PHONE))
    page.goto(f"{live_server.url}/backoffice/gift-cards/till")
    page.fill("#code", "GC-PHONE-1")
    page.get_by_role("button", name="Check balance").click()
    assert page.locator("#balance").inner_text() == "50.00"
    # Mobile-friendly: nothing wider than the phone's screen, inputs large enough to tap.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator("#amount").bounding_box()["height"] >= 40
    page.fill("#amount", "12.50")
    page.fill("#receipt", "TILL-1")
    page.locator("#spend").click()
    assert "Took 12.50 from the card" in page.locator("#spent").inner_text()
    assert page.locator("#balance").inner_text() == "37.50"
    save_screenshot(page, "giftcard-till-phone")
    page.fill("#amount", "40")
    page.locator("#spend").click()
    assert "more than the card" in page.locator("#error").inner_text()
    assert GiftCard.objects.get(voucher__code="GC-PHONE-1").balance == 3750
    assert page.blocked_requests == []

    page.goto(f"{live_server.url}/backoffice/gift-cards/liability")
    assert page.locator("#outstanding").inner_text() == "37.50"
    assert page.locator("#chart rect").count() == 1
    save_screenshot(page, "giftcard-liability-phone")

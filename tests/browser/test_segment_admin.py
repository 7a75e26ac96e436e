"""The segment editor in a real browser: the matching count shows before saving, and "Recompute now"
shows a progress bar that reaches 100 %."""

import pytest

from customers.models import Customer
from segments.models import Segment, SegmentMembership
from tests.browser.conftest import DESKTOP

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONDON = '{"junction": "and", "address.city": {"conditions": {"$is": ["London"]}}}'


def test_count_preview_before_saving_and_recompute_progress(open_page, admin_login, live_server, save_screenshot):
    Customer.objects.bulk_create([Customer(source_id=f"c{n}", address_city="London" if n % 4 else "Leeds")
                                  for n in range(40)])
    page = admin_login(open_page(DESKTOP))
    page.goto(f"{live_server.url}/admin/segments/segment/add/")
    page.fill("#id_name", "Londoners")
    page.select_option("#id_type", "auto-update")
    page.fill("#id_filter", LONDON)
    page.click("#segment-preview-button")
    count = page.locator("#segment-preview-count")
    count.filter(has_text="30 customers match").wait_for()
    assert not Segment.objects.exists()  # counted, not saved
    save_screenshot(page, "segment-editor-preview-desktop")

    # Typing a bad filter says what is wrong, live.
    page.fill("#id_filter", '{"junction": "and", "city": {"conditions": {"$is": ["London"]}}}')
    count.filter(has_text="unknown filter field").wait_for()
    page.fill("#id_filter", LONDON)
    count.filter(has_text="30 customers match").wait_for()

    page.click("input[name=_continue]")
    page.wait_for_selector("#segment-recompute")
    segment = Segment.objects.get()
    assert SegmentMembership.objects.filter(segment=segment, left_at__isnull=True).count() == 30

    page.click("#segment-recompute")
    # Without a broker the recompute ran before the page loaded; the page still polls its status once.
    page.locator("#segment-progress-result").filter(has_text="30 members").wait_for()
    assert page.locator("#segment-progress-status").inner_text() == "DONE"
    assert page.locator("#segment-progress-bar").get_attribute("value") == "100"
    save_screenshot(page, "segment-recompute-progress-desktop")
    assert page.blocked_requests == []

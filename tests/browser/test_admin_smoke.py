"""Smoke test of the staff UI in a real browser: admin login, API key creation, the API docs page.
Screenshots at desktop and phone widths go to docs/screenshots/."""

import re

import pytest

from core import services
from core.models import ApiKey
from tests.browser.conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS_TITLE = "Promotion engine API"


def test_staff_logs_in_creates_an_api_key_and_reads_the_api_docs(open_page, admin_login, live_server,
                                                                  save_screenshot):
    page = admin_login(open_page(DESKTOP))

    # The index lists the Platform app with its API keys.
    platform = page.locator("#content-main .app-core")
    assert platform.locator("caption").text_content().strip() == "Platform"
    assert platform.get_by_role("link", name="API keys").is_visible()
    save_screenshot(page, "admin-index-desktop")

    # Create a key: the token is shown once, in the message after saving.
    platform.locator("tr.model-apikey a.addlink").click()
    page.fill("#id_name", "browser checkout")
    page.select_option("#id_scope", "redemption")
    page.click("input[name=_save]")
    message = page.locator("ul.messagelist li.warning").inner_text()
    found = re.search(r"X-App-Id: (\S+) — X-App-Token: (\S+)", message)
    assert found, message
    app_id, token = found.groups()
    key = services.api_key_authenticate(app_id, token)
    assert key is not None and key.name == "browser checkout" and key.scope == ApiKey.Scope.REDEMPTION
    assert token not in page.locator("#result_list").inner_text()  # only the message shows it
    save_screenshot(page, "api-keys-desktop")

    # The interactive API docs render from local static files only.
    page.goto(f"{live_server.url}/api/docs")
    title = page.locator(".swagger-ui .info .title")
    title.wait_for()
    assert DOCS_TITLE in title.inner_text()
    assert page.locator(".opblock").count() > 0  # operations rendered from /api/schema
    assert page.title() == "Promotion engine API"
    save_screenshot(page, "api-docs-desktop")
    assert page.blocked_requests == []


def test_admin_and_docs_render_on_a_phone(open_page, admin_login, live_server, save_screenshot):
    services.api_key_create(name="phone demo key")
    page = admin_login(open_page(PHONE))
    assert page.locator("#content-main .app-core caption").text_content().strip() == "Platform"
    save_screenshot(page, "admin-index-phone")

    page.goto(f"{live_server.url}/admin/core/apikey/")
    assert page.locator("#result_list").get_by_text("phone demo key").is_visible()
    save_screenshot(page, "api-keys-phone")

    page.goto(f"{live_server.url}/api/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert DOCS_TITLE in page.locator(".swagger-ui .info .title").inner_text()
    save_screenshot(page, "api-docs-phone")
    assert page.blocked_requests == []

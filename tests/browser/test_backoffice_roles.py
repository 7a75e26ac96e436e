"""Roles in a real browser: a Customer Service agent gets no access to campaign creation; a Junior
Marketer's 50% campaign waits for approval (its code does not redeem) until a Marketer approves it in the
admin, after which it redeems. Screenshots at desktop and phone widths."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from backoffice import roles
from core import services
from promo.models import Campaign
from tests.browser.conftest import DESKTOP, PHONE, STAFF_PASSWORD
from tests.conftest import JsonClient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

API_FETCH = """async ([method, path, body]) => {
    const token = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1];
    const response = await fetch(path, {method, headers: {"Content-Type": "application/json", "X-CSRFToken": token},
                                        body: body === null ? undefined : JSON.stringify(body)});
    return {status: response.status, body: await response.json()};
}"""


def staff(role: str, username: str):
    user = get_user_model().objects.create_user(username, password=STAFF_PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def login(page, live_server, username: str):
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    return page


def api_call(page, method: str, path: str, body=None) -> dict:
    """A call to the API from the logged-in page (session cookie and CSRF token, as the back office does)."""
    return page.evaluate(API_FETCH, [method, path, body])


def redeem(code: str):
    issued = services.api_key_create(name="checkout")
    checkout = JsonClient({"X-App-Id": issued.app_id, "X-App-Token": issued.app_token})
    return checkout.post("/v1/redemptions", {"redeemables": [{"object": "voucher", "id": code}],
                                             "order": {"amount": 10000}})


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_customer_service_gets_no_access_to_campaign_creation(open_page, live_server, save_screenshot, viewport):
    staff(roles.CUSTOMER_SERVICE, "agent")
    Campaign.objects.create(name="Spring sale", voucher_template={"type": "DISCOUNT_VOUCHER", "discount": {
        "type": "PERCENT", "percent_off": 10}})
    page = login(open_page(viewport), live_server, "agent")
    campaigns_row = page.locator("#content-main tr.model-campaign")
    assert campaigns_row.is_visible()  # customer service may look campaigns up
    assert campaigns_row.locator("a.addlink").count() == 0
    page.goto(f"{live_server.url}/admin/promo/campaign/")
    assert page.locator(".object-tools .addlink").count() == 0
    name = "desktop" if viewport is DESKTOP else "phone"
    save_screenshot(page, f"backoffice-customer-service-campaigns-{name}")

    response = page.goto(f"{live_server.url}/admin/promo/campaign/add/")
    assert response.status == 403
    page.goto(f"{live_server.url}/admin/")
    created = api_call(page, "POST", "/v1/campaigns", {"name": "Not allowed", "voucher": {
        "type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}}})
    assert created["status"] == 403 and created["body"]["key"] == "forbidden"
    assert not Campaign.objects.filter(name="Not allowed").exists()
    assert page.blocked_requests == []


def test_junior_marketers_half_price_campaign_waits_for_a_marketers_approval(open_page, live_server,
                                                                           save_screenshot):
    staff(roles.JUNIOR_MARKETER, "junior")
    staff(roles.MARKETER, "marketer")

    junior = login(open_page(DESKTOP), live_server, "junior")
    created = api_call(junior, "POST", "/v1/campaigns", {"name": "Half price weekend", "voucher": {
        "type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 50}}})
    assert created["status"] == 201, created
    assert created["body"]["approval_status"] == "PENDING" and created["body"]["active"] is False
    campaign_id = created["body"]["id"]
    assert api_call(junior, "POST", f"/v1/campaigns/{campaign_id}/vouchers/HALF-WEEKEND", {})["status"] == 201

    junior.goto(f"{live_server.url}/admin/promo/campaign/?approval_status__exact=PENDING")
    row = junior.locator("#result_list tbody tr", has_text="Half price weekend")
    assert "Pending" in row.inner_text()
    save_screenshot(junior, "backoffice-campaign-pending-desktop")
    refused = redeem("HALF-WEEKEND")
    assert refused.status_code == 400 and refused.json()["key"] in {"voucher_disabled", "campaign_not_approved"}
    assert api_call(junior, "POST", f"/v1/campaigns/{campaign_id}/approve", {})["status"] == 403

    marketer = login(open_page(DESKTOP), live_server, "marketer")
    marketer.goto(f"{live_server.url}/admin/promo/campaign/?approval_status__exact=PENDING")
    marketer.locator("#result_list tbody tr", has_text="Half price weekend").locator("input.action-select").check()
    marketer.select_option("select[name=action]", "approve")
    marketer.click("button[name=index]")
    assert "Approved: 1 campaign(s)." in marketer.locator("ul.messagelist").inner_text()
    campaign = Campaign.objects.get(public_id=campaign_id)
    assert campaign.approval_status == "APPROVED" and campaign.active and campaign.approved_by.username == "marketer"

    marketer.goto(f"{live_server.url}/admin/promo/campaign/{campaign.pk}/change/")
    history = marketer.locator("table.audit-history").inner_text()
    assert "approve" in history and "marketer" in history and "submit" in history
    marketer.locator("table.audit-history").scroll_into_view_if_needed()
    save_screenshot(marketer, "backoffice-campaign-history-desktop")
    assert redeem("HALF-WEEKEND").status_code == 200
    assert junior.blocked_requests == [] and marketer.blocked_requests == []

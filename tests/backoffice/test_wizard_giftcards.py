"""The gift card wizards: a GIFT_VOUCHERS campaign by the API's service whose cards are issued by the bulk-issue
action (progress, CSV), the trillion-codes-per-card rule said in words, and cards for a partner from the
customer-service console under `giftcards.issue_giftcard`."""

import csv
import io

import pytest
from django.test import Client

from backoffice import roles, wizard_giftcards
from core.models import AsyncAction
from giftcards.models import GiftCard
from promo.models import Campaign, Voucher

pytestmark = pytest.mark.django_db
URL = "/backoffice/campaigns/new/gift-cards"
PARTNER_URL = "/backoffice/gift-cards/issue"


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def answers(**overrides) -> dict:
    data = {"name": "Christmas cards", "description": "", "category": "", "amount": "50", "count": "20",
            "sold_price": "", "expiration_date": "", "charset": "unambiguous", "length": "12", "prefix": "GC-",
            "postfix": ""}
    data.update(overrides)
    return data


def csv_rows(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_code_space_problem_in_words():
    config = {"charset": "0123456789", "length": 8, "prefix": "", "postfix": ""}
    problem = wizard_giftcards.code_space_problem(config, 100)
    assert "too easy to guess" in problem and "a trillion possible codes" in problem
    assert "about 100 trillion" in problem and "at least 14 characters" in problem
    assert wizard_giftcards.code_space_problem({**config, "length": 14}, 100) is None


def test_preview_endpoint(make_user):
    client = browser(make_user(roles.MARKETER))
    body = client.post(f"{URL}/preview", answers(sold_price="40")).json()
    assert body["errors"] == [] and body["summary"] == "20 cards of 50.00, sold for 40.00"
    assert body["liability"] == "1,000.00" and all(c.startswith("GC-") for c in body["codes"])
    short = client.post(f"{URL}/preview", answers(length="6")).json()
    assert "too easy to guess" in short["errors"][0] and short["codes"] == []
    dear = client.post(f"{URL}/preview", answers(sold_price="60")).json()
    assert "must not be above the face value" in dear["errors"][0]


def test_marketer_creates_a_gift_card_campaign_and_downloads_the_cards(make_user,
                                                                       django_capture_on_commit_callbacks):
    marketer = make_user(roles.MARKETER, "marketer")
    with django_capture_on_commit_callbacks(execute=True):
        response = browser(marketer).post(URL, answers(sold_price="45", expiration_date="2030-12-31T23:59"))
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get(name="Christmas cards")
    action = AsyncAction.objects.get(type="GIFT_CARDS_BULK_ISSUE")
    assert response.url == f"/backoffice/gift-cards/batches/{action.public_id}"
    assert campaign.campaign_type == "GIFT_VOUCHERS" and campaign.approval_status == "APPROVED"
    assert campaign.voucher_template["gift"]["amount"] == 5000
    cards = GiftCard.objects.filter(voucher__campaign=campaign)
    assert cards.count() == 20 and {c.face_value for c in cards} == {5000} and {c.sold_price for c in cards} == {4500}
    assert all(v.code.startswith("GC-") and len(v.code) == 15 for v in Voucher.objects.filter(campaign=campaign))
    page = browser(marketer).get(response.url)
    assert page.status_code == 200 and b"Download the cards (CSV)" in page.content
    rows = csv_rows(browser(marketer).get(f"{response.url}.csv"))
    assert len(rows) == 20 and rows[0]["amount"] == "5000" and rows[0]["sold_price"] == "4500"
    assert rows[0]["expiration_date"].startswith("2030-12-31")


def test_too_short_codes_are_refused_in_words(make_user):
    response = browser(make_user(roles.MARKETER)).post(URL, answers(length="6", count="1000"))
    assert response.status_code == 400 and b"too easy to guess" in response.content
    assert not Campaign.objects.exists()


def test_junior_marketers_gift_cards_wait_for_approval(make_user, django_capture_on_commit_callbacks):
    junior = make_user(roles.JUNIOR_MARKETER, "junior")
    with django_capture_on_commit_callbacks(execute=True):
        response = browser(junior).post(URL, answers(count="2"))
    assert response.status_code == 302
    campaign = Campaign.objects.get(name="Christmas cards")
    assert campaign.approval_status == "PENDING" and not campaign.active
    assert b"Waiting for approval" in browser(junior).get(response.url).content


@pytest.mark.parametrize("role", [roles.CUSTOMER_SERVICE, roles.ANALYST, roles.PARTNER])
def test_roles_that_may_not_create_campaigns_get_403(make_user, role):
    client = browser(make_user(role))
    assert client.get(URL).status_code == 403
    assert client.post(URL, answers()).status_code == 403
    assert client.post(f"{URL}/preview", answers()).status_code == 403
    assert not Campaign.objects.exists()


@pytest.fixture
def gift_campaign(make_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        wizard_giftcards.create(wizard_giftcards.Plan(name="Partner cards", amount=2500, count=1),
                                user=make_user(roles.ADMIN, "admin"))
    return Campaign.objects.get(name="Partner cards")


def test_customer_service_issues_cards_for_a_partner_as_csv(make_user, gift_campaign,
                                                            django_capture_on_commit_callbacks):
    agent = make_user(roles.CUSTOMER_SERVICE, "agent")
    client = browser(agent)
    assert b"Issue gift cards for a partner" in client.get("/backoffice/customers/").content
    assert b"Issue gift cards for a partner" in client.get("/admin/").content
    assert gift_campaign.public_id.encode() in client.get(PARTNER_URL).content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(PARTNER_URL, {"campaign": gift_campaign.public_id, "partner": "ACME staff party",
                                             "count": "5", "amount": "20", "sold_price": "", "label": "Dec 2026"})
    assert response.status_code == 302, response.content.decode()[:3000]
    action = AsyncAction.objects.filter(type="GIFT_CARDS_BULK_ISSUE").latest("id")
    assert response.url == f"/backoffice/gift-cards/batches/{action.public_id}" and action.user == agent
    page = client.get(response.url)
    assert b"ACME staff party" in page.content and b"Download the cards (CSV)" in page.content
    rows = csv_rows(client.get(f"{response.url}.csv"))
    assert len(rows) == 5 and {r["partner"] for r in rows} == {"ACME staff party"}
    assert {r["amount"] for r in rows} == {"2000"} and {r["label"] for r in rows} == {"Dec 2026"}
    # someone else's batch is not shown to a role that may not view async actions
    other = browser(make_user(roles.CUSTOMER_SERVICE, "agent2"))
    assert other.get(response.url).status_code == 404 and other.get(f"{response.url}.csv").status_code == 404


@pytest.mark.parametrize("role, allowed", [(roles.ADMIN, True), (roles.MARKETER, True),
                                           (roles.CUSTOMER_SERVICE, True), (roles.JUNIOR_MARKETER, False),
                                           (roles.ANALYST, False), (roles.PARTNER, False)])
def test_who_may_issue_cards_for_a_partner(make_user, gift_campaign, role, allowed):
    client = browser(make_user(role))
    assert client.get(PARTNER_URL).status_code == (200 if allowed else 403)
    response = client.post(PARTNER_URL, {"campaign": gift_campaign.public_id, "partner": "P", "count": "1"})
    assert response.status_code == (302 if allowed else 403)


def test_partner_form_errors(make_user, gift_campaign):
    client = browser(make_user(roles.CUSTOMER_SERVICE))
    assert client.post(PARTNER_URL, {"campaign": "camp_nope", "partner": "P", "count": "1"}).status_code == 400
    assert client.post(PARTNER_URL, {"campaign": gift_campaign.public_id, "partner": " ", "count": "1"}
                       ).status_code == 400
    dear = client.post(PARTNER_URL, {"campaign": gift_campaign.public_id, "partner": "P", "count": "1",
                                     "amount": "10", "sold_price": "20"})
    assert dear.status_code == 400 and b"face value" in dear.content
    above = client.post(PARTNER_URL, {"campaign": gift_campaign.public_id, "partner": "P", "count": "1",
                                      "amount": "25.01"})  # Customer Service: at most the campaign's 25.00
    assert above.status_code == 400 and b"at most the campaign" in above.content
    assert AsyncAction.objects.filter(type="GIFT_CARDS_BULK_ISSUE").count() == 1  # the fixture's campaign only


@pytest.mark.parametrize("field", ["amount", "count", "sold_price", "expiration_date", "charset", "length", "prefix",
                                   "category"])
@pytest.mark.parametrize("value", ["abc", "-1", "1e999999", "99999999999999999999999", "\x00", "####"])
def test_no_input_makes_a_500(make_user, field, value):
    client = browser(make_user(roles.MARKETER))
    data = answers(**{field: value})
    assert client.post(f"{URL}/preview", data).status_code == 200
    assert client.post(URL, data).status_code in (302, 400)

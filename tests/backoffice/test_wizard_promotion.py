"""The promotion wizard: tiers in plain words become a PROMOTION campaign created by the API's service, the
preview asks the engine which tiers apply to a sample cart at a sample moment (on a copy rolled back), the
happy-hour window lands on the tiers that ask for it, and roles and approvals apply; the wizard chooser."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from backoffice import roles, wizard_promotion
from core.models import AuditEntry
from promo.models import Campaign, PromotionTier
from rules.models import ValidationRule, ValidationRuleAssignment
from tests.catalog.factories import ProductFactory

pytestmark = pytest.mark.django_db
URL = "/backoffice/campaigns/new/promotion"


@pytest.fixture(autouse=True)
def _fresh_qualifications(settings):
    from promo.qualifications import forget_cached

    settings.QUALIFICATIONS_CACHE_SECONDS = 0
    forget_cached()


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def answers(tiers=(), **overrides) -> dict:
    data = {"name": "Summer promotions", "description": "", "category": "", "start_date": "",
            "expiration_date": "", "window_start": "", "window_end": "", "cart_amount": "", "preview_at": "",
            "tier-TOTAL_FORMS": "3", "tier-INITIAL_FORMS": "0", "tier-MIN_NUM_FORMS": "0", "tier-MAX_NUM_FORMS": "10"}
    for index in range(3):
        row = {"name": "", "kind": "PERCENT_ORDER", "value": "", "target": "", "min_amount": "", "banner": ""}
        row.update(tiers[index] if index < len(tiers) else {})
        data.update({f"tier-{index}-{key}": value for key, value in row.items() if value is not False})
    data.update(overrides)
    return data


HAPPY = {"name": "Happy hour 15%", "kind": "PERCENT_ORDER", "value": "15", "banner": "15% off 17-19h",
         "in_window": "on"}
SPEND = {"name": "Spend 100 save 10", "kind": "AMOUNT_ORDER", "value": "10", "min_amount": "100"}
SHIP = {"name": "Free shipping", "kind": "FREE_SHIPPING", "min_amount": "50"}


def test_plan_becomes_the_api_request():
    plan = wizard_promotion.Plan(
        name="P", exclusive=True, days=(1, 2, 3, 4, 5), window_start=time(17), window_end=time(19),
        tiers=(wizard_promotion.Tier("Happy", "PERCENT_ORDER", Decimal(15), in_window=True, banner="b"),
               wizard_promotion.Tier("Ship", "FREE_SHIPPING", min_amount=5000),
               wizard_promotion.Tier("Shoes", "PERCENT_COLLECTION", Decimal("20"), target="pcol_shoes")))
    request = wizard_promotion.campaign_request(plan, {1: "val_ship"})
    assert request["campaign_type"] == "PROMOTION" and request["exclusive"] is True
    happy, ship, shoes = request["promotion"]["tiers"]
    assert happy["action"]["discount"]["percent_off"] == 15 and happy["banner"] == "b"
    assert happy["validity_hours"] == {"daily": [{"start_time": "17:00", "expiration_time": "19:00",
                                                  "days_of_week": [1, 2, 3, 4, 5]}]}
    assert ship["action"]["discount"]["unit_type"] == "prod_5h1pp1ng" and "validity_hours" not in ship
    assert ship["validation_rules"] == ["val_ship"]
    assert shoes["action"]["discount"]["effect"] == "APPLY_TO_ITEMS"
    rule = wizard_promotion.rule_of(plan.tiers[2])
    assert rule["applicable_to"] == {"included": [{"object": "products_collection", "id": "pcol_shoes"}]}
    assert wizard_promotion.rule_of(plan.tiers[1])["rules"]["1"]["conditions"] == {"$more_than_or_equal": [5000]}


@pytest.mark.parametrize("tiers, window, message", [
    ((), {}, "at least one tier"),
    (({"kind": "PERCENT_ORDER"},), {}, "give the discount's value"),
    (({"kind": "PERCENT_ORDER", "value": Decimal(150)},), {}, "between 0 and 100"),
    (({"kind": "PERCENT_PRODUCT", "value": Decimal(10)},), {}, "name the product"),
    (({"kind": "PERCENT_ORDER", "value": Decimal(10), "in_window": True},), {}, "set the window"),
    (({"kind": "PERCENT_ORDER", "value": Decimal(10)},), {"window_start": time(17)}, "the time it ends"),
])
def test_check_says_what_is_wrong(tiers, window, message):
    plan = wizard_promotion.Plan(name="P", tiers=tuple(wizard_promotion.Tier(name="T", **t) for t in tiers),
                                 **window)
    with pytest.raises(Exception) as caught:
        wizard_promotion.check(plan)
    assert message in str(getattr(caught.value, "details", caught.value))


def test_preview_asks_the_engine_and_leaves_nothing_behind():
    plan = wizard_promotion.Plan(
        name="P", days=(1, 2, 3, 4, 5), window_start=time(17), window_end=time(19),
        tiers=(wizard_promotion.Tier("Happy", "PERCENT_ORDER", Decimal(15), in_window=True),
               wizard_promotion.Tier("Spend", "AMOUNT_ORDER", Decimal(10), min_amount=10000),
               wizard_promotion.Tier("Ship", "FREE_SHIPPING", min_amount=5000)))
    before = (Campaign.objects.count(), PromotionTier.objects.count(), ValidationRule.objects.count(),
              AuditEntry.objects.count())
    monday_18h = timezone.make_aware(datetime(2027, 3, 1, 18, 0))
    out = wizard_promotion.preview(plan, 8000, at=monday_18h)
    assert out["errors"] == []
    result = {row["name"]: row for row in out["tiers"]}
    assert result["Happy"]["applies"] and result["Happy"]["discount"] > 0
    assert not result["Spend"]["applies"] and "order" in result["Spend"]["reason"].lower()
    assert result["Ship"]["applies"] and result["Ship"]["discount"] == wizard_promotion.SHIPPING_PRICE
    sunday = wizard_promotion.preview(plan, 8000, at=timezone.make_aware(datetime(2027, 2, 28, 18, 0)))
    assert not {row["name"]: row for row in sunday["tiers"]}["Happy"]["applies"]
    assert (Campaign.objects.count(), PromotionTier.objects.count(), ValidationRule.objects.count(),
            AuditEntry.objects.count()) == before


def test_sample_moment_is_the_next_window():
    plan = wizard_promotion.Plan(name="P", tiers=(), days=(5,), window_start=time(17), window_end=time(19))
    monday = timezone.make_aware(datetime(2027, 3, 1, 9, 0))
    moment = timezone.localtime(wizard_promotion.sample_moment(plan, monday))
    assert moment.isoweekday() == 5 and moment.time() == time(17, 1)


def test_preview_endpoint(make_user):
    body = browser(make_user(roles.MARKETER)).post(f"{URL}/preview", answers(
        [SPEND, SHIP], cart_amount="120")).json()
    assert body["errors"] == []
    assert [(t["name"], t["applies"], t["discount_text"]) for t in body["tiers"]] == [
        ("Spend 100 save 10", True, "10.00"), ("Free shipping", True, "5.00")]
    assert body["shipping"] is True and body["cart_text"] == "125.00"
    empty = browser(make_user(roles.MARKETER, "m2")).post(f"{URL}/preview", answers()).json()
    assert empty["errors"] and empty["tiers"] == []


def test_marketer_creates_a_happy_hour_promotion_that_the_api_applies(make_user, api):
    marketer = make_user(roles.MARKETER, "marketer")
    local = timezone.localtime(timezone.now())
    window = {"window_start": (local - timedelta(minutes=60)).strftime("%H:%M"),
              "window_end": (local + timedelta(minutes=60)).strftime("%H:%M"),
              "days": [str(local.isoweekday() % 7)]}
    response = browser(marketer).post(URL, answers([HAPPY, SPEND], **window))
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get(name="Summer promotions")
    assert response.url == f"/backoffice/campaigns/{campaign.public_id}/codes"
    assert campaign.campaign_type == "PROMOTION" and campaign.approval_status == "APPROVED" and campaign.active
    assert campaign.created_by == marketer
    happy, spend = PromotionTier.objects.filter(campaign=campaign).order_by("hierarchy")
    assert happy.validity_hours["daily"][0]["days_of_week"] == [local.isoweekday() % 7]
    assert spend.validity_hours is None
    assert ValidationRuleAssignment.objects.filter(related_object_id=spend.public_id).count() == 1
    page = browser(marketer).get(response.url)
    assert b"Happy hour 15%" in page.content and b"15% off" in page.content

    found = api.post("/v1/qualifications", {"order": {"amount": 12000}, "options": {"limit": 50}}).json()
    ids = [row["id"] for row in found["redeemables"]["data"]]
    assert happy.public_id in ids and spend.public_id in ids
    validation = api.post("/v1/validations", {"redeemables": [{"object": "promotion_tier", "id": happy.public_id}],
                                              "order": {"amount": 10000}}).json()
    assert validation["valid"] is True and validation["order"]["total_discount_amount"] == 1500


def test_product_tier_discounts_that_product(make_user, api):
    product = ProductFactory(name="Mug", source_id="mug")
    tier = {"name": "Mugs 50%", "kind": "PERCENT_PRODUCT", "value": "50", "target": product.public_id}
    response = browser(make_user(roles.MARKETER)).post(URL, answers([tier]))
    assert response.status_code == 302, response.content.decode()[:3000]
    created = PromotionTier.objects.get(name="Mugs 50%")
    validation = api.post("/v1/validations", {
        "redeemables": [{"object": "promotion_tier", "id": created.public_id}],
        "order": {"items": [{"product_id": product.public_id, "quantity": 1, "price": 2000},
                            {"product_id": "other", "quantity": 1, "price": 3000}]}}).json()
    assert validation["valid"] is True and validation["order"]["total_discount_amount"] == 1000


def test_invalid_answers_show_the_form_again(make_user):
    client = browser(make_user(roles.MARKETER))
    assert client.post(URL, answers()).status_code == 400
    response = client.post(URL, answers([{**HAPPY}]))  # a tier in the window, but no window
    assert response.status_code == 400 and b"set the window" in response.content
    assert not Campaign.objects.exists()


def test_junior_marketers_promotion_waits_for_approval(make_user, settings):
    junior = make_user(roles.JUNIOR_MARKETER, "junior")
    response = browser(junior).post(URL, answers([SPEND]))
    assert response.status_code == 302
    campaign = Campaign.objects.get(name="Summer promotions")
    assert campaign.approval_status == "PENDING" and not campaign.active
    assert b"Waiting for approval" in browser(junior).get(response.url).content


def test_a_tier_above_the_juniors_cap_needs_approval_even_when_juniors_need_none(make_user, settings):
    settings.JUNIOR_MARKETER_ALWAYS_NEEDS_APPROVAL = False
    settings.JUNIOR_MARKETER_REQUIRES_BUDGET = False
    junior = make_user(roles.JUNIOR_MARKETER, "junior")
    browser(junior).post(URL, answers([{**SPEND, "name": "small"}], name="Small"))
    assert Campaign.objects.get(name="Small").approval_status == "APPROVED"
    big = {"name": "Half off", "kind": "PERCENT_ORDER", "value": "50"}
    browser(junior).post(URL, answers([SPEND, big], name="Big"))
    campaign = Campaign.objects.get(name="Big")
    assert campaign.approval_status == "PENDING" and not campaign.active and "above the cap" in campaign.approval_note


@pytest.mark.parametrize("role", [roles.CUSTOMER_SERVICE, roles.ANALYST, roles.PARTNER])
def test_roles_that_may_not_create_campaigns_get_403(make_user, role):
    client = browser(make_user(role))
    for url in (URL, "/backoffice/campaigns/"):
        assert client.get(url).status_code == 403
    assert client.post(URL, answers([SPEND])).status_code == 403
    assert client.post(f"{URL}/preview", answers([SPEND])).status_code == 403
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("role", [roles.ADMIN, roles.MARKETER, roles.JUNIOR_MARKETER])
def test_chooser_lists_the_wizards(make_user, role):
    client = browser(make_user(role))
    page = client.get("/backoffice/campaigns/").content.decode()
    for url in ("/backoffice/campaigns/new", URL, "/backoffice/campaigns/new/gift-cards"):
        assert f'href="{url}"' in page
    index = client.get("/admin/").content.decode()
    assert "New promotion (wizard)" in index and "New campaign: choose a wizard" in index
    assert client.get("/backoffice/campaigns/new/coupon").status_code == 200


@pytest.mark.parametrize("field", ["tier-0-value", "tier-0-kind", "tier-0-min_amount", "tier-0-target", "days",
                                   "window_start", "start_date", "category", "cart_amount", "preview_at"])
@pytest.mark.parametrize("value", ["abc", "-1", "1e999999", "99999999999999999999999", "\x00", "25:99"])
def test_no_input_makes_a_500(make_user, field, value):
    client = browser(make_user(roles.MARKETER))
    data = answers([SPEND], **{field: value})
    assert client.post(f"{URL}/preview", data).status_code == 200
    assert client.post(URL, data).status_code in (302, 400)

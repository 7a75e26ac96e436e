"""The coupon-campaign wizard: answers become the API's campaign request (same service as POST /v1/campaigns),
the rule builder's conditions and the limits and budget become one validation rule, the live preview
computes the discount on a sample cart and sample codes, and the Junior Marketer's approvals apply."""

from decimal import Decimal

import pytest
from django.test import Client

from backoffice import roles, wizard
from core.models import AsyncAction
from promo.models import Campaign, Voucher
from rules.models import ValidationRuleAssignment
from tests.promo.factories import CategoryFactory

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def answers(**overrides) -> dict:
    data = {"name": "Spring 15", "description": "", "category": "", "discount_type": "PERCENT",
            "discount_value": "15", "max_discount": "", "match": "all", "start_date": "", "expiration_date": "",
            "per_code": "1", "per_customer": "", "total_redemptions": "", "budget": "", "count": "20",
            "charset": "unambiguous", "length": "8", "prefix": "SPR-", "postfix": "", "pattern": "",
            "cart_amount": "", "rule-TOTAL_FORMS": "3", "rule-INITIAL_FORMS": "0", "rule-MIN_NUM_FORMS": "0",
            "rule-MAX_NUM_FORMS": "10"}
    for index in range(3):
        data.update({f"rule-{index}-name": "", f"rule-{index}-property": "", f"rule-{index}-operator": "",
                     f"rule-{index}-value": ""})
    data.update(overrides)
    return data


def test_plan_to_rules_and_request():
    plan = wizard.Plan(name="X", discount_type="AMOUNT", discount_value=Decimal("10.00"),
                       conditions=(wizard.Condition("order.amount", "$more_than_or_equal", "50"),
                                   wizard.Condition("customer.address.country", "$in", "DE, AT")),
                       match="any", per_customer=1, budget=100000, count=5)
    rules = wizard.rules_of(plan)
    assert rules["1"]["conditions"] == {"$more_than_or_equal": [5000]}
    assert rules["2"]["conditions"] == {"$in": ["DE", "AT"]}
    assert rules["3"]["name"] == "redemption.count.per_customer"
    assert rules["4"] == {"name": "campaign.orders.amount_discounted", "property": None,
                          "conditions": {"$less_than_or_equal": [100000]}, "rules": {}}
    assert rules["logic"] == "(1 or 2) and 3 and 4"
    request = wizard.campaign_request(plan, ["val_1"])
    assert request["voucher"]["discount"]["amount_off"] == 1000
    assert request["vouchers_count"] == 5 and request["validation_rules"] == ["val_1"]


def test_preview_computes_the_discount_and_sample_codes():
    plan = wizard.Plan(name="X", discount_type="PERCENT", discount_value=Decimal("20"), max_discount=1500,
                       prefix="SPR-", length=8, count=100)
    out = wizard.preview(plan, cart_amount=10000)
    assert out["carts"] == [{"amount": 10000, "discount": 1500, "total": 8500}]
    assert len(out["codes"]) == 5 and all(c.startswith("SPR-") and len(c) == 12 for c in out["codes"])
    assert out["errors"] == []
    tiny = wizard.preview(wizard.Plan(name="X", discount_type="AMOUNT", discount_value=Decimal(5), length=4,
                                      count=1000))
    assert any("code" in e for e in tiny["errors"])  # 32^4 codes cannot hold a billion per code


def test_preview_endpoint_answers_json(make_user):
    client = browser(make_user(roles.MARKETER))
    response = client.post("/backoffice/campaigns/new/preview", answers(cart_amount="80", discount_value="25"))
    body = response.json()
    assert body["carts"][0]["discount"] == 2000 and body["carts"][0]["total_text"] == "60.00"
    assert body["summary"] == "25% off" and len(body["codes"]) == 5
    partial = client.post("/backoffice/campaigns/new/preview", answers(name="", discount_value="")).json()
    assert partial["errors"] and partial["carts"] == []


def test_marketer_creates_a_campaign_with_a_rule_and_codes(make_user, django_capture_on_commit_callbacks):
    marketer = make_user(roles.MARKETER, "marketer")
    category = CategoryFactory(name="Shoes")
    with django_capture_on_commit_callbacks(execute=True):
        response = browser(marketer).post("/backoffice/campaigns/new", answers(**{
            "category": category.public_id, "per_customer": "1", "budget": "500", "sorry_coupons": "on",
            "rule-0-name": "order.amount", "rule-0-operator": "$more_than_or_equal", "rule-0-value": "50"}))
    assert response.status_code == 302, response.content[:2000]
    campaign = Campaign.objects.get(name="Spring 15")
    action = AsyncAction.objects.get(type="CAMPAIGN_VOUCHERS_GENERATE")
    assert response.url == f"/backoffice/campaigns/{campaign.public_id}/codes?action={action.public_id}"
    assert campaign.category == category and campaign.sorry_coupons and campaign.created_by == marketer
    assert campaign.approval_status == "APPROVED" and campaign.is_live
    assert campaign.voucher_template["discount"]["percent_off"] == 15
    assert Voucher.objects.filter(campaign=campaign, code__startswith="SPR-").count() == 20
    rule = ValidationRuleAssignment.objects.get(related_object_id=campaign.public_id).rule
    assert rule.rules["logic"] == "1 and 2 and 3"
    page = browser(marketer).get(response.url)
    assert page.status_code == 200 and b"SPR-" in page.content
    progress = browser(marketer).get(f"/backoffice/async-actions/{action.public_id}").json()
    assert progress["status"] == "DONE" and progress["progress"] == 100 and progress["processed"] == 20


def test_invalid_answers_show_the_form_again(make_user):
    client = browser(make_user(roles.MARKETER))
    response = client.post("/backoffice/campaigns/new", answers(discount_value="", **{
        "rule-0-name": "order.amount", "rule-0-operator": "$more_than", "rule-0-value": ""}))
    assert response.status_code == 400
    response = client.post("/backoffice/campaigns/new", answers(**{
        "rule-0-name": "order.amount", "rule-0-operator": "$more_than", "rule-0-value": ""}))
    assert response.status_code == 400 and b"give a value" in response.content
    assert not Campaign.objects.exists()
    response = client.post("/backoffice/campaigns/new", answers(length="4", count="5000"))
    assert response.status_code == 400 and not Campaign.objects.exists()


def test_no_javascript_preview_button(make_user):
    response = browser(make_user(roles.MARKETER)).post("/backoffice/campaigns/new",
                                                       answers(preview="1", discount_value="10"))
    assert response.status_code == 200 and b"10% off" in response.content and b"SPR-" in response.content
    assert not Campaign.objects.exists()


def test_junior_marketers_campaign_waits_for_approval(make_user):
    junior = make_user(roles.JUNIOR_MARKETER, "junior")
    response = browser(junior).post("/backoffice/campaigns/new", answers(discount_value="50"))
    assert response.status_code == 302
    campaign = Campaign.objects.get(name="Spring 15")
    assert campaign.approval_status == "PENDING" and not campaign.active
    assert "above the cap" in campaign.approval_note
    page = browser(junior).get(response.url)
    assert b"Waiting for approval" in page.content


def test_duplicate_name_is_an_error_on_the_form(make_user):
    client = browser(make_user(roles.MARKETER))
    client.post("/backoffice/campaigns/new", answers(count="0"))
    response = client.post("/backoffice/campaigns/new", answers(count="0"))
    assert response.status_code == 400 and b"already exists" in response.content
    assert Campaign.objects.count() == 1


@pytest.mark.parametrize("role", [roles.CUSTOMER_SERVICE, roles.ANALYST, roles.PARTNER])
def test_roles_that_may_not_create_campaigns_get_403(make_user, role):
    client = browser(make_user(role))
    assert client.get("/backoffice/campaigns/new").status_code == 403
    assert client.post("/backoffice/campaigns/new", answers()).status_code == 403
    assert client.post("/backoffice/campaigns/new/preview", answers()).status_code == 403
    assert not Campaign.objects.exists()


def test_progress_endpoint_shows_an_action_to_its_starter_and_to_who_may_view_actions(make_user):
    junior = make_user(roles.JUNIOR_MARKETER, "junior")
    action = AsyncAction.objects.create(type="CAMPAIGN_VOUCHERS_GENERATE", user=junior, total=10, processed=4,
                                        progress=40, status="IN_PROGRESS")
    url = f"/backoffice/async-actions/{action.public_id}"
    assert browser(junior).get(url).json()["progress"] == 40
    assert browser(make_user(roles.ANALYST)).get(url).status_code == 200  # core.view_asyncaction
    assert browser(make_user(roles.CUSTOMER_SERVICE)).get(url).status_code == 404
    assert browser(junior).get("/backoffice/async-actions/aa_nope").status_code == 404


@pytest.mark.parametrize("field", ["discount_value", "max_discount", "per_code", "per_customer", "total_redemptions",
                                   "budget", "count", "length", "prefix", "pattern", "start_date", "rule-0-value",
                                   "rule-0-name", "rule-0-operator", "charset", "category", "cart_amount", "target"])
@pytest.mark.parametrize("value", ["abc", "-1", "1e999999", "99999999999999999999999", "\x00", "a/b c", "####"])
def test_no_input_makes_a_500(make_user, field, value):
    client = browser(make_user(roles.MARKETER))
    data = answers(**{field: value, "rule-0-name": "order.amount", "rule-0-operator": "$more_than",
                      "rule-0-value": "10"})
    if field in ("rule-0-name", "rule-0-operator", "rule-0-value"):
        data[field] = value
    assert client.post("/backoffice/campaigns/new/preview", data).status_code == 200
    assert client.post("/backoffice/campaigns/new", data).status_code in (302, 400)


# ---------------------------------------------------------------- item-targeted discounts (issue 7)

def test_item_targets_come_from_the_catalog_and_the_preview_discounts_the_item():
    from tests.catalog.factories import CollectionItemFactory, ProductFactory, SkuFactory

    shoe = ProductFactory(name="Shoe", price=4000)
    sku = SkuFactory(product=shoe, sku="Shoe 42", price=4500)
    item = CollectionItemFactory(collection__name="Summer", product=ProductFactory(name="Hat", price=2000))
    groups = dict(wizard.target_choices())
    assert (f"product:{shoe.public_id}", "Shoe") in groups["Products"]
    assert (f"sku:{sku.public_id}", "Shoe / Shoe 42") in groups["SKUs"]
    assert (f"products_collection:{item.collection.public_id}", "Summer") in groups["Collections"]

    percent = wizard.Plan(name="X", discount_type="PERCENT", discount_value=Decimal("25"),
                          target=f"product:{shoe.public_id}", count=1)
    out = wizard.preview(percent, cart_amount=10000)
    assert out["errors"] == [] and out["target"] == "Shoe"
    assert out["discount"]["effect"] == "APPLY_TO_ITEMS"
    assert out["carts"] == [{"amount": 10000, "discount": 1000, "total": 9000, "item_name": "Shoe",
                             "item_price": 4000, "item_discount": 1000}]  # 25% of the shoe, not of the cart
    fixed = wizard.Plan(name="X", discount_type="FIXED", discount_value=Decimal("30"),
                        target=f"sku:{sku.public_id}", count=1)
    assert wizard.preview(fixed, cart_amount=5000)["carts"][0]["item_discount"] == 1500  # 45.00 -> 30.00
    amount = wizard.Plan(name="X", discount_type="AMOUNT", discount_value=Decimal("5"),
                         target=f"products_collection:{item.collection.public_id}", count=1)
    cart = wizard.preview(amount, cart_amount=5000)["carts"][0]
    assert cart["item_name"] == "Hat" and cart["item_discount"] == 500
    gone = wizard.preview(wizard.Plan(name="X", discount_type="PERCENT", discount_value=Decimal(5),
                                      target="product:prod_nope", count=1))
    assert gone["carts"] == [] and any("Cannot find" in e for e in gone["errors"])
    rule = wizard.rule_request(percent)
    assert rule["rules"] == {} and rule["applicable_to"]["included"][0]["id"] == shoe.public_id


def test_preview_endpoint_shows_the_item_discount(make_user):
    from tests.catalog.factories import ProductFactory

    shoe = ProductFactory(name="Shoe", price=4000)
    client = browser(make_user(roles.MARKETER))
    body = client.post("/backoffice/campaigns/new/preview",
                       answers(cart_amount="100", discount_value="50", target=f"product:{shoe.public_id}")).json()
    assert body["summary"] == "50% off on Shoe" and body["errors"] == []
    assert body["carts"][0]["item_discount_text"] == "20.00" and body["carts"][0]["total_text"] == "80.00"
    page = client.get("/backoffice/campaigns/new")
    assert f'value="product:{shoe.public_id}"'.encode() in page.content
    no_js = client.post("/backoffice/campaigns/new", answers(preview="1", discount_value="50",
                                                             target=f"product:{shoe.public_id}"))
    assert b"off Shoe" in no_js.content


def test_wizard_creates_an_item_discount_that_validations_apply_to_the_product_only(
        make_user, api, django_capture_on_commit_callbacks):
    from tests.catalog.factories import ProductFactory

    shoe, sock = ProductFactory(name="Shoe", price=4000), ProductFactory(name="Sock", price=1000)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser(make_user(roles.MARKETER)).post("/backoffice/campaigns/new", answers(
            discount_value="25", count="1", per_customer="1", target=f"product:{shoe.public_id}"))
    assert response.status_code == 302, response.content[:2000]
    campaign = Campaign.objects.get(name="Spring 15")
    assert campaign.voucher_template["discount"]["effect"] == "APPLY_TO_ITEMS"
    rule = ValidationRuleAssignment.objects.get(related_object_id=campaign.public_id).rule
    assert rule.applicable_to[0]["object"] == "product" and rule.applicable_to[0]["id"] == shoe.public_id
    code = Voucher.objects.get(campaign=campaign).code
    order = {"amount": 5000, "items": [{"product_id": shoe.public_id, "quantity": 1, "price": 4000, "amount": 4000},
                                       {"product_id": sock.public_id, "quantity": 1, "price": 1000, "amount": 1000}]}
    body = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": code}], "order": order,
                                        "customer": {"source_id": "wizard-item"}}).json()
    assert body["valid"] is True, body
    assert body["order"]["items_discount_amount"] == 1000 and body["order"]["total_amount"] == 4000
    shoe_line = next(i for i in body["order"]["items"] if i["product_id"] == shoe.public_id)
    assert shoe_line["discount_amount"] == 1000


def test_item_discounts_keep_the_juniors_percent_cap(make_user, settings):
    from tests.catalog.factories import ProductFactory

    settings.JUNIOR_MARKETER_ALWAYS_NEEDS_APPROVAL = False
    settings.JUNIOR_MARKETER_REQUIRES_BUDGET = False
    shoe = ProductFactory(name="Shoe")
    junior = browser(make_user(roles.JUNIOR_MARKETER, "junior"))
    junior.post("/backoffice/campaigns/new", answers(name="Small", discount_value="20", count="0",
                                                     target=f"product:{shoe.public_id}"))
    junior.post("/backoffice/campaigns/new", answers(name="Big", discount_value="60", count="0",
                                                     target=f"product:{shoe.public_id}"))
    assert Campaign.objects.get(name="Small").approval_status == "APPROVED"
    big = Campaign.objects.get(name="Big")
    assert big.approval_status == "PENDING" and "above the cap" in big.approval_note

"""The customer-service console: search, one customer's page, sorry coupons within the cap, disabling and
re-enabling a code (audited), re-running a validation to see which rule refused a code, refunds to a gift card."""

import pytest
from django.test import Client

from backoffice import roles
from core.context import acting
from core.models import AuditEntry
from customers.models import CustomerActivity
from promo import sorry
from promo.models import Redemption, Voucher
from tests.backoffice.conftest import session_client
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.promo.factories import CampaignFactory, RuleFactory, VoucherFactory, assign

pytestmark = pytest.mark.django_db

TEMPLATE = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1000},
            "code_config": {"length": 10, "charset": "ABCDEFGHJKLMNPQRSTUVWXYZ23456789", "prefix": "SORRY-"}}


@pytest.fixture
def agent(make_user):
    return make_user(roles.CUSTOMER_SERVICE, "agent")


@pytest.fixture
def customer():
    return CustomerFactory(name="Ada Lovelace", email="ada@example.com", phone="+44 20 7946 0958",
                           source_id="shop-ada")


@pytest.fixture
def sorry_campaign():
    return CampaignFactory(name="Sorry 10", sorry_coupons=True, voucher_template=TEMPLATE)


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# ---------------------------------------------------------------- search and the customer's page

@pytest.mark.parametrize("term", ["ada@example.com", "ADA@example.com", "+44 20 7946 0958", "Lovelace", "shop-ada"])
def test_search_finds_the_customer_and_opens_their_page(agent, customer, term):
    response = browser(agent).get("/backoffice/customers/", {"q": term})
    assert response.status_code == 302
    assert response.url == f"/backoffice/customers/{customer.public_id}/"


def test_search_by_public_id_and_a_list_when_several_match(agent, customer):
    CustomerFactory(name="Ada Byron", email="byron@example.com")
    client = browser(agent)
    assert client.get("/backoffice/customers/", {"q": customer.public_id}).status_code == 302
    page = client.get("/backoffice/customers/", {"q": "Ada"})
    assert page.status_code == 200
    assert b"2 customers" in page.content
    assert b"No customer matches" in client.get("/backoffice/customers/", {"q": "nobody"}).content
    assert client.get("/backoffice/customers/", {"q": "nobody\x00"}).status_code == 200


def test_customer_page_shows_history_with_failure_reasons(agent, customer, sorry_campaign):
    held = VoucherFactory(code="HELD-1", campaign=sorry_campaign, holder=customer)
    order = OrderFactory(customer=customer, source_id="ORD-77", amount=5000)
    Redemption.objects.create(result="SUCCESS", status="SUCCEEDED", related_object_type="voucher",
                              related_object_id=held.public_id, voucher=held, campaign=sorry_campaign,
                              customer=customer, order=order, amount=1000)
    Redemption.objects.create(result="FAILURE", status="FAILED", related_object_type="voucher",
                              related_object_id=held.public_id, voucher=held, customer=customer,
                              failure_code="order_rules_violated",
                              failure_message="Validation rule 'Min 100' failed: rule 1: order.amount")
    page = browser(agent).get(f"/backoffice/customers/{customer.public_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    for text in ("Ada Lovelace", "HELD-1", "ORD-77", "order_rules_violated", "Validation rule &#x27;Min 100&#x27;",
                 "1 failed", "Issue a sorry coupon", "Why was a code refused?", "10.00 off"):
        assert text in html, text


def test_unknown_customer_is_404_and_anonymous_goes_to_login(agent):
    assert browser(agent).get("/backoffice/customers/cust_nope/").status_code == 404
    response = Client().get("/backoffice/customers/")
    assert response.status_code == 302 and "/admin/login/" in response.url


# ---------------------------------------------------------------- sorry coupons

def test_agent_issues_a_sorry_coupon_held_by_the_customer(agent, customer, sorry_campaign):
    response = browser(agent).post(f"/backoffice/customers/{customer.public_id}/sorry-coupon",
                                   {"campaign": sorry_campaign.public_id, "reason": "Parcel two days late"})
    assert response.status_code == 302
    voucher = Voucher.objects.get(holder=customer)
    assert voucher.code.startswith("SORRY-") and len(voucher.code) == 16
    assert voucher.campaign == sorry_campaign and voucher.discount["amount_off"] == 1000
    assert "Parcel two days late" in voucher.additional_info
    entries = AuditEntry.objects.filter(object_type="promo.voucher", object_id=str(voucher.pk))
    assert {e.action for e in entries} == {"create", "update"}
    assert all(e.actor == "agent" for e in entries)
    assert CustomerActivity.objects.filter(customer=customer, type=sorry.ACTIVITY).exists()


def test_smaller_value_allowed_and_above_the_cap_refused(agent, customer, settings):
    settings.CS_SORRY_COUPON_MAX_AMOUNT = 1500
    settings.CS_SORRY_COUPON_MAX_PERCENT = 20
    campaign = CampaignFactory(name="Sorry percent", sorry_coupons=True,
                               voucher_template={**TEMPLATE, "discount": {"type": "PERCENT", "percent_off": 10}})
    with acting(agent):
        assert sorry.issue(customer, campaign, reason="late", value=15).discount["percent_off"] == 15
        with pytest.raises(Exception, match="above the sorry-coupon cap of 20%"):
            sorry.issue(customer, campaign, reason="late", value=25)
    big = CampaignFactory(name="Sorry 50", sorry_coupons=True,
                          voucher_template={**TEMPLATE, "discount": {"type": "AMOUNT", "amount_off": 5000}})
    client = browser(agent)
    client.post(f"/backoffice/customers/{customer.public_id}/sorry-coupon",
                {"campaign": big.public_id, "reason": "late"})
    assert not Voucher.objects.filter(campaign=big).exists()  # 50.00 is above the 15.00 cap
    client.post(f"/backoffice/customers/{customer.public_id}/sorry-coupon",
                {"campaign": big.public_id, "reason": "late", "value": "12.50"})
    assert Voucher.objects.get(campaign=big).discount["amount_off"] == 1250


def test_only_campaigns_marked_for_sorry_coupons(agent, customer):
    plain = CampaignFactory(name="Plain", voucher_template=TEMPLATE)
    with acting(agent), pytest.raises(Exception, match="not a live campaign marked for sorry coupons"):
        sorry.issue(customer, plain, reason="late")
    pending = CampaignFactory(name="Pending sorry", sorry_coupons=True, voucher_template=TEMPLATE,
                              approval_status="PENDING", active=False)
    assert list(sorry.sorry_campaigns(agent)) == []
    with acting(agent), pytest.raises(Exception, match="not a live campaign"):
        sorry.issue(customer, pending, reason="late")


def test_roles_without_the_permission_cannot_issue(make_user, customer, sorry_campaign):
    analyst = make_user(roles.ANALYST, "analyst")
    response = browser(analyst).post(f"/backoffice/customers/{customer.public_id}/sorry-coupon",
                                     {"campaign": sorry_campaign.public_id, "reason": "late"})
    assert response.status_code == 403
    assert not Voucher.objects.filter(holder=customer).exists()
    page = browser(analyst).get(f"/backoffice/customers/{customer.public_id}/")
    assert page.status_code == 200 and b"Issue a sorry coupon" not in page.content


def test_a_double_click_does_not_issue_two_coupons(agent, customer, sorry_campaign):
    client = browser(agent)
    for _ in range(2):
        client.post(f"/backoffice/customers/{customer.public_id}/sorry-coupon",
                    {"campaign": sorry_campaign.public_id, "reason": "late"})
    assert Voucher.objects.filter(holder=customer).count() == 1
    client.post(f"/backoffice/customers/{customer.public_id}/sorry-coupon",
                {"campaign": sorry_campaign.public_id, "reason": "late again, second parcel"})
    assert Voucher.objects.filter(holder=customer).count() == 2


def test_reason_is_required(agent, customer, sorry_campaign):
    with acting(agent), pytest.raises(Exception, match="Say why"):
        sorry.issue(customer, sorry_campaign, reason="  ")


# ---------------------------------------------------------------- disable / enable a code

def test_agent_disables_and_reenables_a_customers_code(agent, customer, sorry_campaign):
    voucher = VoucherFactory(code="HELD-2", campaign=sorry_campaign, holder=customer)
    client = browser(agent)
    url = f"/backoffice/customers/{customer.public_id}/codes/toggle"
    assert client.post(url, {"code": "HELD-2", "active": "0"}).status_code == 302
    voucher.refresh_from_db()
    assert voucher.active is False
    client.post(url, {"code": "HELD-2", "active": "1"})
    voucher.refresh_from_db()
    assert voucher.active is True
    changes = [e.changes for e in AuditEntry.objects.filter(object_type="promo.voucher", object_id=str(voucher.pk))
               .order_by("id")]
    assert changes == [{"active": [True, False]}, {"active": [False, True]}]


def test_codes_of_other_customers_cannot_be_toggled(agent, customer, sorry_campaign):
    VoucherFactory(code="OTHER", campaign=sorry_campaign, holder=CustomerFactory())
    response = browser(agent).post(f"/backoffice/customers/{customer.public_id}/codes/toggle",
                                   {"code": "OTHER", "active": "0"})
    assert response.status_code == 404
    assert Voucher.objects.get(code="OTHER").active


def test_analyst_cannot_toggle(make_user, customer, sorry_campaign):
    VoucherFactory(code="HELD-3", campaign=sorry_campaign, holder=customer)
    browser(make_user(roles.ANALYST)).post(f"/backoffice/customers/{customer.public_id}/codes/toggle",
                                           {"code": "HELD-3", "active": "0"})
    assert Voucher.objects.get(code="HELD-3").active


# ---------------------------------------------------------------- re-run a validation

def test_rerun_validation_names_the_rule_and_condition_that_refused(agent, customer, sorry_campaign):
    voucher = VoucherFactory(code="MIN100", campaign=sorry_campaign, holder=customer)
    rule = RuleFactory(name="Orders from 100", rules={"1": {"name": "order.amount", "conditions": {
        "$more_than_or_equal": [10000]}}})
    assign(rule, voucher)
    client = browser(agent)
    page = client.get(f"/backoffice/customers/{customer.public_id}/", {"code": "MIN100", "amount": "50.00"})
    html = page.content.decode()
    assert "refused: order_rules_violated" in html
    assert "Validation rule &#x27;Orders from 100&#x27;" in html
    assert "Order amount: at least 100.00 (here: 50.00)" in html
    page = client.get(f"/backoffice/customers/{customer.public_id}/", {"code": "MIN100", "amount": "120",
                                                                       "items": "prod_a x2 @ 60"})
    assert "applies</strong>: 10.00 off, to pay 110.00" in page.content.decode()
    assert not Redemption.objects.exists()  # nothing redeemed


def test_rerun_validation_of_an_unknown_code(agent, customer):
    page = browser(agent).get(f"/backoffice/customers/{customer.public_id}/", {"code": "NOPE", "amount": "10"})
    assert page.status_code == 200
    assert "refused" in page.content.decode().lower()


def test_items_parser():
    from backoffice.forms import parse_items

    assert parse_items("prod_a x2 @ 30, sku_b") == [
        {"product_id": "prod_a", "quantity": 2, "price": 3000, "amount": 6000}, {"sku_id": "sku_b", "quantity": 1}]
    assert parse_items("prod_c x3") == [{"product_id": "prod_c", "quantity": 3}]


# ---------------------------------------------------------------- refunds to a gift card

def test_marketer_refunds_to_a_new_gift_card(make_user, customer):
    _refunds_to_a_new_card(make_user(roles.MARKETER, "marketer"), customer)


def test_customer_service_refunds_with_the_refund_permission(agent, customer):
    """Customer Service may refund onto cards (giftcards.refund_giftcard) without changing them otherwise."""
    assert agent.has_perm("giftcards.refund_giftcard") and not agent.has_perm("giftcards.change_giftcard")
    _refunds_to_a_new_card(agent, customer)


def test_analyst_cannot_refund(make_user, customer):
    response = browser(make_user(roles.ANALYST)).post(f"/backoffice/customers/{customer.public_id}/refund",
                                                      {"card": "new", "amount": "1", "order": "ORD-1"})
    assert response.status_code == 403


def _refunds_to_a_new_card(user, customer):
    OrderFactory(source_id="ORD-9", customer=customer, amount=3499)
    client = browser(user)
    response = client.post(f"/backoffice/customers/{customer.public_id}/refund",
                           {"card": "new", "amount": "12.50", "order": "ORD-9", "reason": "returned shoes"})
    assert response.status_code == 302
    card_voucher = Voucher.objects.get(holder=customer, type=Voucher.Type.GIFT_VOUCHER)
    assert card_voucher.gift_card.balance == 1250
    page = client.get(f"/backoffice/customers/{customer.public_id}/")
    assert card_voucher.code in page.content.decode() and "12.50" in page.content.decode()


def test_api_answers_are_unchanged_for_customer_service(agent, customer, sorry_campaign):
    """The console does not widen the API: customer service still cannot create codes through it."""
    response = session_client(agent).post(f"/v1/campaigns/{sorry_campaign.public_id}/vouchers/NEW-CODE", {})
    assert response.status_code == 403


def test_failure_explanations_in_words():
    from backoffice.selectors import explain_failure

    explained = explain_failure(
        "Validation rule 'Orders from 100' (val_x) failed: rule 1: order.amount {'$more_than_or_equal': [10000]} "
        "(actual: 6500); rule 2: customer.address.country {'$in': ['DE', 'AT']} (actual: 'FR'); "
        "rule 3: redemption.count.per_customer {'$less_than_or_equal': [1]} (actual: 2)")
    assert explained["rule"] == "Validation rule 'Orders from 100' (val_x)"
    assert explained["conditions"] == ["Order amount: at least 100.00 (here: 65.00)",
                                       "Customer country: is one of DE, AT (here: FR)",
                                       "Uses by this customer, with this one: at most 1 (here: 2)"]
    assert explain_failure("Voucher expired") == {"rule": "", "conditions": [], "text": "Voucher expired"}
    odd = "Validation rule 'X' (val_y) failed: rule logic: logic {} (actual: '1 and') : bad"
    assert explain_failure(odd)["conditions"] == ["rule logic: logic {} (actual: '1 and') : bad"]


@pytest.mark.parametrize("value", ["abc", "-1", "1e999999", "99999999999999999999999", "\x00", "x" * 3000, "@@,,x"])
def test_no_input_makes_a_500(agent, customer, sorry_campaign, value):
    client = browser(agent)
    page = f"/backoffice/customers/{customer.public_id}/"
    for params in ({"code": value, "amount": "10"}, {"code": "X", "amount": value}, {"code": "X", "amount": "10",
                                                                                      "items": value}):
        assert client.get(page, params).status_code == 200
    assert client.get("/backoffice/customers/", {"q": value}).status_code in (200, 302)
    for data in ({"campaign": value, "reason": "r"}, {"campaign": sorry_campaign.public_id, "reason": value},
                 {"campaign": sorry_campaign.public_id, "reason": "r", "value": value}):
        assert client.post(page + "sorry-coupon", data).status_code == 302
    assert client.post(page + "codes/toggle", {"code": value, "active": value}).status_code == 404
    assert client.get(f"/backoffice/customers/{value[:50]}x/").status_code == 404

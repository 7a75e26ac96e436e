"""Audience conditions: marketing permissions (consents) and the order's delivery address, through the engine."""

import pytest

from customers import services as customer_services
from promo.context import build_context
from rules.conditions import CONDITIONS
from tests.conftest import assert_error
from tests.promo.factories import RuleFactory, VoucherFactory, assign
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

PORTO = {"city": "Porto", "country": "PT", "postal_code": "4000-322", "line_1": "Rua de Santa Catarina 1"}
LISBON = {"city": "Lisboa", "country": "PT", "postal_code": "1100-148"}


def validate(api, code, *, customer=None, order=None) -> dict:
    body = {"redeemables": [{"object": "voucher", "id": code}], "order": order or {"amount": 10000}}
    if customer:
        body["customer"] = {"source_id": customer}
    response = api.post("/v1/validations", body)
    assert response.status_code == 200, response.content
    return response.json()


def error_key(answer: dict):
    return (answer["redeemables"][0]["result"].get("error") or {}).get("key")


# ---------------------------------------------------------------- delivery address

def test_delivery_address_in_porto_gets_20_percent(api):
    """The brief's example, with the rule created and assigned through the API."""
    VoucherFactory(code="PORTO20", discount={"type": "PERCENT", "percent_off": 20})
    rule = api.post("/v1/validation-rules", {
        "name": "Delivered in Porto", "error": {"message": "Only for deliveries in Porto"},
        "rules": {"1": {"name": "order.delivery_address.city", "conditions": {"$is": ["Porto"]}},
                  "2": {"name": "order.delivery_address.country", "conditions": {"$is": ["PT"]}},
                  "logic": "1 and 2"}})
    assert rule.status_code == 201, rule.content
    assigned = api.post(f"/v1/validation-rules/{rule.json()['id']}/assignments",
                        {"related_object_type": "voucher", "related_object_id": "PORTO20"})
    assert assigned.status_code == 201, assigned.content

    response = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": "PORTO20"}],
                                            "order": {"amount": 10000, "metadata": {"delivery_address": PORTO}}})
    answer = assert_matches_spec(response, "/v1/validations", "post")
    assert answer["valid"] is True
    assert answer["order"]["total_discount_amount"] == 2000 and answer["order"]["total_amount"] == 8000

    refused = validate(api, "PORTO20", order={"amount": 10000, "metadata": {"delivery_address": LISBON}})
    assert refused["valid"] is False and error_key(refused) == "order_rules_violated"
    assert refused["redeemables"][0]["result"]["error"]["message"] == "Only for deliveries in Porto"
    assert validate(api, "PORTO20")["valid"] is False  # no address at all
    assert validate(api, "PORTO20", order={"amount": 10000, "metadata": {"delivery_address": "Porto"}})[
        "valid"] is False  # not an object: no address


def test_delivery_address_of_a_stored_order(api):
    voucher = VoucherFactory(code="PORTOPC", discount={"type": "PERCENT", "percent_off": 20})
    assign(RuleFactory(rules={"1": {"name": "order.delivery_address.postal_code",
                                    "conditions": {"$starts_with": ["4000"]}}}), voucher)
    customer_services.order_create_or_update({"source_id": "ord-porto", "amount": 5000,
                                              "metadata": {"delivery_address": PORTO}})
    customer_services.order_create_or_update({"source_id": "ord-lisbon", "amount": 5000,
                                              "metadata": {"delivery_address": LISBON}})
    assert validate(api, "PORTOPC", order={"source_id": "ord-porto"})["valid"] is True
    assert validate(api, "PORTOPC", order={"source_id": "ord-lisbon"})["valid"] is False
    # What the request sends wins over the stored order's address.
    moved = {"source_id": "ord-lisbon", "metadata": {"delivery_address": PORTO}}
    assert validate(api, "PORTOPC", order=moved)["valid"] is True


def test_delivery_address_values():
    def value(name, payload):
        ctx = build_context({"redeemables": [{"object": "voucher", "id": "X"}], **payload})
        return CONDITIONS[name].value(ctx, {}, "voucher:v_1")

    with_address = {"order": {"amount": 1, "metadata": {"delivery_address": PORTO}}}
    assert value("order.delivery_address.city", with_address) == "Porto"
    assert value("order.delivery_address.country", with_address) == "PT"
    assert value("order.delivery_address.postal_code", with_address) == "4000-322"
    assert value("order.delivery_address.city", {"order": {"amount": 1}}) is None
    assert value("order.delivery_address.city", {}) is None
    assert CONDITIONS["order.delivery_address.city"].error_key == "order_rules_violated"


# ---------------------------------------------------------------- marketing permissions

@pytest.fixture
def consents():
    return (customer_services.consent_create({"name": "newsletter"}),
            customer_services.consent_create({"name": "sms"}))


def grant(source_id: str, **values):
    customer, _ = customer_services.customer_create_or_update({"source_id": source_id})
    customer_services.customer_consents_update(customer, customer_services.clean_consent_changes(values))
    return customer


def test_coupon_for_newsletter_subscribers(api, consents):
    newsletter, sms = consents
    VoucherFactory(code="SUBSCRIBERS", discount={"type": "PERCENT", "percent_off": 10})
    rule = api.post("/v1/validation-rules", {
        "name": "Newsletter, not SMS",
        "rules": {"1": {"name": "customer.marketing_permissions", "property": "newsletter",
                        "conditions": {"$is": [True]}},
                  "2": {"name": "customer.marketing_permissions", "property": sms.public_id,
                        "conditions": {"$is": [False]}},
                  "logic": "1 and 2"}})
    assert rule.status_code == 201, rule.content
    api.post(f"/v1/validation-rules/{rule.json()['id']}/assignments",
             {"related_object_type": "voucher", "related_object_id": "SUBSCRIBERS"})

    grant("reader", newsletter=True)
    grant("everything", newsletter=True, sms=True)
    grant("withdrawn", newsletter=True)
    grant("withdrawn", newsletter=False)
    customer_services.customer_create_or_update({"source_id": "never-asked"})

    assert validate(api, "SUBSCRIBERS", customer="reader")["valid"] is True
    for who in ("everything", "withdrawn", "never-asked", None):
        answer = validate(api, "SUBSCRIBERS", customer=who)
        assert answer["valid"] is False and error_key(answer) == "customer_rules_violated", who


def test_consent_conditions_cost_one_query(consents, django_assert_num_queries):
    customer = grant("counted", newsletter=True)
    ctx = build_context({"redeemables": [{"object": "voucher", "id": "X"}], "customer": {"source_id": "counted"}})
    assert ctx.customer == customer
    condition = CONDITIONS["customer.marketing_permissions"]
    with django_assert_num_queries(1):
        values = [condition.value(ctx, {"property": name}, "voucher:v_1")
                  for name in ("newsletter", "sms", consents[0].public_id, "unknown")]
    assert values == [True, False, True, False]


def test_the_property_is_required(api):
    response = api.post("/v1/validation-rules", {
        "name": "No property", "rules": {"1": {"name": "customer.marketing_permissions",
                                               "conditions": {"$is": [True]}}}})
    assert_error(response, 400, "invalid_payload")

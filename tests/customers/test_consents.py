"""Consents (marketing permissions): definitions, per-customer state with an immutable history, the API,
erasure, segments and the admin."""

import json

import pytest
from django.urls import reverse

from customers import selectors, services
from customers.models import Consent, CustomerConsent, CustomerConsentEvent
from tests.conftest import assert_error
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def newsletter():
    return services.consent_create({"name": "newsletter", "description": "Weekly offers", "category": "email"})


@pytest.fixture
def sms():
    return services.consent_create({"name": "sms", "category": "phone"})


def put_consents(api, customer, body):
    return api.put(f"/v1/customers/{customer.public_id}/consents", body)


# ---------------------------------------------------------------- definitions

def test_create_and_list_consents(api):
    response = api.post("/v1/consents", {"name": "newsletter", "description": "Weekly offers", "category": "email"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["id"].startswith("cnst_") and created["object"] == "consent"
    assert (created["name"], created["description"], created["category"]) == ("newsletter", "Weekly offers", "email")
    api.post("/v1/consents", {"name": "sms"})
    listed = api.get("/v1/consents").json()
    assert listed["object"] == "list" and listed["data_ref"] == "consents" and listed["total"] == 2
    assert [c["name"] for c in listed["consents"]] == ["newsletter", "sms"]
    assert_error(api.post("/v1/consents", {"name": "newsletter"}), 409, "duplicate_found")


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 5}, {"name": "with space"}, {"name": "cnst_x"},
                                  {"name": "unsubscribed"}, {"name": "channel"}, {"name": "ok", "category": 3},
                                  {"name": "x" * 101}, [], "text"])
def test_bad_consent_definitions_are_refused(api, body):
    assert_error(api.post("/v1/consents", body), 400, "invalid_payload")
    assert not Consent.objects.exists()


# ---------------------------------------------------------------- customer state and history

def test_grant_and_withdraw_keeps_an_immutable_history(api, newsletter, sms):
    customer = CustomerFactory(source_id="ana")
    fresh = api.get("/v1/customers/ana/consents").json()
    assert {c["name"]: c["value"] for c in fresh["consents"]} == {"newsletter": None, "sms": None}

    response = put_consents(api, customer, {"newsletter": True, sms.public_id: True, "channel": "web",
                                            "source": "checkout form"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["object"] == "list" and body["total"] == 2
    assert {c["name"]: (c["value"], c["channel"]) for c in body["consents"]} == {
        "newsletter": (True, "web"), "sms": (True, "web")}
    put_consents(api, customer, {"newsletter": False})
    state = {c["name"]: c["value"] for c in api.get(f"/v1/customers/{customer.public_id}/consents").json()["consents"]}
    assert state == {"newsletter": False, "sms": True}

    history = CustomerConsentEvent.objects.filter(customer=customer, consent=newsletter).order_by("id")
    assert [(e.granted, e.channel, e.source) for e in history] == [(True, "web", "checkout form"), (False, "api", "")]
    assert all(e.request_id for e in history)  # the request that made each statement
    current = CustomerConsent.objects.get(customer=customer, consent=newsletter)
    assert current.granted is False and current.last_event == history.last()
    assert CustomerConsent.objects.filter(customer=customer).count() == 2  # one row per customer and consent
    with pytest.raises(ValueError):
        history.first().save()  # history rows are never rewritten

    listed = api.get(f"/v1/customers/{customer.public_id}/consents/history?consent=newsletter").json()
    assert listed["data_ref"] == "history" and listed["total"] == 2
    assert [h["value"] for h in listed["history"]] == [False, True]  # newest first
    assert listed["history"][0]["consent_id"] == newsletter.public_id
    assert api.get("/v1/customers/ana/consents/history").json()["total"] == 3


def test_unsubscribed_withdraws_everything(api, newsletter, sms):
    customer = CustomerFactory()
    put_consents(api, customer, {"newsletter": True, "sms": True})
    put_consents(api, customer, {"unsubscribed": True})
    assert set(CustomerConsent.objects.filter(customer=customer).values_list("granted", flat=True)) == {False}
    assert_error(put_consents(api, customer, {"unsubscribed": True, "sms": True}), 400, "invalid_payload")


@pytest.mark.parametrize("body", [{}, {"newsletter": "yes"}, {"newsletter": 1}, {"newsletter": None},
                                  {"newsletter": True, "channel": 5}, {"unsubscribed": "yes"},
                                  {"newsletter": True, "source": "x" * 300}, ["newsletter"],
                                  {"newsletter": True, "cnst_placeholder": False}])
def test_bad_consent_changes_are_refused(api, newsletter, body):
    if isinstance(body, dict) and "cnst_placeholder" in body:
        body = {"newsletter": True, newsletter.public_id: False}  # the same consent twice, two values
    customer = CustomerFactory()
    assert_error(put_consents(api, customer, body), 400, "invalid_payload")
    assert not CustomerConsentEvent.objects.exists()


def test_unknown_consent_or_customer(api, newsletter):
    customer = CustomerFactory()
    assert_error(put_consents(api, customer, {"nope": True}), 404, "not_found")
    assert_error(api.put("/v1/customers/cust_nope/consents", {"newsletter": True}), 404, "not_found")
    assert_error(api.get("/v1/customers/cust_nope/consents"), 404, "not_found")
    assert_error(api.get(f"/v1/customers/{customer.public_id}/consents/history?consent=nope"),
                 404, "not_found")
    assert not CustomerConsentEvent.objects.exists()


def test_consents_need_an_api_key(anon_api, newsletter):
    customer = CustomerFactory()
    response = anon_api.put(f"/v1/customers/{customer.public_id}/consents", {"newsletter": True})
    assert response.status_code in (401, 403)


def test_rules_read_grants_in_one_query(newsletter, sms, django_assert_num_queries):
    customer = CustomerFactory()
    services.customer_consents_update(customer, services.clean_consent_changes({"newsletter": True, "sms": False}))
    with django_assert_num_queries(1):
        grants = selectors.customer_consent_grants(customer)
    assert grants == {"newsletter": True, newsletter.public_id: True, "sms": False, sms.public_id: False}
    assert selectors.customer_consent_grants(None) == {}


# ---------------------------------------------------------------- erasure

def test_erasure_keeps_an_anonymised_history_and_withdraws(api, newsletter):
    customer = CustomerFactory(source_id="to-erase")
    put_consents(api, customer, {"newsletter": True, "source": "signed up at ana@example.com"})
    assert api.post(f"/v1/customers/{customer.public_id}/permanent-deletion").status_code == 200
    history = list(CustomerConsentEvent.objects.filter(customer=customer).order_by("id"))
    assert [(e.granted, e.channel, e.source) for e in history] == [(True, "api", ""), (False, "erasure", "")]
    assert CustomerConsent.objects.get(customer=customer).granted is False


# ---------------------------------------------------------------- segments

def test_dynamic_segment_follows_consents(api, newsletter):
    from segments.models import SegmentMembership

    created = api.post("/v1/segments", {"name": "Newsletter readers", "type": "auto-update",
                                        "filter": {"consents.newsletter": {"conditions": {"$is": [True]}}}})
    assert created.status_code in (200, 201), created.content
    segment_id = created.json()["id"]
    customer = CustomerFactory()

    def member() -> bool:
        return SegmentMembership.objects.filter(segment__public_id=segment_id, customer=customer,
                                                left_at__isnull=True).exists()

    assert not member()
    put_consents(api, customer, {"newsletter": True})
    assert member()
    put_consents(api, customer, {newsletter.public_id: False})
    assert not member()


def test_segment_filter_on_consents(newsletter, sms):
    from segments.filters import compile_segment_filter, normalize_segment_filter

    granted, withdrawn, never = CustomerFactory(), CustomerFactory(), CustomerFactory()
    services.customer_consents_update(granted, services.clean_consent_changes({"newsletter": True}))
    services.customer_consents_update(withdrawn, services.clean_consent_changes({"newsletter": True}))
    services.customer_consents_update(withdrawn, services.clean_consent_changes({"newsletter": False}))

    def matching(raw):
        compiled = compile_segment_filter(normalize_segment_filter(raw))
        assert compiled.depends_on == {"consents"}
        return set(compiled.apply(selectors.live_customers()))

    assert matching({"consents.newsletter": {"conditions": {"$is": [True]}}}) == {granted}
    assert matching({"consents.newsletter": {"conditions": {"$is": [False]}}}) == {withdrawn, never}
    assert matching({f"consents.{newsletter.public_id}": {"conditions": {"$is": [1]}}}) == {granted}
    assert matching({"consents.newsletter": {"conditions": {"$is": [True]}, "period": {"days": 7}}}) == {granted}
    assert matching({"consents.sms": {"conditions": {"$is": [True]}}}) == set()


# ---------------------------------------------------------------- admin

def test_admin_pages(admin_client, newsletter):
    customer = CustomerFactory(source_id="admin-consents")
    services.customer_consents_update(customer, services.clean_consent_changes({"newsletter": True, "source": "pos"}))
    page = admin_client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    assert page.status_code == 200 and b"consent history" in page.content.lower()
    for name in ("consent", "customerconsentevent"):
        assert admin_client.get(reverse(f"admin:customers_{name}_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:customers_consent_change", args=[newsletter.pk])).status_code == 200
    response = admin_client.post(reverse("admin:customers_consent_add"),
                                 {"name": "profiling", "category": "", "description": "Personalised offers"})
    assert response.status_code == 302 and Consent.objects.filter(name="profiling").exists()
    from core.models import AuditEntry

    assert AuditEntry.objects.filter(object_type="customers.consent").exists()  # staff changes are audited
    refused = admin_client.post(reverse("admin:customers_consent_add"), {"name": "unsubscribed"})
    assert refused.status_code == 200 and not Consent.objects.filter(name="unsubscribed").exists()


# ---------------------------------------------------------------- API shapes

@pytest.fixture
def own_schema(admin_client) -> dict:
    response = admin_client.get("/api/schema", {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def assert_matches_own_schema(schema: dict, response, path: str, method: str) -> dict:
    """The project's own endpoints (not in Voucherify's spec) answer as the project's OpenAPI schema says."""
    from openapi_schema_validator import OAS30Validator

    body = response.json()
    assert response.status_code < 300, body
    responses = schema["paths"][path][method]["responses"]
    expected = responses[str(response.status_code)]["content"]["application/json"]["schema"]
    validator = OAS30Validator({"allOf": [expected], "components": schema["components"]})
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, errors
    return body


def test_api_shapes(api, own_schema, newsletter):
    from tests.spec import assert_matches_spec

    customer = CustomerFactory()
    base = "/v1/customers/{customer_id}/consents"
    assert_matches_own_schema(own_schema, api.post("/v1/consents", {"name": "sms", "category": None}),
                              "/v1/consents", "post")
    assert_matches_own_schema(own_schema, api.get("/v1/consents"), "/v1/consents", "get")
    path = f"/v1/customers/{customer.public_id}/consents"
    assert_matches_own_schema(own_schema, api.get(path), base, "get")  # values null: never asked
    assert_matches_own_schema(own_schema, put_consents(api, customer, {"newsletter": True}), base, "put")
    assert_matches_own_schema(own_schema, api.get(path + "/history"), base + "/history", "get")
    # The customer object of the Voucherify API is unchanged by consents.
    assert_matches_spec(api.get(f"/v1/customers/{customer.public_id}"), "/v1/customers/{customerId}", "get")
    assert "consents" not in api.get(f"/v1/customers/{customer.public_id}").json()

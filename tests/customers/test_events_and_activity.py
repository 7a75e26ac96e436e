"""POST /v1/events, the custom-event selectors, and GET /v1/customers/{id}/activity."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import MetadataSchema
from customers import selectors, services
from customers.models import Customer, CustomerActivity, CustomEvent
from tests.conftest import assert_error
from tests.customers.factories import CustomerFactory, CustomEventFactory
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- events

def test_event_is_stored_and_answered_in_the_spec_shape(api):
    customer = CustomerFactory(source_id="c1", name="Kim", email="kim@example.com", metadata={"vip": True})
    response = api.post("/v1/events", {"event": "newsletter_signup", "customer": {"source_id": "c1"},
                                       "metadata": {"list": "weekly"}, "referral": None, "loyalty": None})
    assert response.status_code == 200
    body = assert_matches_spec(response, "/v1/events", "post")
    assert body == {"object": "event", "type": "newsletter_signup", "referral": None, "loyalty": None,
                    "metadata": {"list": "weekly"},
                    "customer": {"id": customer.public_id, "source_id": "c1", "name": "Kim",
                                 "email": "kim@example.com", "metadata": {"vip": True}, "object": "customer"}}
    event = CustomEvent.objects.get()
    assert (event.name, event.customer_id, event.metadata) == ("newsletter_signup", customer.pk, {"list": "weekly"})
    activity = CustomerActivity.objects.get(type="customer.custom_event")
    assert activity.data["event"] == {"id": event.public_id, "type": "newsletter_signup",
                                      "metadata": {"list": "weekly"}, "object": "event"}


def test_event_upserts_the_customer(api):
    api.post("/v1/events", {"event": "visit", "customer": {"source_id": "new-one", "name": "Neo"}})
    customer = Customer.objects.get(source_id="new-one")
    assert customer.name == "Neo"
    api.post("/v1/events", {"event": "visit", "customer": {"source_id": "new-one", "email": "neo@example.com"}})
    customer.refresh_from_db()
    assert customer.email == "neo@example.com" and Customer.objects.count() == 1


def test_event_for_a_customer_by_id(api):
    customer = CustomerFactory()
    body = api.post("/v1/events", {"event": "visit", "customer": {"id": customer.public_id}}).json()
    assert body["customer"]["id"] == customer.public_id


@pytest.mark.parametrize("payload, key", [
    ({"customer": {"source_id": "c"}}, "invalid_payload"),
    ({"event": "", "customer": {"source_id": "c"}}, "invalid_payload"),
    ({"event": 5, "customer": {"source_id": "c"}}, "invalid_payload"),
    ({"event": "x" * 256, "customer": {"source_id": "c"}}, "invalid_payload"),
    ({"event": "visit"}, "invalid_payload"),
    ({"event": "visit", "customer": None}, "invalid_payload"),
    ({"event": "visit", "customer": {"name": "no id"}}, "invalid_payload"),
    ({"event": "visit", "customer": {"source_id": "c"}, "metadata": [1]}, "invalid_payload"),
    ({"event": "visit", "customer": {"source_id": "c"}, "referral": "CODE"}, "invalid_payload"),
])
def test_bad_event_input_is_400(api, payload, key):
    assert_error(api.post("/v1/events", payload), 400, key)
    assert CustomEvent.objects.count() == 0 and Customer.objects.count() == 0


def test_event_for_an_unknown_customer_id_is_404(api):
    assert_error(api.post("/v1/events", {"event": "visit", "customer": {"id": "cust_missing"}}), 404, "not_found")


def test_event_metadata_follows_the_event_schema(api):
    MetadataSchema.objects.create(related_object="event", properties={"score": {"type": "number", "max": 10}})
    body = assert_error(api.post("/v1/events", {"event": "quiz", "customer": {"source_id": "c"},
                                                "metadata": {"score": 11}}), 400, "invalid_metadata")
    assert "metadata.score" in body["details"]
    assert Customer.objects.count() == 0  # nothing half-written


def test_event_malformed_json(api):
    assert_error(api.post("/v1/events", raw="{"), 400, "invalid_json")


def test_event_selectors_count_by_name_and_period():
    customer = CustomerFactory()
    other = CustomerFactory()
    CustomEventFactory.create_batch(3, customer=customer, name="visit")
    CustomEventFactory(customer=customer, name="purchase")
    CustomEventFactory(customer=other, name="visit")
    old = CustomEventFactory(customer=customer, name="visit")
    CustomEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    month_ago = timezone.now() - timedelta(days=30)
    assert selectors.custom_event_count(customer, "visit") == 4
    assert selectors.custom_event_count(customer, "visit", since=month_ago) == 3
    assert selectors.customer_events(customer).count() == 5
    assert list(selectors.customer_events(customer, name="purchase").values_list("name", flat=True)) == ["purchase"]


# ---------------------------------------------------------------- activity

def activity_types(api, ref: str, **query) -> list[str]:
    return [a["type"] for a in api.get(f"/v1/customers/{ref}/activity", **query).json()["data"]]


def test_the_timeline_records_customer_order_and_event_activity(api):
    api.post("/v1/customers", {"source_id": "c1", "name": "Lee"})
    api.put("/v1/customers/c1", {"name": "Lee Chan"})
    api.post("/v1/orders", {"source_id": "o1", "customer": {"source_id": "c1"}, "amount": 100})
    api.put("/v1/orders/o1", {"status": "PAID"})
    api.put("/v1/orders/o1", {"status": "FULFILLED"})
    api.put("/v1/orders/o1", {"status": "CANCELED"})
    api.post("/v1/events", {"event": "review", "customer": {"source_id": "c1"}})
    response = api.get("/v1/customers/c1/activity", limit=20)
    body = assert_matches_spec(response, "/v1/customers/{customerId}/activity", "get")
    assert [a["type"] for a in body["data"]] == [
        "customer.custom_event",
        "customer.order.canceled", "customer.order.updated",
        "customer.order.fulfilled", "customer.order.updated",
        "customer.order.paid", "customer.order.updated",
        "customer.order.created",
        "customer.updated", "customer.created",
    ]
    paid_update = body["data"][6]
    assert paid_update["data"]["order"]["status"] == "PAID" and paid_update["data"]["changed_fields"] == ["status"]
    assert body["data"][0]["data"]["event"]["type"] == "review"
    assert all(a["group_id"].startswith("v-") for a in body["data"])
    assert body["object"] == "list" and body["data_ref"] == "data" and body["has_more"] is False


def test_activity_filters_and_cursor_pagination(api):
    customer = CustomerFactory(source_id="c1")
    for n in range(5):
        services.custom_event_track({"event": f"e{n}", "customer": {"id": customer.public_id}})
    services.customer_update(customer, {"name": "Changed"})
    assert activity_types(api, "c1", type="customer.updated") == ["customer.updated"]

    first = api.get("/v1/customers/c1/activity", limit=2, type="customer.custom_event").json()
    assert [a["data"]["event"]["type"] for a in first["data"]] == ["e4", "e3"]
    assert first["has_more"] is True and first["more_starting_after"] == first["data"][-1]["id"]
    second = api.get("/v1/customers/c1/activity", limit=2, type="customer.custom_event",
                     starting_after_id=first["more_starting_after"]).json()
    assert [a["data"]["event"]["type"] for a in second["data"]] == ["e2", "e1"]
    page3 = api.get("/v1/customers/c1/activity", limit=2, page=3, type="customer.custom_event").json()
    assert [a["data"]["event"]["type"] for a in page3["data"]] == ["e0"] and page3["has_more"] is False
    ascending = api.get("/v1/customers/c1/activity", limit=2, order="created_at").json()
    assert [a["type"] for a in ascending["data"]] == ["customer.custom_event"] * 2
    assert ascending["data"][0]["data"]["event"]["type"] == "e0"


def test_activity_date_window(api):
    customer = CustomerFactory(source_id="c1")
    services.custom_event_track({"event": "old", "customer": {"id": customer.public_id}})
    CustomerActivity.objects.update(created_at=timezone.now() - timedelta(days=5))
    services.custom_event_track({"event": "new", "customer": {"id": customer.public_id}})
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert [a["data"]["event"]["type"] for a in api.get("/v1/customers/c1/activity", start_date=since).json()
            ["data"]] == ["new"]
    assert [a["data"]["event"]["type"] for a in api.get("/v1/customers/c1/activity", end_date=since).json()
            ["data"]] == ["old"]


@pytest.mark.parametrize("query, status, key", [
    ({"starting_after_id": "cact_missing"}, 404, "not_found"),
    ({"order": "type"}, 400, "invalid_payload"),
    ({"limit": 101}, 400, "invalid_payload"),
    ({"start_date": "soon"}, 400, "invalid_payload"),
])
def test_activity_bad_query(api, query, status, key):
    CustomerFactory(source_id="c1")
    assert_error(api.get("/v1/customers/c1/activity", **query), status, key)

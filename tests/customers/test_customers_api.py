"""HTTP tests of /v1/customers: create (upsert by source_id), get, list, update, delete, permanent deletion."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidPayload
from core.models import MetadataSchema
from customers import services
from customers.models import Customer, CustomerActivity, CustomEvent, Order
from tests.conftest import assert_error
from tests.customers.factories import CustomerFactory
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

FULL = {
    "source_id": "crm-1", "name": "Ada Lovelace", "description": "VIP", "email": "ada@example.com",
    "phone": "+44 20 7946 0000", "birthdate": "1815-12-10",
    "address": {"city": "London", "state": "LDN", "line_1": "12 St James's Sq", "line_2": None,
                "country": "GB", "postal_code": "SW1Y 4JH"},
    "metadata": {"tier": "gold", "visits": 3},
}


def test_create_returns_the_spec_shape_with_summary(api):
    response = api.post("/v1/customers", FULL)
    assert response.status_code == 201
    body = assert_matches_spec(response, "/v1/customers", "post")
    assert body["id"].startswith("cust_") and body["object"] == "customer"
    assert body["source_id"] == "crm-1" and body["name"] == "Ada Lovelace" and body["phone"] == "+44 20 7946 0000"
    assert body["birthdate"] == body["birthday"] == "1815-12-10"
    assert body["address"] == {"city": "London", "state": "LDN", "line_1": "12 St James's Sq", "line_2": None,
                               "country": "GB", "postal_code": "SW1Y 4JH"}
    assert body["metadata"] == {"tier": "gold", "visits": 3}
    assert body["summary"]["orders"] == {"total_amount": 0, "total_count": 0, "average_amount": 0,
                                         "last_order_amount": None, "last_order_date": None}
    assert body["summary"]["redemptions"]["gift"] == {"redeemed_amount": 0, "amount_to_go": 0}
    assert body["loyalty"] == {"points": 0, "referred_customers": 0, "campaigns": {}}
    assert body["referrals"] == {"total": 0, "campaigns": []}
    stored = Customer.objects.get(public_id=body["id"])
    assert stored.address_postal_code == "SW1Y 4JH" and stored.email == "ada@example.com"


def test_post_with_an_existing_source_id_updates_it(api):
    first = api.post("/v1/customers", FULL).json()
    response = api.post("/v1/customers", {"source_id": "crm-1", "name": "Ada King", "metadata": {"tier": "silver"}})
    assert response.status_code == 200
    body = assert_matches_spec(response, "/v1/customers", "post")
    assert body["id"] == first["id"]
    assert body["name"] == "Ada King" and body["email"] == "ada@example.com"  # not given: kept
    assert body["metadata"] == {"tier": "silver"}  # given: replaced
    assert Customer.objects.count() == 1
    update = CustomerActivity.objects.get(type="customer.updated")
    assert update.data["changed_fields"] == ["metadata", "name"]


def test_resending_identical_data_records_no_update(api):
    api.post("/v1/customers", FULL)
    api.post("/v1/customers", FULL)
    assert list(CustomerActivity.objects.values_list("type", flat=True)) == ["customer.created"]


def test_create_without_source_id_makes_a_new_customer_each_time(api):
    one = api.post("/v1/customers", {"name": "Anon"}).json()
    two = api.post("/v1/customers", {"name": "Anon"}).json()
    assert one["id"] != two["id"] and one["source_id"] is None


def test_sdk_style_nulls_mean_not_given(api):
    api.post("/v1/customers", FULL)
    nulls = dict.fromkeys(("name", "description", "email", "phone", "birthdate", "birthday", "address",
                           "metadata", "id"))
    body = api.post("/v1/customers", {"source_id": "crm-1", **nulls}).json()
    assert body["name"] == "Ada Lovelace" and body["metadata"] == {"tier": "gold", "visits": 3}


def test_get_by_public_id_or_source_id(api):
    customer = CustomerFactory(source_id="abc")
    for ref in (customer.public_id, "abc"):
        response = api.get(f"/v1/customers/{ref}")
        body = assert_matches_spec(response, "/v1/customers/{customerId}", "get")
        assert body["id"] == customer.public_id


def test_unknown_customer_is_404(api):
    body = assert_error(api.get("/v1/customers/cust_nope"), 404, "not_found")
    assert "cust_nope" in body["details"]
    assert_error(api.put("/v1/customers/nope", {"name": "x"}), 404, "not_found")
    assert_error(api.delete("/v1/customers/nope"), 404, "not_found")
    assert_error(api.get("/v1/customers/nope/activity"), 404, "not_found")
    assert_error(api.post("/v1/customers/nope/permanent-deletion"), 404, "not_found")


def test_summary_reflects_paid_orders(api):
    customer = CustomerFactory()
    for index, amount in enumerate((1000, 2001)):
        services.order_create_or_update({"source_id": f"o{index}", "status": "PAID", "amount": amount,
                                         "customer": {"id": customer.public_id}})
    services.order_create_or_update({"source_id": "open", "amount": 99999, "customer": {"id": customer.public_id}})
    body = assert_matches_spec(api.get(f"/v1/customers/{customer.public_id}"), "/v1/customers/{customerId}", "get")
    orders = body["summary"]["orders"]
    assert orders["total_amount"] == 3001 and orders["total_count"] == 2
    assert orders["average_amount"] == 1501  # 1500.5 rounded half up
    assert orders["last_order_amount"] == 2001 and orders["last_order_date"] is not None


# ---------------------------------------------------------------- list

def test_list_is_paginated_in_the_spec_shape(api):
    for n in range(3):
        CustomerFactory(source_id=f"c{n}")
    response = api.get("/v1/customers", limit=2)
    body = assert_matches_spec(response, "/v1/customers", "get")
    assert body["object"] == "list" and body["data_ref"] == "customers"
    assert body["total"] == 3 and body["has_more"] is True and len(body["customers"]) == 2
    assert [c["source_id"] for c in body["customers"]] == ["c2", "c1"]  # newest first
    page2 = api.get("/v1/customers", limit=2, page=2).json()
    assert [c["source_id"] for c in page2["customers"]] == ["c0"] and page2["has_more"] is False


def test_list_filters(api):
    CustomerFactory(source_id="a", name="Alice Smith", email="alice@example.com", address_city="Paris")
    CustomerFactory(source_id="b", name="Bob Smith", email="bob@example.com", address_city="Lyon")
    CustomerFactory(source_id="c", name="Carol", email="carol@example.com", address_city="paris")

    def ids(**query):
        return sorted(c["source_id"] for c in api.get("/v1/customers", **query).json()["customers"])

    assert ids(email="BOB@example.com") == ["b"]
    assert ids(city="Paris") == ["a", "c"]
    assert ids(name="smith") == ["a", "b"]
    assert ids(order="source_id") == ["a", "b", "c"]
    listed = [c["source_id"] for c in api.get("/v1/customers", order="-source_id").json()["customers"]]
    assert listed == ["c", "b", "a"]


def test_list_created_at_filters_and_cursor(api):
    old = CustomerFactory(source_id="old")
    new = CustomerFactory(source_id="new")
    Customer.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    cutoff = (timezone.now() - timedelta(days=1)).isoformat()

    def ids(**query):
        return [c["source_id"] for c in api.get("/v1/customers", **query).json()["customers"]]

    assert ids(**{"created_at[before]": cutoff}) == ["old"]
    assert ids(**{"created_at[after]": cutoff}) == ["new"]
    assert ids(**{"created_at[after]": "2000-01-01"}) == ["new", "old"]
    new.refresh_from_db()
    assert ids(starting_after=new.created_at.isoformat()) == ["old"]


@pytest.mark.parametrize("query", [{"order": "name"}, {"created_at[before]": "yesterday"}, {"limit": 0},
                                   {"limit": "ten"}, {"page": 0}, {"created_at[after]": "2024-13-45"}])
def test_list_bad_query_is_400(api, query):
    assert_error(api.get("/v1/customers", **query), 400, "invalid_payload")


def test_list_hides_deleted_customers(api):
    CustomerFactory(source_id="kept")
    services.customer_delete(CustomerFactory(source_id="gone"))
    body = api.get("/v1/customers").json()
    assert [c["source_id"] for c in body["customers"]] == ["kept"] and body["total"] == 1


# ---------------------------------------------------------------- update

def test_put_merges_given_fields(api):
    created = api.post("/v1/customers", FULL).json()
    response = api.put(f"/v1/customers/{created['id']}", {
        "name": None, "email": "ada@lovelace.org", "birthday": "1815-12-11",
        "address": {"city": "Oxford", "postal_code": None}, "metadata": {"tier": "platinum"},
    })
    body = assert_matches_spec(response, "/v1/customers/{customerId}", "put")
    assert body["name"] == "Ada Lovelace"  # null: not given
    assert body["email"] == "ada@lovelace.org" and body["birthdate"] == "1815-12-11"
    assert body["address"]["city"] == "Oxford" and body["address"]["postal_code"] == "SW1Y 4JH"
    assert body["metadata"] == {"tier": "platinum"}


def test_put_by_source_id_and_empty_string_clears(api):
    api.post("/v1/customers", FULL)
    body = api.put("/v1/customers/crm-1", {"phone": "", "birthdate": ""}).json()
    assert body["phone"] is None and body["birthdate"] is None


# ---------------------------------------------------------------- delete

def test_delete_hides_and_frees_the_source_id(api):
    created = api.post("/v1/customers", FULL).json()
    response = api.delete(f"/v1/customers/{created['id']}")
    assert response.status_code == 204 and response.content == b""
    assert_error(api.get(f"/v1/customers/{created['id']}"), 404, "not_found")
    assert_error(api.get("/v1/customers/crm-1"), 404, "not_found")
    hidden = Customer.objects.get(public_id=created["id"])
    assert hidden.deleted_at is not None and hidden.source_id is None
    assert hidden.system_metadata["deleted_source_id"] == "crm-1"
    assert CustomerActivity.objects.filter(customer=hidden, type="customer.deleted").count() == 1

    again = api.post("/v1/customers", {"source_id": "crm-1", "name": "New Ada"})
    assert again.status_code == 201 and again.json()["id"] != created["id"]
    assert_error(api.delete(f"/v1/customers/{created['id']}"), 404, "not_found")


# ---------------------------------------------------------------- permanent deletion

def test_permanent_deletion_erases_personal_data_and_keeps_orders(api):
    created = api.post("/v1/customers", FULL).json()
    services.order_create_or_update({"source_id": "ord-1", "status": "PAID", "amount": 500,
                                     "customer": {"id": created["id"]}})
    services.custom_event_track({"event": "visited", "customer": {"id": created["id"]},
                                 "metadata": {"page": "/secret"}})
    response = api.post(f"/v1/customers/{created['id']}/permanent-deletion")
    assert response.status_code == 200
    body = assert_matches_spec(response, "/v1/customers/{customerId}/permanent-deletion", "post")
    assert body["status"] == "DONE" and body["related_object_id"] == created["id"]
    assert body["related_object"] == "customer" and body["id"].startswith("del_")
    assert body["data_json"]["customer"] == 1 and body["data_json"]["events"] == 1

    erased = Customer.objects.get(public_id=created["id"])
    assert (erased.name, erased.email, erased.phone, erased.description, erased.address_city) == ("",) * 5
    assert erased.birthdate is None and erased.metadata == {} and erased.source_id is None
    assert erased.anonymized_at is not None and erased.deleted_at is not None
    assert "deleted_source_id" not in erased.system_metadata
    order = Order.objects.get(source_id="ord-1")
    assert order.customer_id == erased.pk  # history stays attached to the anonymised row
    assert erased.orders_total_amount == 500
    assert CustomEvent.objects.get(customer=erased).metadata == {}
    for activity in CustomerActivity.objects.filter(customer=erased):
        assert "crm-1" not in str(activity.data) and "/secret" not in str(activity.data)
    assert_error(api.get(f"/v1/customers/{created['id']}"), 404, "not_found")
    assert_error(api.post(f"/v1/customers/{created['id']}/permanent-deletion"), 404, "not_found")


def test_permanent_deletion_of_a_hidden_customer_by_its_old_source_id(api):
    created = api.post("/v1/customers", FULL).json()
    api.delete("/v1/customers/crm-1")
    replacement = api.post("/v1/customers", {"source_id": "crm-1"}).json()
    # The live customer with that source_id comes first ...
    assert api.post("/v1/customers/crm-1/permanent-deletion").json()["related_object_id"] == replacement["id"]
    # ... then the hidden one can still be found by its old source_id.
    assert api.post("/v1/customers/crm-1/permanent-deletion").json()["related_object_id"] == created["id"]
    assert Customer.objects.filter(anonymized_at__isnull=True).count() == 0


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("payload, fragment", [
    ({"name": 5}, "name"),
    ({"email": "not-an-email"}, "email"),
    ({"email": ["a@example.com"]}, "email"),
    ({"birthdate": "10/12/1815"}, "birthdate"),
    ({"birthdate": 18151210}, "birthdate"),
    ({"address": "London"}, "address"),
    ({"address": {"city": 7}}, "address.city"),
    ({"metadata": ["x"]}, "metadata"),
    ({"metadata": "x"}, "metadata"),
    ({"source_id": 12}, "source_id"),
    ({"source_id": "a" * 256}, "source_id"),
])
def test_bad_customer_input_is_400(api, payload, fragment):
    body = assert_error(api.post("/v1/customers", payload), 400, "invalid_payload")
    assert fragment in body["details"]
    assert Customer.objects.count() == 0


@pytest.mark.parametrize("payload", [{"source_id": "nul\u0000byte"}, {"metadata": {"k": "nul\u0000"}}])
def test_nul_characters_never_reach_the_database(api, payload):
    """PostgreSQL cannot store NUL: refused with a 400 by the parser or, for other callers, the service."""
    assert api.post("/v1/customers", payload).status_code == 400
    with pytest.raises(InvalidPayload):
        services.customer_create_or_update(payload)
    assert Customer.objects.count() == 0


def test_malformed_json_and_non_object_bodies(api):
    CustomerFactory(source_id="x")
    assert_error(api.post("/v1/customers", raw="{broken"), 400, "invalid_json")
    assert_error(api.post("/v1/customers", [{"source_id": "x"}]), 400, "invalid_payload")
    assert_error(api.put("/v1/customers/x", raw="[1,"), 400, "invalid_json")


def test_metadata_is_checked_against_the_customer_schema(api):
    MetadataSchema.objects.create(related_object="customer", properties={
        "tier": {"type": "string", "in": ["gold", "silver"]}, "visits": {"type": "number", "min": 0}})
    body = assert_error(api.post("/v1/customers", {"source_id": "s", "metadata": {"tier": "bronze"}}),
                        400, "invalid_metadata")
    assert "metadata.tier" in body["details"]
    assert_error(api.post("/v1/customers", {"source_id": "s", "metadata": {"visits": "many"}}),
                 400, "invalid_metadata")
    assert api.post("/v1/customers", {"source_id": "s", "metadata": {"tier": "gold"}}).status_code == 201
    assert_error(api.put("/v1/customers/s", {"metadata": {"visits": -1}}), 400, "invalid_metadata")
    assert Customer.objects.get(source_id="s").metadata == {"tier": "gold"}


def test_unauthenticated_requests_are_refused(anon_api):
    assert_error(anon_api.get("/v1/customers"), 401, "unauthorized")
    assert_error(anon_api.post("/v1/customers", {"source_id": "x"}), 401, "unauthorized")

"""POST /v1/customers/importCSV, /v1/customers/bulk/async and /v1/customers/metadata/async.

Async actions run when the request's transaction commits; these tests capture and run those callbacks
(the eager Celery default), then read the action through /v1/async-actions/{id}.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.models import AsyncAction, MetadataSchema
from core.services import async_action_run
from customers import services
from customers.models import Customer
from tests.conftest import assert_error
from tests.customers.factories import CustomerFactory
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

GOOD_AND_BAD = (
    "source_id,name,email,Address_City,country,birthdate,metadata_tier,visits,metadata\n"
    "c1,Ann,ann@example.com,Paris,FR,1990-05-01,gold,3,\n"
    "c2,Bob,not-an-email,Lyon,FR,,,,\n"  # row 3: bad email
    ",Nobody,nobody@example.com,,,,,,\n"  # row 4: no source_id
    "c3,Cy,cy@example.com,,,31/12/1999,,,\n"  # row 5: bad date
    'c4,Di,di@example.com,,,,,,"{""team"": ""blue""}"\n'
    "c5,Ed,ed@example.com,,,,,,{not json}\n"  # row 7: bad metadata JSON
    "c6,Fay,fay@example.com,,,,,,,extra\n"  # row 8: too many cells
)


def upload(api, content: bytes | str, name: str = "customers.csv"):
    """POST the file as multipart, as the SDK does."""
    data = content.encode() if isinstance(content, str) else content
    client = Client()
    return client.post("/v1/customers/importCSV", {"file": SimpleUploadedFile(name, data, "text/csv")},
                       headers=api.headers)


def run_import(api, capture, content):
    with capture(execute=True):
        response = upload(api, content)
    assert response.status_code == 202, response.content
    body = assert_matches_spec(response, "/v1/customers/importCSV", "post")
    return body["async_action_id"]


def action_body(api, action_id: str) -> dict:
    response = api.get(f"/v1/async-actions/{action_id}")
    return assert_matches_spec(response, "/v1/async-actions/{asyncActionId}", "get")


def test_import_upserts_good_rows_and_reports_bad_ones(api, django_capture_on_commit_callbacks):
    CustomerFactory(source_id="c1", name="Old Ann", metadata={"since": 2020})
    action_id = run_import(api, django_capture_on_commit_callbacks, GOOD_AND_BAD)
    body = action_body(api, action_id)
    assert body["status"] == "DONE" and body["progress"] == 100 and body["type"] == "CUSTOMERS_IMPORT_CSV"
    result = body["result"]
    assert (result["done_count"], result["failed_count"]) == (2, 5)
    errors = {error["row"]: error for error in result["errors"]}
    assert sorted(errors) == [3, 4, 5, 7, 8]
    assert errors[3]["source_id"] == "c2" and "email" in errors[3]["message"]
    assert "source_id is required" in errors[4]["message"]
    assert errors[5]["source_id"] == "c3" and "birthdate" in errors[5]["message"]
    assert "metadata column" in errors[7]["message"] and "cells" in errors[8]["message"]

    ann = Customer.objects.get(source_id="c1")
    assert (ann.name, ann.email, ann.address_city, ann.address_country) == ("Ann", "ann@example.com", "Paris", "FR")
    assert str(ann.birthdate) == "1990-05-01"
    assert ann.metadata == {"since": 2020, "tier": "gold", "visits": "3"}  # merged; unknown column -> metadata
    assert Customer.objects.get(source_id="c4").metadata == {"team": "blue"}
    assert set(Customer.objects.values_list("source_id", flat=True)) == {"c1", "c4"}


def test_reimporting_the_same_file_creates_no_duplicates(api, django_capture_on_commit_callbacks):
    content = "source_id,name\nx1,One\nx2,Two\n"
    run_import(api, django_capture_on_commit_callbacks, content)
    action_id = run_import(api, django_capture_on_commit_callbacks, content)
    assert action_body(api, action_id)["result"]["done_count"] == 2
    assert Customer.objects.count() == 2


def test_metadata_columns_take_the_schema_types(api, django_capture_on_commit_callbacks):
    MetadataSchema.objects.create(related_object="customer", properties={
        "visits": {"type": "number"}, "vip": {"type": "boolean"}})
    content = "source_id,metadata_visits,metadata_vip\nn1,12,true\nn2,twelve,no\n"
    action_id = run_import(api, django_capture_on_commit_callbacks, content)
    result = action_body(api, action_id)["result"]
    assert Customer.objects.get(source_id="n1").metadata == {"visits": 12, "vip": True}
    assert result["failed_count"] == 1 and result["errors"][0]["row"] == 3
    assert "metadata.visits" in result["errors"][0]["message"]


def test_progress_is_reported_every_n_rows_and_reaches_100(api, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(services, "PROGRESS_EVERY", 2)
    seen = []  # the action's progress column as each row is stored
    real_upsert = services._upsert_row

    def upsert_and_record(tally, row, data):
        real_upsert(tally, row, data)
        seen.append(AsyncAction.objects.get().progress)

    monkeypatch.setattr(services, "_upsert_row", upsert_and_record)
    rows = "".join(f"p{n},Name {n}\n" for n in range(5))
    action_id = run_import(api, django_capture_on_commit_callbacks, "source_id,name\n" + rows)
    assert seen == [0, 0, 40, 40, 80]  # updated after rows 2 and 4
    body = action_body(api, action_id)
    assert body["progress"] == 100 and body["result"]["done_count"] == 5


@pytest.mark.parametrize("content, fragment", [
    ("", "empty"),
    ("name,email\nAnn,ann@example.com\n", "source_id column is required"),
    ("source_id,name,name\nx,a,b\n", "more than once"),
    ("source_id,,email\nx,a,b\n", "column 2 has no name"),
    ("source_id,first name\nx,a\n", "no spaces"),
    ("source_id,metadata_\nx,a\n", "metadata_"),
    (b"source_id,name\nx,\xff\xfe\n", "UTF-8"),
])
def test_header_problems_fail_the_whole_file_at_once(api, content, fragment):
    response = upload(api, content)
    body = assert_error(response, 400, "invalid_csv")
    assert fragment in body["details"]
    assert AsyncAction.objects.count() == 0 and Customer.objects.count() == 0


def test_import_needs_a_multipart_file(api):
    client = Client()
    assert_error(client.post("/v1/customers/importCSV", {}, headers=api.headers), 400, "invalid_payload")
    assert_error(api.post("/v1/customers/importCSV", {"file": "x"}), 415, "unsupported_media_type")


def test_the_handler_fails_the_action_cleanly_on_a_bad_file():
    action = AsyncAction.objects.create(type="CUSTOMERS_IMPORT_CSV", attachment=b"name\nx\n")
    async_action_run(action.pk)
    action.refresh_from_db()
    assert action.status == "FAILED" and "source_id" in action.result["error"]


# ---------------------------------------------------------------- bulk updates

def test_bulk_async_upserts_each_customer(api, django_capture_on_commit_callbacks):
    CustomerFactory(source_id="b1", name="Before", metadata={"keep": 1})
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/v1/customers/bulk/async", [
            {"source_id": "b1", "name": "After", "metadata": {"new": 2}},
            {"source_id": "b2", "email": "bad"},
            {"source_id": "b3", "address": {"city": "Rome"}, "birthdate": None},
        ])
    assert response.status_code == 202
    body = assert_matches_spec(response, "/v1/customers/bulk/async", "post")
    result = action_body(api, body["async_action_id"])["result"]
    assert (result["done_count"], result["failed_count"]) == (2, 1)
    assert result["errors"][0]["row"] == 2 and result["errors"][0]["source_id"] == "b2"
    b1 = Customer.objects.get(source_id="b1")
    assert b1.name == "After" and b1.metadata == {"keep": 1, "new": 2}
    assert Customer.objects.get(source_id="b3").address_city == "Rome"


@pytest.mark.parametrize("payload", [{"source_id": "x"}, [], [{"name": "no source id"}], ["x"]])
def test_bulk_async_bad_body_is_400(api, payload):
    assert_error(api.post("/v1/customers/bulk/async", payload), 400, "invalid_payload")
    assert AsyncAction.objects.count() == 0


def test_metadata_async_merges_metadata(api, django_capture_on_commit_callbacks):
    CustomerFactory(source_id="m1", metadata={"a": 1})
    CustomerFactory(source_id="m2")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/v1/customers/metadata/async", {"source_ids": ["m1", "m2", "ghost"],
                                                             "metadata": {"b": 2}})
    body = assert_matches_spec(response, "/v1/customers/metadata/async", "post")
    result = action_body(api, body["async_action_id"])["result"]
    assert (result["done_count"], result["failed_count"]) == (2, 1)
    assert result["errors"] == [{"row": 3, "source_id": "ghost",
                                 "message": "Cannot find customer with source_id ghost"}]
    assert Customer.objects.get(source_id="m1").metadata == {"a": 1, "b": 2}


@pytest.mark.parametrize("payload", [{"source_ids": [], "metadata": {"a": 1}}, {"source_ids": ["x"]},
                                     {"source_ids": "x", "metadata": {"a": 1}}, {"source_ids": ["x"], "metadata": {}}])
def test_metadata_async_bad_body_is_400(api, payload):
    assert_error(api.post("/v1/customers/metadata/async", payload), 400, "invalid_payload")

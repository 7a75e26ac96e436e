"""/v1/segments and /v1/customers/{id}/segments through the HTTP stack, checked against the spec."""

import pytest

from customers import services as customer_services
from segments.models import Segment
from tests.conftest import assert_error
from tests.segments.conftest import customer, members
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

LONDON = {"junction": "and", "address.city": {"conditions": {"$is": ["London"]}}}


def test_create_get_and_delete_a_dynamic_segment(api, django_capture_on_commit_callbacks):
    customer("ana", address={"city": "London"})
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/v1/segments", {"name": "Londoners", "type": "auto-update", "filter": LONDON})
    body = assert_matches_spec(response, "/v1/segments", "post")
    assert body["id"].startswith("seg_") and body["object"] == "segment"
    assert body["type"] == "auto-update" and body["filter"] == LONDON
    segment = Segment.objects.get(public_id=body["id"])
    assert members(segment) == {"ana"}

    got = assert_matches_spec(api.get(f"/v1/segments/{body['id']}"), "/v1/segments/{segmentId}", "get")
    assert got["initial_sync_status"] == "DONE" and got["name"] == "Londoners"

    listed = api.get("/v1/segments").json()
    assert listed["total"] == 1 and listed["segments"][0]["members_count"] == 1

    assert api.delete(f"/v1/segments/{body['id']}").status_code == 204
    assert_error(api.get(f"/v1/segments/{body['id']}"), 404, "not_found")


def test_create_a_static_segment(api):
    ana, _ben = customer("ana"), customer("ben")
    response = api.post("/v1/segments", {"name": "VIP", "type": "static", "customers": [ana.public_id, "ben"]})
    body = assert_matches_spec(response, "/v1/segments", "post")
    assert body["type"] == "static" and body["filter"] is None and body["initial_sync_status"] == "DONE"
    assert members(Segment.objects.get(public_id=body["id"])) == {"ana", "ben"}


def test_spec_examples_and_sdk_style_nulls(api):
    # The spec's example filter ($is with a bare value, $after with a date-time), as the SDK sends it.
    response = api.post("/v1/segments", {"name": "Recent", "type": "auto-update", "customers": None, "filter": {
        "junction": "and", "created_at": {"conditions": {"$after": ["2021-12-01T00:00:00.000Z"]}},
        "address.country": {"conditions": {"$is": "Poland"}}, "metadata.club_level": {
            "conditions": {"$in": ["Gold", "Silver"]}}}})
    assert_matches_spec(response, "/v1/segments", "post")


def test_customer_segments_in_the_spec_shape(api, django_capture_on_commit_callbacks):
    ana = customer("ana", address={"city": "London"})
    with django_capture_on_commit_callbacks(execute=True):
        london = api.post("/v1/segments", {"name": "Londoners", "type": "auto-update", "filter": LONDON}).json()
    vip = api.post("/v1/segments", {"name": "VIP", "type": "static", "customers": ["ana"]}).json()
    for ref in (ana.public_id, "ana"):
        body = assert_matches_spec(api.get(f"/v1/customers/{ref}/segments"), "/v1/customers/{customerId}/segments",
                                   "get")
        assert body["total"] == 2
        assert [s["id"] for s in body["data"]] == [london["id"], vip["id"]]
        assert body["data"][0] == {"id": london["id"], "name": "Londoners", "object": "segment"}
    customer_services.customer_update(ana, {"address": {"city": "Leeds"}})
    assert [s["name"] for s in api.get("/v1/customers/ana/segments").json()["data"]] == ["VIP"]
    # A customer not stored belongs to no segment yet.
    assert api.get("/v1/customers/nobody/segments").json() == {"object": "list", "data_ref": "data", "data": [],
                                                               "total": 0}


@pytest.mark.parametrize("body, status, key", [
    ({"type": "auto-update", "filter": LONDON}, 400, "invalid_payload"),  # no name
    ({"name": "x", "type": "dynamic", "filter": LONDON}, 400, "invalid_payload"),
    ({"name": "x", "type": "auto-update"}, 400, "invalid_payload"),  # no filter
    ({"name": "x", "type": "auto-update", "filter": LONDON, "customers": ["a"]}, 400, "invalid_payload"),
    ({"name": "x", "type": "static", "filter": LONDON}, 400, "invalid_payload"),
    ({"name": "x", "type": "static", "customers": ["nobody"]}, 404, "not_found"),
    ({"name": "x", "type": "static", "customers": [1, 2]}, 400, "invalid_payload"),
    ({"name": "x", "filter": {"shoe_size": {"conditions": {"$is": [1]}}}}, 400, "invalid_payload"),
    ({"name": "x", "filter": {"orders.count": {"conditions": {"$more_than": [2**70]}}}}, 400, "invalid_payload"),
    ({"name": "x", "filter": "London"}, 400, "invalid_payload"),
    ({"name": "x\u0000", "filter": LONDON}, 400, "invalid_json"),
    ([], 400, "invalid_payload"),
])
def test_bad_requests_get_clear_errors(api, body, status, key):
    assert_error(api.post("/v1/segments", body), status, key)
    assert not Segment.objects.exists()


def test_unknown_segment_and_auth(api, anon_api):
    assert_error(api.get("/v1/segments/seg_nope"), 404, "not_found")
    assert_error(api.delete("/v1/segments/seg_nope"), 404, "not_found")
    assert anon_api.get("/v1/segments").status_code in (401, 403)

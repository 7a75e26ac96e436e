"""/v1/webhooks: shapes, errors and who may use it (management keys for all categories, permitted staff)."""

import pytest
from django.contrib.auth.models import Permission, User

from core import services as core_services
from core.models import AuditEntry
from distribution.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import JsonClient, assert_error
from tests.promo.factories import CategoryFactory

pytestmark = pytest.mark.django_db

WEBHOOK_KEYS = {"id", "object", "url", "event_types", "active", "description", "secret_hint", "created_at",
                "updated_at"}
DELIVERY_KEYS = {"id", "object", "webhook_id", "event_id", "event_type", "status", "attempts", "next_attempt_at",
                 "last_attempt_at", "last_response_status", "last_error", "delivered_at", "created_at", "payload"}


def create(api, **fields):
    body = {"url": "https://hooks.example.com/promo", "event_types": ["campaign.budget_exhausted"], **fields}
    response = api.post("/v1/webhooks", body)
    assert response.status_code == 200, response.content
    return response.json()


def test_create_shows_the_secret_once(api):
    created = create(api, description="ERP")
    assert set(created) == WEBHOOK_KEYS | {"secret"}
    assert created["id"].startswith("wh_") and created["object"] == "webhook"
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["secret"].startswith(created["secret_hint"].rstrip("…"))
    assert (created["url"], created["event_types"], created["active"], created["description"]) == \
        ("https://hooks.example.com/promo", ["campaign.budget_exhausted"], True, "ERP")
    fetched = api.get(f"/v1/webhooks/{created['id']}").json()
    assert set(fetched) == WEBHOOK_KEYS and "secret" not in fetched
    assert WebhookEndpoint.objects.get().secret == created["secret"]
    entry = AuditEntry.objects.get(object_type="distribution.webhookendpoint")
    assert created["secret"] not in str(entry.changes)


def test_event_types_default_to_all(api):
    assert create(api, event_types=None)["event_types"] == ["*"]


def test_list_update_delete(api):
    first = create(api)
    second = create(api, url="https://b.example.com/x")
    listed = api.get("/v1/webhooks", limit=1).json()
    assert (listed["object"], listed["data_ref"], listed["total"], listed["has_more"]) == ("list", "webhooks", 2, True)
    assert [w["id"] for w in listed["webhooks"]] == [second["id"]]
    assert "secret" not in listed["webhooks"][0]

    updated = api.put(f"/v1/webhooks/{first['id']}", {"active": False, "event_types": ["*"]}).json()
    assert (updated["active"], updated["event_types"], updated["url"]) == (False, ["*"], first["url"])
    assert AuditEntry.objects.filter(object_type="distribution.webhookendpoint", action="update").exists()

    assert api.delete(f"/v1/webhooks/{first['id']}").status_code == 204
    assert_error(api.get(f"/v1/webhooks/{first['id']}"), 404, "not_found")
    assert_error(api.delete(f"/v1/webhooks/{first['id']}"), 404, "not_found")


@pytest.mark.parametrize(("body", "key"), [
    ({}, "invalid_payload"),
    ({"url": "http://hooks.example.com/x"}, "invalid_webhook_url"),  # plain http only for localhost
    ({"url": "ftp://hooks.example.com/x"}, "invalid_webhook_url"),
    ({"url": "not a url"}, "invalid_webhook_url"),
    ({"url": 42}, "invalid_payload"),
    ({"url": "https://a.example.com", "event_types": ["campaign.nope"]}, "invalid_event_types"),
    ({"url": "https://a.example.com", "event_types": []}, "invalid_event_types"),
    ({"url": "https://a.example.com", "event_types": "*"}, "invalid_payload"),
    ({"url": "https://a.example.com", "active": "yes"}, "invalid_payload"),
])
def test_create_errors(api, body, key):
    assert_error(api.post("/v1/webhooks", body), 400, key)
    assert not WebhookEndpoint.objects.exists()


def test_malformed_json_and_unknown_ids(api):
    assert_error(api.post("/v1/webhooks", raw="{nope"), 400, "invalid_json")
    assert_error(api.get("/v1/webhooks/wh_missing"), 404, "not_found")
    assert_error(api.put("/v1/webhooks/wh_missing", {"active": False}), 404, "not_found")
    assert_error(api.get("/v1/webhooks/wh_missing/deliveries"), 404, "not_found")
    assert_error(api.post("/v1/webhooks/wh_missing/test"), 404, "not_found")
    assert_error(api.post("/v1/webhooks/deliveries/whd_missing/retry"), 404, "not_found")
    assert_error(api.get("/v1/webhooks/deliveries/whd_missing"), 404, "not_found")
    assert_error(api.get("/v1/webhooks/x%00y"), 400, "invalid_characters")


def test_http_localhost_is_allowed_in_development_only(api, settings):
    assert create(api, url="http://localhost:8000/hook")["url"] == "http://localhost:8000/hook"
    settings.WEBHOOK_ALLOW_HTTP_LOCALHOST = False
    assert_error(api.post("/v1/webhooks", {"url": "http://127.0.0.1:8000/hook"}), 400, "invalid_webhook_url")


def test_test_event_deliveries_and_retry(api, receiver, django_capture_on_commit_callbacks):
    webhook = create(api, url=receiver.url + "/ping", event_types=["voucher.budget_exhausted"])
    with django_capture_on_commit_callbacks(execute=True):
        queued = api.post(f"/v1/webhooks/{webhook['id']}/test")
    assert queued.status_code == 200
    assert set(queued.json()) == DELIVERY_KEYS
    [received] = receiver.requests
    assert received.json["type"] == "webhook.ping"
    assert received.json["data"]["webhook"]["id"] == webhook["id"]

    listed = api.get(f"/v1/webhooks/{webhook['id']}/deliveries").json()
    assert (listed["data_ref"], listed["total"]) == ("deliveries", 1)
    delivery = listed["deliveries"][0]
    assert set(delivery) == DELIVERY_KEYS
    assert (delivery["status"], delivery["attempts"], delivery["last_response_status"], delivery["webhook_id"]) == \
        ("SUCCEEDED", 1, 200, webhook["id"])
    assert delivery["payload"]["id"] == delivery["event_id"] == received.json["id"]
    assert api.get(f"/v1/webhooks/{webhook['id']}/deliveries", status="FAILED").json()["total"] == 0
    assert_error(api.get(f"/v1/webhooks/{webhook['id']}/deliveries", status="LOST"), 400, "invalid_payload")
    assert api.get(f"/v1/webhooks/deliveries/{delivery['id']}").json()["id"] == delivery["id"]

    with django_capture_on_commit_callbacks(execute=True):
        retried = api.post(f"/v1/webhooks/deliveries/{delivery['id']}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "PENDING"
    assert len(receiver.requests) == 2
    assert WebhookDelivery.objects.get().attempts == 2


def test_retry_while_in_flight_is_a_conflict(api, make_endpoint):
    from distribution import services

    endpoint = make_endpoint("https://hooks.example.com/x")
    delivery = services.endpoint_send_test(endpoint)  # not committed: not sent
    assert services._claim(delivery, services._now())
    assert_error(api.post(f"/v1/webhooks/deliveries/{delivery.public_id}/retry"), 409,
                 "webhook_delivery_in_progress")


def test_only_unrestricted_management_keys_and_permitted_staff(db, issued_key):
    assert_error(JsonClient().get("/v1/webhooks"), 401, "unauthorized")
    for scope in ("read_only", "redemption"):
        key = core_services.api_key_create(name=scope, scope=scope)
        client = JsonClient({"X-App-Id": key.app_id, "X-App-Token": key.app_token})
        assert_error(client.get("/v1/webhooks"), 403, "forbidden")
        assert_error(client.post("/v1/webhooks", {"url": "https://a.example.com"}), 403, "forbidden")
    limited = core_services.api_key_create(name="partner", categories=[CategoryFactory()])
    client = JsonClient({"X-App-Id": limited.app_id, "X-App-Token": limited.app_token})
    assert_error(client.get("/v1/webhooks"), 403, "forbidden")

    staff = User.objects.create_user("ops", password="pw", is_staff=True)
    browser = JsonClient()
    browser.client.force_login(staff)
    assert_error(browser.get("/v1/webhooks"), 403, "forbidden")
    staff.user_permissions.add(Permission.objects.get(codename="view_webhookendpoint"))
    assert browser.get("/v1/webhooks").status_code == 200

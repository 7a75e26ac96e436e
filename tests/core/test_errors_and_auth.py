import json

import pytest

from core import services
from tests.conftest import JsonClient, assert_error

pytestmark = pytest.mark.django_db


def test_missing_credentials_get_401_in_the_error_format(anon_api):
    body = assert_error(anon_api.get("/v1/async-actions"), 401, "unauthorized")
    assert body["request_id"].startswith("v-")


def test_wrong_token_is_refused(issued_key):
    client = JsonClient({"X-App-Id": issued_key.app_id, "X-App-Token": "wrong"})
    assert_error(client.get("/v1/async-actions"), 401, "unauthorized")


def test_only_one_header_is_refused(issued_key):
    client = JsonClient({"X-App-Id": issued_key.app_id})
    assert_error(client.get("/v1/async-actions"), 401, "unauthorized")


def test_revoked_key_is_refused(issued_key, api):
    assert api.get("/v1/async-actions").status_code == 200
    services.api_key_revoke(issued_key.api_key)
    assert_error(api.get("/v1/async-actions"), 401, "unauthorized")


def test_token_is_stored_hashed_and_last_use_recorded(issued_key, api):
    key = issued_key.api_key
    assert issued_key.app_token not in (key.token_hash, key.token_hint)
    assert key.last_used_at is None
    api.get("/v1/async-actions")
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_read_only_key_cannot_write(db):
    issued = services.api_key_create(name="reader", scope="read_only")
    client = JsonClient({"X-App-Id": issued.app_id, "X-App-Token": issued.app_token})
    assert client.get("/v1/metadata-schemas").status_code == 200
    assert_error(client.post("/v1/metadata-schemas", {"related_object": "customer", "properties": {}}),
                 403, "forbidden")


def test_unknown_path_is_json_404_without_redirect(api):
    assert_error(api.get("/v1/no-such-thing"), 404, "not_found")
    assert_error(api.post("/v1/async-actions/", {}), 404, "not_found")


def test_malformed_json_is_400(api):
    assert_error(api.post("/v1/metadata-schemas", raw="{not json"), 400, "invalid_json")


def test_wrong_types_are_400_invalid_payload(api):
    body = assert_error(api.post("/v1/metadata-schemas", {"related_object": "customer", "properties": []}),
                        400, "invalid_payload")
    assert "properties" in body["details"]


def test_oversized_body_is_413(api, settings):
    settings.API_MAX_JSON_BODY = 1000
    assert_error(api.post("/v1/metadata-schemas", raw=json.dumps({"x": "y" * 2000})), 413, "payload_too_large")


def test_method_not_allowed_is_405(api):
    assert_error(api.request("PATCH", "/v1/async-actions"), 405, "method_not_allowed")


def test_incoming_request_id_is_kept(api):
    response = api.get("/v1/async-actions", headers={"X-Request-ID": "abc-123"})
    assert response["X-Request-ID"] == "abc-123"
    hostile = api.get("/v1/async-actions", headers={"X-Request-ID": "<script>"})
    assert hostile["X-Request-ID"].startswith("v-")


def test_unexpected_exception_is_json_500(api, monkeypatch):
    from core import selectors

    def boom():
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "async_action_list", boom)
    body = assert_error(api.get("/v1/async-actions"), 500, "internal_error")
    assert "boom" not in body["details"]


def test_staff_session_may_use_the_api(admin_client):
    assert admin_client.get("/v1/async-actions").status_code == 200


def test_non_staff_session_may_not(client, django_user_model):
    user = django_user_model.objects.create_user("shopper", password="pw-123456789")
    client.force_login(user)
    assert_error(client.get("/v1/async-actions"), 401, "unauthorized")


def test_create_api_key_command_prints_json(capsys):
    from django.core.management import call_command

    call_command("create_api_key", "pos terminal", "--json")
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"app_id", "app_token"}
    assert services.api_key_authenticate(out["app_id"], out["app_token"]) is not None


def test_health_needs_no_key(anon_api):
    assert anon_api.get("/v1/health").json() == {"status": "ok"}
    assert anon_api.get("/v1/health", db="1").json() == {"status": "ok"}


def test_bad_host_header_gets_the_json_error(api, settings):
    settings.ALLOWED_HOSTS = ["promo.example.com"]
    assert_error(api.get("/v1/async-actions"), 400, "bad_request")


def test_csrf_failure_for_a_staff_session_is_json(db, django_user_model):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_user("staff", password="x" * 12, is_staff=True))
    assert_error(client.post("/v1/metadata-schemas", {}, content_type="application/json"), 403, "forbidden")


@pytest.mark.parametrize("raw", ['{"properties": {"x": 1e400}}', '{"related_object": "a\\u0000b"}',
                                 '{"x": NaN}', '{"x": Infinity}', b'{"x": "\xff"}'])
def test_json_the_database_cannot_store_is_refused(api, raw):
    assert_error(api.post("/v1/metadata-schemas", raw=raw), 400, "invalid_json")


def test_deeply_nested_json_is_400(api):
    assert_error(api.post("/v1/metadata-schemas", raw="[" * 100_000), 400, "invalid_json")


def test_scope_change_and_deletion_take_effect_at_once(issued_key, api):
    assert api.post("/v1/metadata-schemas", {"related_object": "order", "properties": {}}).status_code == 201
    services.api_key_update(issued_key.api_key, name="reader", scope="read_only")
    assert_error(api.post("/v1/metadata-schemas", {"related_object": "order", "properties": {}}), 403, "forbidden")
    services.api_key_delete(issued_key.api_key)
    assert_error(api.get("/v1/async-actions"), 401, "unauthorized")

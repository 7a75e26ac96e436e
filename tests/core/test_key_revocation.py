"""Revoking a key, or changing its scope or categories, takes effect at once in every process (issue 13).

Another process (a second gunicorn worker, the admin on another machine) changes the key's row without
telling this process: here that is a plain UPDATE of the row, which no per-process cache hears of. The
next request of this process must already see the change."""

import pytest
from django.utils import timezone

from core.models import ApiKey
from tests.conftest import assert_error
from tests.promo.factories import CampaignFactory, CategoryFactory
from tests.scope_world import key

pytestmark = pytest.mark.django_db


def _row(client) -> ApiKey:
    return ApiKey.objects.get(app_id=client.headers["X-App-Id"])


def test_a_key_revoked_by_another_process_is_refused_at_once():
    client = key()
    assert client.get("/v1/campaigns").status_code == 200
    ApiKey.objects.filter(pk=_row(client).pk).update(revoked_at=timezone.now())
    assert_error(client.get("/v1/campaigns"), 401, "unauthorized")


def test_a_key_deleted_by_another_process_is_refused_at_once():
    client = key()
    assert client.get("/v1/campaigns").status_code == 200
    ApiKey.objects.filter(pk=_row(client).pk).delete()
    assert_error(client.get("/v1/campaigns"), 401, "unauthorized")


def test_a_scope_changed_by_another_process_applies_at_once():
    client = key()
    assert client.post("/v1/categories", {"name": "Shoes"}).status_code == 201
    ApiKey.objects.filter(pk=_row(client).pk).update(scope=ApiKey.Scope.READ_ONLY)
    assert_error(client.post("/v1/categories", {"name": "Hats"}), 403, "forbidden")
    assert client.get("/v1/categories").status_code == 200


def test_categories_changed_by_another_process_apply_at_once():
    shoes, hats = CategoryFactory(name="Shoes"), CategoryFactory(name="Hats")
    in_shoes, in_hats = CampaignFactory(category=shoes), CampaignFactory(category=hats)
    client = key(categories=[shoes])
    assert client.get(f"/v1/campaigns/{in_shoes.public_id}").status_code == 200
    assert client.get(f"/v1/campaigns/{in_hats.public_id}").status_code == 404
    _row(client).categories.set([hats])  # the M2M rows, written by the other process
    assert client.get(f"/v1/campaigns/{in_shoes.public_id}").status_code == 404
    assert client.get(f"/v1/campaigns/{in_hats.public_id}").status_code == 200
    _row(client).categories.clear()  # no categories: every category
    assert client.get(f"/v1/campaigns/{in_shoes.public_id}").status_code == 200


def test_a_wrong_token_is_refused_and_last_use_is_recorded():
    client = key()
    assert client.get("/v1/campaigns").status_code == 200
    assert _row(client).last_used_at is not None
    client.headers["X-App-Token"] = "not-the-token"
    assert_error(client.get("/v1/campaigns"), 401, "unauthorized")

"""The audit log: who, when, what changed (before and after) and the request id, for changes made through
the API, the admin and async bulk actions; shown on the object's page and exportable."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from backoffice import roles
from core import services
from core.models import ApiKey, AuditEntry
from core.permissions import set_category_access
from promo.models import Voucher
from tests.promo.factories import VoucherFactory

pytestmark = pytest.mark.django_db


def entries(obj, action=None):
    rows = AuditEntry.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
    return list(rows.filter(action=action) if action else rows)


@pytest.fixture
def boss(db) -> Client:
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-123456789")
    client = Client()
    client.force_login(user)
    return client


def test_api_change_records_who_what_and_the_request_id(world, api, issued_key):
    response = api.put(f"/v1/campaigns/{world.camp_a.public_id}", {"description": "Spring!"},
                       headers={"X-Request-ID": "req-audit-1"})
    assert response.status_code == 200
    (row,) = entries(world.camp_a, "update")
    assert row.changes == {"description": ["", "Spring!"]}
    assert row.api_key_id == issued_key.api_key.pk and row.actor.startswith("api key test key")
    assert row.request_id == "req-audit-1" and row.object_ref == world.camp_a.public_id
    # Writing the same value again changes nothing and records nothing.
    api.put(f"/v1/campaigns/{world.camp_a.public_id}", {"description": "Spring!"})
    assert len(entries(world.camp_a, "update")) == 1


def test_voucher_lifecycle_is_recorded(world, api):
    api.post("/v1/vouchers/AUDIT-1", {"discount": {"type": "AMOUNT", "amount_off": 300}})
    voucher = Voucher.objects.get(code="AUDIT-1")
    api.put("/v1/vouchers/AUDIT-1", {"metadata": {"shop": "north"}, "redemption": {"quantity": 5}})
    api.post("/v1/vouchers/AUDIT-1/disable")
    api.delete("/v1/vouchers/AUDIT-1")
    rows = sorted(entries(voucher), key=lambda r: r.pk)
    assert [r.action for r in rows] == ["create", "update", "update", "delete"]
    assert rows[1].changes == {"metadata": [{}, {"shop": "north"}], "redemption_quantity": [None, 5]}
    assert rows[2].changes == {"active": [True, False]}
    assert rows[3].changes["code"] == ["AUDIT-1", None]


def test_bulk_updates_write_one_row_per_voucher_with_the_async_action(world, api,
                                                                    django_capture_on_commit_callbacks):
    VoucherFactory(code="BULK-1", campaign=world.camp_a)
    VoucherFactory(code="BULK-2", campaign=world.camp_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/v1/vouchers/metadata/async", {"codes": ["BULK-1", "BULK-2", "MISSING"],
                                                             "metadata": {"wave": 2}},
                            headers={"X-Request-ID": "req-bulk"})
    action_id = response.json()["async_action_id"]
    rows = AuditEntry.objects.filter(object_type="promo.voucher", request_id="req-bulk").order_by("object_repr")
    assert [r.object_repr for r in rows] == ["BULK-1", "BULK-2"]
    assert all(r.extra["async_action"] == action_id and r.changes == {"metadata": [{}, {"wave": 2}]} for r in rows)


def test_code_generation_is_one_row_for_the_whole_action(world, api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/v1/campaigns/{world.camp_a.public_id}/vouchers", {}, vouchers_count=25)
    assert response.status_code == 202
    (row,) = entries(world.camp_a, "bulk")
    assert row.extra["async_action"] == response.json()["async_action_id"]
    assert Voucher.objects.filter(campaign=world.camp_a).count() == 26


def test_admin_edit_is_recorded_and_shown_on_the_objects_page(world, boss):
    page = f"/admin/promo/campaign/{world.camp_a.pk}/change/"
    response = boss.post(page, {"name": world.camp_a.name, "description": "from the admin",
                                "category": world.cat_a.pk, "active": "on", "metadata": "{}"})
    assert response.status_code == 302
    (row,) = entries(world.camp_a, "update")
    assert row.actor == "boss" and row.changes == {"description": ["", "from the admin"]} and row.request_id
    shown = boss.get(page).content.decode()
    assert "Change history" in shown and row.request_id in shown
    history = boss.get(f"{page.removesuffix('change/')}history/")
    assert history.status_code == 302 and "object_id=" in history["Location"]
    listing = boss.get(history["Location"])
    assert [r.pk for r in listing.context["cl"].result_list] == [row.pk]


def test_audit_log_exports_as_csv(world, api, boss):
    api.put(f"/v1/campaigns/{world.camp_a.public_id}", {"description": "exported"})
    fields = {f"auditentryresource_{name}": "on" for name in ("created_at", "action", "actor", "object_type",
                                                             "object_ref", "changes", "request_id")}
    response = boss.post("/admin/core/auditentry/export/", {"format": "0", "resource": "0", **fields})
    assert response.status_code == 200 and "text/csv" in response["Content-Type"]
    text = response.content.decode()
    assert world.camp_a.public_id in text and "exported" in text


def test_users_groups_and_permissions_are_recorded(world, boss):
    user = get_user_model().objects.create_user("agent", password="pw-123456789", is_staff=True)
    support = Group.objects.get(name=roles.CUSTOMER_SERVICE)
    page = f"/admin/auth/user/{user.pk}/change/"
    data = {"username": "agent", "is_staff": "on", "is_active": "on", "groups": [support.pk],
            "date_joined_0": "2026-01-01", "date_joined_1": "10:00:00", "initial-date_joined_0": "2026-01-01",
            "initial-date_joined_1": "10:00:00"}
    response = boss.post(page, data)
    assert response.status_code == 302, response.content[:2000]
    (row,) = entries(user, "update")
    assert row.changes["groups"] == ["(changed)", [support.pk]] and row.actor == "boss"

    set_category_access(support, world.cat_a, "read_only")
    (grant,) = entries(world.cat_a, "grant")
    assert grant.changes == {f"group:{roles.CUSTOMER_SERVICE}": [[], ["campaigns_read"]]}


def test_api_keys_are_recorded(world):
    issued = services.api_key_create(name="pos", scope="redemption", categories=[world.cat_a])
    key = ApiKey.objects.get(pk=issued.api_key.pk)
    services.api_key_update(key, name="pos north", scope="redemption", categories=[world.cat_a, world.cat_b])
    services.api_key_revoke(key)
    actions = [(r.action, r.changes) for r in sorted(entries(key), key=lambda r: r.pk)]
    assert actions[0][0] == "create"
    assert actions[1] == ("update", {"name": ["pos", "pos north"],
                                     "categories": [[world.cat_a.pk], sorted([world.cat_a.pk, world.cat_b.pk])]})
    assert actions[2] == ("update", {"revoked_at": [None, "revoked"]})
    assert "token_hash" not in str(actions)


def test_category_changes_and_metadata_schema_admin_are_recorded(world, api, boss):
    api.put(f"/v1/categories/{world.cat_a.public_id}", {"name": "Department A+"})
    (row,) = entries(world.cat_a, "update")
    assert row.changes == {"name": ["Department A", "Department A+"]}
    response = boss.post("/admin/core/metadataschema/add/", {"related_object": "voucher", "properties": "{}"})
    assert response.status_code == 302
    assert AuditEntry.objects.filter(object_type="core.metadataschema", action="create").count() == 1


def test_validation_rules_are_recorded(world, api, boss):
    from rules.models import ValidationRule

    created = api.post("/v1/validation-rules", {"name": "Big carts", "rules": {
        "1": {"name": "order.amount", "conditions": {"$more_than": [5000]}}, "logic": "1"}})
    assert created.status_code in (200, 201), created.content
    rule = ValidationRule.objects.get(public_id=created.json()["id"])
    api.put(f"/v1/validation-rules/{rule.public_id}", {"name": "Bigger carts"})
    api.post(f"/v1/validation-rules/{rule.public_id}/assignments", {"campaign": world.camp_a.public_id})
    rows = sorted(entries(rule), key=lambda r: r.pk)
    assert [r.action for r in rows][:2] == ["create", "update"]
    assert rows[1].changes["name"] == ["Big carts", "Bigger carts"]
    page = boss.get(f"/admin/rules/validationrule/{rule.pk}/change/")
    assert "Change history" in page.content.decode()

"""Roles are groups created by the data migration and kept in step by `sync_roles` (idempotent)."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from backoffice import roles
from core.permissions import redeemable_in_scope
from tests.backoffice.conftest import ROLE_NAMES

pytestmark = pytest.mark.django_db


def perms(role: str) -> set[str]:
    return {f"{app}.{codename}" for app, codename in
            Group.objects.get(name=role).permissions.values_list("content_type__app_label", "codename")}


def test_every_role_exists_with_its_capabilities():
    assert set(ROLE_NAMES) <= set(Group.objects.values_list("name", flat=True))
    assert len(perms(roles.ADMIN)) == Permission.objects.count()
    assert {"promo.approve_campaign", "promo.add_campaign", "promo.delete_campaign"} <= perms(roles.MARKETER)
    junior = perms(roles.JUNIOR_MARKETER)
    assert "promo.add_campaign" in junior and "promo.approve_campaign" not in junior
    assert "promo.delete_campaign" not in junior and "promo.view_redemption" in junior  # reads reports
    support = perms(roles.CUSTOMER_SERVICE)
    assert {"promo.issue_sorry_coupon", "promo.disable_voucher", "customers.view_customer"} <= support
    assert not {p for p in support if p.startswith("promo.") and p.split(".")[1].startswith(("add_", "change_"))}
    analyst = perms(roles.ANALYST)
    assert analyst and all(".view_" in p for p in analyst) and "auth.view_user" not in analyst
    assert "core.view_apikey" not in analyst and "core.view_auditentry" in analyst
    assert perms(roles.PARTNER) == {"promo.view_campaign", "promo.view_voucher", "promo.view_redemption",
                                    "promo.view_category"}


def test_sync_roles_is_idempotent_and_reset_takes_back_extras():
    marketer = Group.objects.get(name=roles.MARKETER)
    before = perms(roles.MARKETER)
    call_command("sync_roles")
    assert perms(roles.MARKETER) == before
    extra = Permission.objects.get(codename="view_apikey")
    marketer.permissions.add(extra)
    call_command("sync_roles")
    assert "core.view_apikey" in perms(roles.MARKETER)  # an administrator's addition stays
    call_command("sync_roles", "--reset")
    assert perms(roles.MARKETER) == before
    Group.objects.filter(name=roles.PARTNER).delete()
    call_command("sync_roles")
    assert Group.objects.filter(name=roles.PARTNER).exists()


def test_patterns():
    available = ["promo.view_campaign", "promo.add_campaign", "auth.view_user", "core.view_apikey"]
    assert roles.role_permissions(["*.view_*", "!auth.*"], available) == {"promo.view_campaign", "core.view_apikey"}
    assert roles.role_permissions(["nothing.*"], available) == set()


def test_redeemable_in_scope_for_the_engine(world, make_user, django_assert_num_queries):
    from core import services
    from core.models import ApiKey

    scoped = ApiKey.objects.get(pk=services.api_key_create(name="k", categories=[world.cat_a]).api_key.pk)
    everything = ApiKey.objects.get(pk=services.api_key_create(name="all").api_key.pk)
    code_a = type(world.code_a).objects.select_related("campaign").get(pk=world.code_a.pk)
    code_b = type(world.code_b).objects.select_related("campaign").get(pk=world.code_b.pk)
    assert redeemable_in_scope(code_a, scoped) and not redeemable_in_scope(code_b, scoped)
    assert redeemable_in_scope(code_a, everything)
    with django_assert_num_queries(0):  # the categories are read once per key object
        assert redeemable_in_scope(code_a, scoped) and not redeemable_in_scope(world.camp_b, scoped)
        assert redeemable_in_scope(code_b, everything) and redeemable_in_scope(code_b, None)
    partner = make_user(roles.PARTNER)
    assert not redeemable_in_scope(code_a, partner)


def test_the_docs_name_every_role_and_setting():
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs"
    guide, configuration = (docs / "backoffice.md").read_text(), (docs / "configuration.md").read_text()
    assert all(f"**{role}**" in guide for role in roles.ROLES)
    settings_py = (docs.parent / "promoengine" / "settings.py").read_text()
    import re

    names = re.findall(r'^((?:JUNIOR_MARKETER|APPROVAL|CS_SORRY_COUPON|BACKOFFICE)_[A-Z_]+) = ', settings_py, re.M)
    assert len(names) >= 10 and all(f"`{name}`" in configuration for name in names)


def test_create_api_key_with_categories(world):
    import io
    import json

    from core.models import ApiKey

    out = io.StringIO()
    call_command("create_api_key", "north shops", "--scope", "redemption", "--category", "Department A", "--json",
                 stdout=out)
    key = ApiKey.objects.get(app_id=json.loads(out.getvalue())["app_id"])
    assert list(key.categories.all()) == [world.cat_a]

"""A small world for the permission tests: two categories (departments A and B), a campaign with one code
in each, staff users in each role, and clients logged in as them."""

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from backoffice import roles
from core import services
from core.permissions import reset_cached_access
from promo.models import Campaign, Category, Voucher
from tests.conftest import JsonClient
from tests.promo.factories import CampaignFactory, CategoryFactory, VoucherFactory

ROLE_NAMES = [roles.ADMIN, roles.MARKETER, roles.JUNIOR_MARKETER, roles.CUSTOMER_SERVICE, roles.ANALYST,
              roles.PARTNER]


@dataclass
class World:
    cat_a: Category
    cat_b: Category
    camp_a: Campaign
    camp_b: Campaign
    code_a: Voucher
    code_b: Voucher


@pytest.fixture
def world(db) -> World:
    cat_a, cat_b = CategoryFactory(name="Department A"), CategoryFactory(name="Department B")
    camp_a = CampaignFactory(name="Spring A", category=cat_a,
                             voucher_template={"type": "DISCOUNT_VOUCHER",
                                               "discount": {"type": "AMOUNT", "amount_off": 500}})
    camp_b = CampaignFactory(name="Spring B", category=cat_b,
                             voucher_template={"type": "DISCOUNT_VOUCHER",
                                               "discount": {"type": "AMOUNT", "amount_off": 500}})
    return World(cat_a, cat_b, camp_a, camp_b, VoucherFactory(code="CODE-A", campaign=camp_a),
                 VoucherFactory(code="CODE-B", campaign=camp_b))


@pytest.fixture
def make_user(db):
    def make(role: str | None, username: str | None = None, **extra):
        user = get_user_model().objects.create_user(username or f"user-{(role or 'none').lower().replace(' ', '-')}",
                                                    password="pw-123456789", is_staff=True, **extra)
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


def session_client(user) -> JsonClient:
    client = JsonClient()
    client.client.force_login(user)
    return client


def key_client(**kwargs) -> JsonClient:
    issued = services.api_key_create(name="scoped key", **kwargs)
    return JsonClient({"X-App-Id": issued.app_id, "X-App-Token": issued.app_token})


def fresh(user):
    """The user as the next request sees it (permission caches dropped)."""
    reset_cached_access(user)
    return get_user_model().objects.get(pk=user.pk)

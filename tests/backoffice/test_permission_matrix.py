"""Permission tests as a matrix: every role x every action, through the API (staff session) and the admin,
with the expected allow or deny; then object-level grants (category read-write / read-only / none, single
campaigns) and API keys limited to categories.

Denials: an object the actor may not see, or may see but not change, answers 404 as if it did not exist
(NetBox's rule: lookups are restricted by the action); an action with no object (create) answers 403."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from backoffice import roles
from core.permissions import set_campaign_access, set_category_access
from promo.models import Campaign
from tests.backoffice.conftest import ROLE_NAMES, key_client, session_client
from tests.promo.factories import CampaignFactory

pytestmark = pytest.mark.django_db

A, M, J, CS, AN, P = ROLE_NAMES


def new_campaign(world, name="New campaign", category=None, discount=None):
    body = {"name": name, "voucher": {"type": "DISCOUNT_VOUCHER",
                                      "discount": discount or {"type": "AMOUNT", "amount_off": 100}}}
    if category is not False:
        body["category_id"] = (category or world.cat_a).public_id
    return body


# ---------------------------------------------------------------- API (staff session) x roles

API_ACTIONS = {
    "get campaign": lambda c, w: c.get(f"/v1/campaigns/{w.camp_a.public_id}"),
    "create campaign": lambda c, w: c.post("/v1/campaigns", new_campaign(w)),
    "update campaign": lambda c, w: c.put(f"/v1/campaigns/{w.camp_a.public_id}", {"description": "changed"}),
    "disable campaign": lambda c, w: c.post(f"/v1/campaigns/{w.camp_a.public_id}/disable"),
    "delete campaign": lambda c, w: c.delete(f"/v1/campaigns/{w.camp_a.public_id}"),
    "get voucher": lambda c, w: c.get("/v1/vouchers/CODE-A"),
    "update voucher": lambda c, w: c.put("/v1/vouchers/CODE-A", {"metadata": {"note": "x"}}),
    "disable voucher": lambda c, w: c.post("/v1/vouchers/CODE-A/disable"),
    "add voucher": lambda c, w: c.post(f"/v1/campaigns/{w.camp_a.public_id}/vouchers/NEW-CODE", {}),
    "create category": lambda c, w: c.post("/v1/categories", {"name": "Department C"}),
    "approve campaign": lambda c, w: c.post(f"/v1/campaigns/{w.pending.public_id}/approve", {}),
}

#                     Admin Marketer Junior  CS   Analyst Partner
API_EXPECTED = {
    "get campaign":     (200, 200, 200, 200, 200, 404),
    "create campaign":  (201, 201, 201, 403, 403, 403),
    "update campaign":  (200, 200, 200, 404, 404, 404),
    "disable campaign": (200, 200, 200, 404, 404, 404),
    "delete campaign":  (202, 202, 404, 404, 404, 404),
    "get voucher":      (200, 200, 200, 200, 200, 404),
    "update voucher":   (200, 200, 200, 404, 404, 404),
    "disable voucher":  (200, 200, 200, 404, 404, 404),
    "add voucher":      (201, 201, 201, 403, 403, 403),
    "create category":  (201, 201, 403, 403, 403, 403),
    "approve campaign": (200, 200, 403, 404, 404, 404),
}
API_CASES = [(role, action, API_EXPECTED[action][index])
             for action in API_EXPECTED for index, role in enumerate(ROLE_NAMES)]


@pytest.fixture
def pending_world(world, make_user):
    creator = make_user(roles.JUNIOR_MARKETER, "someone-else")
    world.pending = CampaignFactory(name="Waiting", category=world.cat_a, active=False, created_by=creator,
                                    approval_status=Campaign.Approval.PENDING)
    return world


@pytest.mark.parametrize(("role", "action", "expected"), API_CASES, ids=[f"{r}-{a}" for r, a, _ in API_CASES])
def test_api_matrix(pending_world, make_user, role, action, expected):
    client = session_client(make_user(role))
    response = API_ACTIONS[action](client, pending_world)
    assert response.status_code == expected, (role, action, response.content[:300])
    if expected >= 400:
        assert response.json()["key"] in ("not_found", "forbidden")


@pytest.mark.parametrize(("role", "visible"), [(A, 2), (M, 2), (J, 2), (CS, 2), (AN, 2), (P, 0)])
def test_api_lists_hold_what_the_role_may_see(world, make_user, role, visible):
    client = session_client(make_user(role))
    assert client.get("/v1/campaigns").json()["total"] == visible
    assert len(client.get("/v1/vouchers").json()["vouchers"]) == visible


# ---------------------------------------------------------------- admin (UI) x roles

def admin_pages(world) -> dict[str, str]:
    return {
        "campaign list": "/admin/promo/campaign/",
        "campaign page": f"/admin/promo/campaign/{world.camp_a.pk}/change/",
        "campaign add": "/admin/promo/campaign/add/",
        "voucher list": "/admin/promo/voucher/",
        "audit log": "/admin/core/auditentry/",
        "users": "/admin/auth/user/",
        "api keys": "/admin/core/apikey/",
        "category access": f"/admin/promo/category/{world.cat_a.pk}/permissions/",
    }


#                     Admin Marketer Junior  CS   Analyst Partner
UI_EXPECTED = {
    "campaign list":   (200, 200, 200, 200, 200, 200),
    "campaign page":   (200, 200, 200, 200, 200, 302),  # 302: "does not exist" back to the admin index
    "campaign add":    (403, 403, 403, 403, 403, 403),  # campaigns are created by the API or the wizard
    "voucher list":    (200, 200, 200, 200, 200, 200),
    "audit log":       (200, 200, 403, 403, 200, 403),
    "users":           (200, 403, 403, 403, 403, 403),
    "api keys":        (200, 403, 403, 403, 403, 403),
    "category access": (200, 302, 302, 302, 302, 302),  # guardian sends the others back to the index
}
UI_CASES = [(role, page, UI_EXPECTED[page][index]) for page in UI_EXPECTED for index, role in enumerate(ROLE_NAMES)]


@pytest.mark.parametrize(("role", "page", "expected"), UI_CASES, ids=[f"{r}-{p}" for r, p, _ in UI_CASES])
def test_admin_matrix(world, make_user, role, page, expected):
    client = Client()
    client.force_login(make_user(role))
    response = client.get(admin_pages(world)[page])
    assert response.status_code == expected, (role, page)


@pytest.mark.parametrize(("role", "may_edit"), [(A, True), (M, True), (J, True), (CS, False), (AN, False),
                                                (P, False)])
def test_admin_campaign_edit_matrix(world, make_user, role, may_edit):
    client = Client()
    client.force_login(make_user(role))
    page = f"/admin/promo/campaign/{world.camp_a.pk}/change/"
    client.post(page, {"name": world.camp_a.name, "description": "edited in the admin", "category": world.cat_a.pk,
                       "active": "on", "metadata": "{}"})
    world.camp_a.refresh_from_db()
    assert (world.camp_a.description == "edited in the admin") is may_edit


#                  Admin Marketer Junior  CS    Analyst Partner
ADMIN_ACTIONS = {
    "disable voucher": (True, True, True, True, False, False),  # CS: promo.disable_voucher, no edit rights
    "approve campaign": (True, True, False, False, False, False),
}
ADMIN_ACTION_CASES = [(role, action, ADMIN_ACTIONS[action][index])
                      for action in ADMIN_ACTIONS for index, role in enumerate(ROLE_NAMES)]


@pytest.mark.parametrize(("role", "action", "allowed"), ADMIN_ACTION_CASES,
                         ids=[f"{r}-{a}" for r, a, _ in ADMIN_ACTION_CASES])
def test_admin_action_matrix(pending_world, make_user, role, action, allowed):
    client = Client()
    client.force_login(make_user(role))
    if action == "disable voucher":
        target, url, name = pending_world.code_a, "/admin/promo/voucher/", "disable"
    else:
        target, url, name = pending_world.pending, "/admin/promo/campaign/", "approve"
    client.post(url, {"action": name, "_selected_action": [target.pk]})
    target.refresh_from_db()
    done = (not target.active) if action == "disable voucher" else target.approval_status == "APPROVED"
    assert done is allowed


# ---------------------------------------------------------------- back-office pages (console, wizard) x roles

@pytest.fixture
def console_world(world):
    from tests.customers.factories import CustomerFactory

    world.customer = CustomerFactory(name="Ada Lovelace", email="ada@example.com")
    Campaign.objects.filter(pk=world.camp_a.pk).update(sorry_coupons=True)
    world.code_a.holder = world.customer
    world.code_a.save(update_fields=["holder"])
    return world


def backoffice_pages(world) -> dict[str, str]:
    return {
        "console search": "/backoffice/customers/?q=nobody",
        "customer page": f"/backoffice/customers/{world.customer.public_id}/",
        "check a code": f"/backoffice/customers/{world.customer.public_id}/?code=CODE-A&amount=50",
        "campaign wizard": "/backoffice/campaigns/new",
    }


#                     Admin Marketer Junior  CS   Analyst Partner
BACKOFFICE_PAGES = {
    "console search":  (200, 200, 200, 200, 200, 403),
    "customer page":   (200, 200, 200, 200, 200, 403),
    "check a code":    (200, 200, 200, 200, 200, 403),  # read-only: nothing is redeemed
    "campaign wizard": (200, 200, 200, 403, 403, 403),  # customer service may not create campaigns
}


def role_cases(table: dict) -> list:
    """(role, row name, expected) for every role and row of a matrix table, with readable ids."""
    return [pytest.param(role, name, row[index], id=f"{role}-{name}")
            for name, row in table.items() for index, role in enumerate(ROLE_NAMES)]


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(("role", "page", "expected"), role_cases(BACKOFFICE_PAGES))
def test_backoffice_page_matrix(console_world, make_user, role, page, expected):
    response = logged_in(make_user(role)).get(backoffice_pages(console_world)[page])
    assert response.status_code == expected, (role, page)


def _wizard_answers(name: str) -> dict:
    return {"name": name, "discount_type": "PERCENT", "discount_value": "10", "match": "all", "per_code": "1",
            "count": "0", "charset": "unambiguous", "length": "8", "rule-TOTAL_FORMS": "0",
            "rule-INITIAL_FORMS": "0", "rule-MIN_NUM_FORMS": "0", "rule-MAX_NUM_FORMS": "10"}


BACKOFFICE_ACTIONS = {
    "issue sorry coupon": lambda c, w: c.post(f"/backoffice/customers/{w.customer.public_id}/sorry-coupon",
                                              {"campaign": w.camp_a.public_id, "reason": "late parcel"}),
    "disable code in console": lambda c, w: c.post(f"/backoffice/customers/{w.customer.public_id}/codes/toggle",
                                                   {"code": "CODE-A", "active": "0"}),
    "create campaign in wizard": lambda c, w: c.post("/backoffice/campaigns/new", _wizard_answers("Wizard made")),
}
BACKOFFICE_DONE = {
    "issue sorry coupon": lambda w: w.customer.vouchers.exclude(code="CODE-A").exists(),
    "disable code in console": lambda w: not type(w.code_a).objects.get(pk=w.code_a.pk).active,
    "create campaign in wizard": lambda w: Campaign.objects.filter(name="Wizard made").exists(),
}
#                              Admin Marketer Junior  CS    Analyst Partner
BACKOFFICE_ALLOWED = {
    "issue sorry coupon":        (True, True, False, True, False, False),
    "disable code in console":   (True, True, True, True, False, False),  # Junior: may change codes
    "create campaign in wizard": (True, True, True, False, False, False),  # Junior's waits for approval
}


@pytest.mark.parametrize(("role", "action", "allowed"), role_cases(BACKOFFICE_ALLOWED))
def test_backoffice_action_matrix(console_world, make_user, role, action, allowed):
    response = BACKOFFICE_ACTIONS[action](logged_in(make_user(role)), console_world)
    assert BACKOFFICE_DONE[action](console_world) is allowed, (role, action)
    assert response.status_code in ((302,) if allowed else (302, 403))


# ---------------------------------------------------------------- object level: category and campaign grants

def _grant(world, make_user, who, level, category_attr="cat_a"):
    """who: a role (the grant goes to the user) or "group:<role>" (to a group the user is in)."""
    if who.startswith("group:"):
        user = make_user(who.split(":", 1)[1])
        team = Group.objects.create(name="Team A")
        user.groups.add(team)
        set_category_access(team, getattr(world, category_attr), level)
    else:
        user = make_user(who)
        set_category_access(user, getattr(world, category_attr), level)
    return user


OBJECT_CASES = [
    # who, level on department A, then (GET A, PUT A, GET B, PUT B)
    (M, "read_write", (200, 200, 404, 404)),
    (M, "read_only", (200, 404, 404, 404)),
    (M, "none", (404, 404, 200, 200)),
    ("group:" + M, "read_write", (200, 200, 404, 404)),
    ("group:" + M, "read_only", (200, 404, 404, 404)),
    ("group:" + M, "none", (404, 404, 200, 200)),
    (AN, "read_write", (200, 404, 404, 404)),  # the role caps the grant: an analyst never writes
    (J, "read_write", (200, 200, 404, 404)),
    (CS, "read_only", (200, 404, 404, 404)),
    (P, "read_only", (200, 404, 404, 404)),
    (P, None, (404, 404, 404, 404)),  # a partner without grants sees nothing
]


@pytest.mark.parametrize(("who", "level", "expected"), OBJECT_CASES,
                         ids=[f"{w}-{level}" for w, level, _ in OBJECT_CASES])
def test_category_grants(world, make_user, who, level, expected):
    client = session_client(_grant(world, make_user, who, level))
    got = (client.get(f"/v1/campaigns/{world.camp_a.public_id}").status_code,
           client.put(f"/v1/campaigns/{world.camp_a.public_id}", {"description": "x"}).status_code,
           client.get(f"/v1/campaigns/{world.camp_b.public_id}").status_code,
           client.put(f"/v1/campaigns/{world.camp_b.public_id}", {"description": "x"}).status_code)
    assert got == expected
    # Codes follow their campaign.
    assert client.get("/v1/vouchers/CODE-A").status_code == (200 if expected[0] == 200 else 404)


def test_category_grants_apply_to_the_admin_too(world, make_user):
    user = _grant(world, make_user, M, "read_only")
    client = Client()
    client.force_login(user)
    listing = client.get("/admin/promo/campaign/")
    assert {c.name for c in listing.context["cl"].result_list} == {"Spring A"}
    page = client.get(f"/admin/promo/campaign/{world.camp_a.pk}/change/")
    assert page.status_code == 200 and not page.context["has_change_permission"]  # read-only page
    assert client.get(f"/admin/promo/campaign/{world.camp_b.pk}/change/").status_code == 302


def test_a_scoped_user_creates_only_in_writable_categories(world, make_user):
    user = _grant(world, make_user, M, "read_write")
    set_category_access(user, world.cat_b, "read_only")
    client = session_client(user)
    assert client.post("/v1/campaigns", new_campaign(world, "In A")).status_code == 201
    assert client.post("/v1/campaigns", new_campaign(world, "In B", category=world.cat_b)).status_code == 403
    assert client.post("/v1/campaigns", new_campaign(world, "Nowhere", category=False)).status_code == 403
    moved = client.put(f"/v1/campaigns/{world.camp_a.public_id}", {"category_id": world.cat_b.public_id})
    assert moved.status_code == 403


@pytest.mark.parametrize(("actions", "expected"), [
    (["view"], (200, 404, 404)),
    (["view", "change"], (200, 200, 404)),
    ([], (404, 404, 404)),
])
def test_single_campaign_grants_for_a_partner(world, make_user, actions, expected):
    partner = make_user(P)
    set_campaign_access(partner, world.camp_b, actions)
    client = session_client(partner)
    got = (client.get(f"/v1/campaigns/{world.camp_b.public_id}").status_code,
           client.put(f"/v1/campaigns/{world.camp_b.public_id}", {"description": "x"}).status_code,
           client.get(f"/v1/campaigns/{world.camp_a.public_id}").status_code)
    assert got == expected
    assert client.get("/v1/vouchers/CODE-B").status_code == expected[0]


def test_removing_a_grant_restores_the_role(world, make_user):
    user = _grant(world, make_user, M, "read_only")
    set_category_access(user, world.cat_a, None)
    client = session_client(user)
    assert client.get(f"/v1/campaigns/{world.camp_b.public_id}").status_code == 200


# ---------------------------------------------------------------- API keys limited to categories

KEY_CASES = [
    ("GET", "/v1/campaigns/{a}", None, 200),
    ("GET", "/v1/campaigns/{b}", None, 404),
    ("PUT", "/v1/campaigns/{b}", {"description": "x"}, 404),
    ("DELETE", "/v1/campaigns/{b}", None, 404),
    ("GET", "/v1/campaigns/{b}/summary", None, 404),
    ("GET", "/v1/vouchers/CODE-A", None, 200),
    ("GET", "/v1/vouchers/CODE-B", None, 404),
    ("POST", "/v1/vouchers/CODE-B/disable", None, 404),
    ("POST", "/v1/campaigns/{b}/vouchers/NEW-B", {}, 404),
    ("GET", "/v1/categories/{cat_b}", None, 404),
    ("POST", "/v1/campaigns", "in B", 404),  # the category itself is not found
    ("POST", "/v1/campaigns", "no category", 403),
    ("POST", "/v1/campaigns", "in A", 201),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), KEY_CASES,
                         ids=[f"{m} {p} {b if isinstance(b, str) else ''}" for m, p, b, _ in KEY_CASES])
def test_category_scoped_api_key(world, method, path, body, expected):
    client = key_client(categories=[world.cat_a])
    path = path.format(a=world.camp_a.public_id, b=world.camp_b.public_id, cat_b=world.cat_b.public_id)
    if isinstance(body, str):
        body = {"in B": new_campaign(world, "Key B", category=world.cat_b),
                "no category": new_campaign(world, "Key none", category=False),
                "in A": new_campaign(world, "Key A")}[body]
    response = client.request(method, path, body)
    assert response.status_code == expected, response.content[:300]


def test_category_scoped_key_lists_only_its_categories(world):
    client = key_client(categories=[world.cat_a])
    assert [c["name"] for c in client.get("/v1/campaigns").json()["campaigns"]] == ["Spring A"]
    assert [v["code"] for v in client.get("/v1/vouchers").json()["vouchers"]] == ["CODE-A"]
    assert [c["name"] for c in client.get("/v1/categories").json()["data"]] == ["Department A"]
    assert client.get("/v1/vouchers", campaign=world.camp_b.public_id).json()["vouchers"] == []


def test_unscoped_and_read_only_keys(world):
    everything = key_client()
    assert everything.get("/v1/campaigns").json()["total"] == 2
    reader = key_client(scope="read_only", categories=[world.cat_b])
    assert reader.get(f"/v1/campaigns/{world.camp_b.public_id}").status_code == 200
    assert reader.get(f"/v1/campaigns/{world.camp_a.public_id}").status_code == 404
    assert reader.post(f"/v1/campaigns/{world.camp_b.public_id}/disable").status_code == 403


def test_changing_a_keys_categories_takes_effect_at_once(world):
    from core import services
    from core.models import ApiKey

    client = key_client(categories=[world.cat_a])
    assert client.get(f"/v1/campaigns/{world.camp_b.public_id}").status_code == 404
    key = ApiKey.objects.get(name="scoped key")
    services.api_key_update(key, name=key.name, scope=key.scope, categories=[world.cat_a, world.cat_b])
    assert client.get(f"/v1/campaigns/{world.camp_b.public_id}").status_code == 200


def test_category_scoped_key_cannot_validate_or_redeem_other_categories_codes(world):
    client = key_client(scope="redemption", categories=[world.cat_a])
    payload = {"redeemables": [{"object": "voucher", "id": "CODE-B"}], "order": {"amount": 10000}}
    validation = client.post("/v1/validations", payload).json()
    assert validation["valid"] is False
    assert validation["redeemables"][0]["result"]["error"]["key"] == "not_found"
    # Refused exactly as a code that does not exist is refused.
    hidden = client.post("/v1/redemptions", payload)
    missing = client.post("/v1/redemptions", {**payload, "redeemables": [{"object": "voucher", "id": "NO-SUCH"}]})
    assert hidden.status_code == missing.status_code == 400
    assert hidden.json()["key"] == missing.json()["key"] == "not_found"
    payload["redeemables"][0]["id"] = "CODE-A"
    assert client.post("/v1/validations", payload).json()["valid"] is True

"""Campaign approvals: a Junior Marketer's campaigns (and any above the thresholds) wait PENDING, disabled,
until a Marketer or Admin other than the creator approves; nothing of theirs redeems before that."""

import pytest

from backoffice import roles
from core.models import AuditEntry
from promo.models import Campaign
from tests.backoffice.conftest import key_client, session_client
from tests.conftest import assert_error
from tests.promo.factories import RuleFactory

pytestmark = pytest.mark.django_db

BUDGET_RULE = {"1": {"name": "campaign.orders.amount_discounted", "property": None,
                     "conditions": {"$less_than_or_equal": [100000]}}, "logic": "1"}


# The campaign is disabled while pending (voucher_disabled); the engine may also name the reason.
PENDING_KEYS = {"voucher_disabled", "campaign_not_approved"}


def campaign_body(name, percent=50, rules=None):
    body = {"name": name, "voucher": {"type": "DISCOUNT_VOUCHER",
                                      "discount": {"type": "PERCENT", "percent_off": percent}}}
    if rules:
        body["validation_rules"] = rules
    return body


def redeem(api, code):
    return api.post("/v1/redemptions", {"redeemables": [{"object": "voucher", "id": code}],
                                        "order": {"amount": 10000}})


@pytest.fixture
def junior(make_user):
    return session_client(make_user(roles.JUNIOR_MARKETER, "junior"))


@pytest.fixture
def marketer(make_user):
    return session_client(make_user(roles.MARKETER, "marketer"))


def test_a_junior_marketers_campaign_waits_and_does_not_redeem_until_approved(db, junior, marketer, api):
    created = junior.post("/v1/campaigns", campaign_body("Half price"))
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["approval_status"] == "PENDING" and body["active"] is False
    campaign_id = body["id"]
    assert junior.post(f"/v1/campaigns/{campaign_id}/vouchers/HALF50", {}).status_code == 201

    refused = redeem(api, "HALF50")
    assert refused.status_code == 400 and refused.json()["key"] in PENDING_KEYS
    validation = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": "HALF50"}],
                                              "order": {"amount": 10000}}).json()
    assert validation["valid"] is False
    assert_error(junior.post(f"/v1/campaigns/{campaign_id}/enable"), 409, "campaign_not_approved")
    assert_error(api.post(f"/v1/campaigns/{campaign_id}/enable"), 409, "campaign_not_approved")
    assert_error(junior.post(f"/v1/campaigns/{campaign_id}/approve", {}), 403, "forbidden")
    assert_error(api.post(f"/v1/campaigns/{campaign_id}/approve", {}), 403, "forbidden")  # keys never approve

    approved = marketer.post(f"/v1/campaigns/{campaign_id}/approve", {"note": "ok for the spring sale"})
    assert approved.status_code == 200, approved.content
    assert approved.json()["approval_status"] == "APPROVED" and approved.json()["active"] is True
    assert approved.json()["approved_by"] == "marketer"
    assert redeem(api, "HALF50").status_code == 200

    actions = list(AuditEntry.objects.filter(object_type="promo.campaign", object_ref=campaign_id)
                   .order_by("id").values_list("action", "actor"))
    assert actions[:2] == [("create", "junior"), ("submit", "junior")]
    assert ("approve", "marketer") in actions


def test_a_creator_does_not_approve_their_own_campaign(db, marketer, make_user, settings):
    settings.APPROVAL_PERCENT_OFF_ABOVE = 40
    created = marketer.post("/v1/campaigns", campaign_body("Big sale", 60)).json()
    assert created["approval_status"] == "PENDING"
    assert_error(marketer.post(f"/v1/campaigns/{created['id']}/approve", {}), 403, "forbidden")
    other = session_client(make_user(roles.MARKETER, "other-marketer"))
    assert other.post(f"/v1/campaigns/{created['id']}/approve", {}).status_code == 200
    assert marketer.post("/v1/campaigns", campaign_body("Small sale", 30)).json()["approval_status"] == "APPROVED"


def test_thresholds_apply_to_api_keys(db, api, settings):
    settings.APPROVAL_AMOUNT_OFF_ABOVE = 5000
    big = {"name": "Fifty off", "voucher": {"type": "DISCOUNT_VOUCHER",
                                            "discount": {"type": "AMOUNT", "amount_off": 6000}}}
    assert api.post("/v1/campaigns", big).json()["approval_status"] == "PENDING"
    settings.APPROVAL_AMOUNT_OFF_ABOVE = 0
    assert api.post("/v1/campaigns", {**big, "name": "Fine"}).json()["approval_status"] == "APPROVED"


@pytest.mark.parametrize(("percent", "with_budget", "expected"), [
    (20, True, "APPROVED"),
    (30, True, "APPROVED"),
    (31, True, "PENDING"),  # above JUNIOR_MARKETER_MAX_PERCENT
    (20, False, "PENDING"),  # JUNIOR_MARKETER_REQUIRES_BUDGET
])
def test_junior_caps_when_not_every_campaign_needs_approval(db, junior, settings, percent, with_budget, expected):
    settings.JUNIOR_MARKETER_ALWAYS_NEEDS_APPROVAL = False
    rules = [RuleFactory(rules=BUDGET_RULE).public_id] if with_budget else None
    body = junior.post("/v1/campaigns", campaign_body(f"Junior {percent}", percent, rules)).json()
    assert body["approval_status"] == expected, body
    assert body["active"] is (expected == "APPROVED")


def test_raising_a_discount_past_the_cap_sends_the_campaign_back_for_approval(db, junior, marketer, settings):
    settings.JUNIOR_MARKETER_ALWAYS_NEEDS_APPROVAL = False
    rules = [RuleFactory(rules=BUDGET_RULE).public_id]
    body = junior.post("/v1/campaigns", campaign_body("Modest", 10, rules)).json()
    assert body["approval_status"] == "APPROVED"
    changed = junior.put(f"/v1/campaigns/{body['id']}", {"discount": {"type": "PERCENT", "percent_off": 60}})
    assert changed.json()["approval_status"] == "PENDING" and changed.json()["active"] is False
    # A marketer may raise it without a new approval.
    marketer.post(f"/v1/campaigns/{body['id']}/approve", {})
    again = marketer.put(f"/v1/campaigns/{body['id']}", {"discount": {"type": "PERCENT", "percent_off": 70}})
    assert again.json()["approval_status"] == "APPROVED"


def test_reject_then_approve(db, junior, marketer):
    campaign_id = junior.post("/v1/campaigns", campaign_body("Maybe")).json()["id"]
    rejected = marketer.post(f"/v1/campaigns/{campaign_id}/reject", {"note": "too generous"})
    assert rejected.json()["approval_status"] == "REJECTED" and rejected.json()["approval_note"] == "too generous"
    assert_error(marketer.post(f"/v1/campaigns/{campaign_id}/reject", {}), 409, "conflict")
    assert marketer.post(f"/v1/campaigns/{campaign_id}/approve", {}).json()["approval_status"] == "APPROVED"
    assert_error(marketer.post(f"/v1/campaigns/{campaign_id}/approve", {"note": 5}), 400, "invalid_payload")


def test_pending_campaign_cannot_be_enabled_in_the_admin(db, junior, make_user):
    from django.test import Client

    campaign_id = junior.post("/v1/campaigns", campaign_body("Admin pending")).json()["id"]
    campaign = Campaign.objects.get(public_id=campaign_id)
    client = Client()
    client.force_login(make_user(roles.ADMIN, "boss"))
    response = client.post("/admin/promo/campaign/", {"action": "enable", "_selected_action": [campaign.pk]},
                           follow=True)
    assert "campaign_not_approved" not in response.content.decode()  # a readable message, not a key
    assert "can be enabled once a Marketer or Admin approves it" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.active is False
    client.post("/admin/promo/campaign/", {"action": "approve", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.approval_status == "APPROVED" and campaign.active and campaign.approved_by.username == "boss"


def test_key_created_campaigns_have_no_creator_and_keys_see_approval_status(db, world):
    client = key_client()
    body = client.get(f"/v1/campaigns/{world.camp_a.public_id}").json()
    assert body["approval_status"] == "APPROVED" and body["active"] is True


# ---------------------------------------------------------------- tiers added or changed later (issue 7)

def promotion_body(name, percent=10):
    return {"name": name, "campaign_type": "PROMOTION", "promotion": {"tiers": [
        {"name": "Small", "action": {"discount": {"type": "PERCENT", "percent_off": percent}}}]}}


def tier_body(name, percent):
    return {"name": name, "action": {"discount": {"type": "PERCENT", "percent_off": percent}}}


@pytest.fixture
def lenient(settings):
    """Juniors launch alone within their caps (so a later tier is what needs the approval)."""
    settings.JUNIOR_MARKETER_ALWAYS_NEEDS_APPROVAL = False
    settings.JUNIOR_MARKETER_REQUIRES_BUDGET = False
    return settings


def test_a_junior_adding_or_raising_a_tier_past_the_cap_sends_the_promotion_back_for_approval(
        db, junior, marketer, lenient, api):
    body = junior.post("/v1/campaigns", promotion_body("Junior promo")).json()
    assert body["approval_status"] == "APPROVED" and body["active"] is True
    campaign_id = body["id"]
    assert junior.post(f"/v1/promotions/{campaign_id}/tiers", tier_body("Fine", 25)).status_code == 201
    assert Campaign.objects.get(public_id=campaign_id).approval_status == "APPROVED"

    added = junior.post(f"/v1/promotions/{campaign_id}/tiers", tier_body("Too much", 50))
    assert added.status_code == 201 and added.json()["campaign"]["active"] is False
    campaign = Campaign.objects.get(public_id=campaign_id)
    assert campaign.approval_status == "PENDING" and not campaign.active and "cap" in campaign.approval_note
    validation = api.post("/v1/validations", {"redeemables": [{"object": "promotion_tier", "id": added.json()["id"]}],
                                              "order": {"amount": 10000}}).json()
    assert validation["valid"] is False  # nothing of a pending campaign applies
    assert AuditEntry.objects.filter(object_id=str(campaign.pk), action="submit").exists()

    marketer.post(f"/v1/campaigns/{campaign_id}/approve", {})
    tier_id = added.json()["id"]
    # Lowering a tier within the cap keeps it approved; raising one past it waits again.
    assert junior.put(f"/v1/promotions/tiers/{tier_id}", {"name": "Renamed"}).status_code == 200
    assert Campaign.objects.get(public_id=campaign_id).approval_status == "APPROVED"
    raised = junior.put(f"/v1/promotions/tiers/{tier_id}", tier_body("Raised", 60))
    assert raised.status_code == 200 and raised.json()["campaign"]["active"] is False
    assert Campaign.objects.get(public_id=campaign_id).approval_status == "PENDING"
    # A Marketer may add or raise tiers without a new approval.
    marketer.post(f"/v1/campaigns/{campaign_id}/approve", {})
    assert marketer.put(f"/v1/promotions/tiers/{tier_id}", tier_body("Raised", 70)).status_code == 200
    assert marketer.post(f"/v1/promotions/{campaign_id}/tiers", tier_body("Marketer", 80)).status_code == 201
    assert Campaign.objects.get(public_id=campaign_id).approval_status == "APPROVED"


def test_tier_thresholds_apply_to_api_keys(db, api, settings):
    settings.APPROVAL_PERCENT_OFF_ABOVE = 40
    campaign_id = api.post("/v1/campaigns", promotion_body("Key promo")).json()["id"]
    assert Campaign.objects.get(public_id=campaign_id).approval_status == "APPROVED"
    assert api.post(f"/v1/promotions/{campaign_id}/tiers", tier_body("Big", 45)).status_code == 201
    campaign = Campaign.objects.get(public_id=campaign_id)
    assert campaign.approval_status == "PENDING" and "threshold" in campaign.approval_note


def test_tier_admin_applies_the_juniors_caps(db, junior, lenient, make_user):
    from django.test import Client

    from promo.models import PromotionTier

    user = make_user(roles.JUNIOR_MARKETER, "junior-admin")
    client = Client()
    client.force_login(user)
    campaign_id = session_client(user).post("/v1/campaigns", promotion_body("Admin promo")).json()["id"]
    campaign = Campaign.objects.get(public_id=campaign_id)
    assert campaign.approval_status == "APPROVED"
    form = {"name": "Half", "banner": "", "hierarchy": "", "active": "on", "discount_type": "PERCENT",
            "discount_value": "50", "discount_effect": "", "discount_limit": "", "metadata": "{}",
            "campaign": campaign.pk}
    response = client.post("/admin/promo/promotiontier/add/", form)
    assert response.status_code == 302, response.content
    campaign.refresh_from_db()
    assert campaign.approval_status == "PENDING" and campaign.active is False

    other = make_user(roles.MARKETER, "approver")
    session_client(other).post(f"/v1/campaigns/{campaign_id}/approve", {})
    tier = PromotionTier.objects.get(name="Small", campaign=campaign)
    response = client.post(f"/admin/promo/promotiontier/{tier.pk}/change/", {**form, "name": "Small",
                                                                             "discount_value": "35"})
    assert response.status_code == 302, response.content
    campaign.refresh_from_db()
    assert campaign.approval_status == "PENDING" and "35" in campaign.approval_note

"""The admin's editors and bulk actions (issue 7), each through the Django test client as a role that may and
as one that may not: promotion tiers and stacks, bulk actions on codes with their progress page, duplicating
and scheduling campaigns, and imports (dry-run preview, permission checks, one transaction)."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from backoffice import roles
from core.context import acting
from core.models import AsyncAction, AuditEntry
from customers.models import Customer
from promo import admin_bulk, promotions
from promo import campaigns as services
from promo.models import Campaign, PromotionStack, PromotionTier, Voucher
from rules.models import ValidationRuleAssignment
from tests.backoffice.conftest import fresh
from tests.promo.factories import RuleFactory, VoucherFactory, assign

pytestmark = pytest.mark.django_db

A, M, J, CS, AN, P = (roles.ADMIN, roles.MARKETER, roles.JUNIOR_MARKETER, roles.CUSTOMER_SERVICE, roles.ANALYST,
                      roles.PARTNER)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run_action(client, model: str, action: str, pks, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [str(pk) for pk in pks], **extra}
    return client.post(f"/admin/promo/{model}/", data)


@pytest.fixture
def promotion(world):
    with acting(None):
        campaign = services.campaign_create({
            "name": "Summer promotion", "campaign_type": "PROMOTION", "category_id": world.cat_a.public_id,
            "promotion": {"tiers": [
                {"name": "Ten off", "action": {"discount": {"type": "PERCENT", "percent_off": 10}}},
                {"name": "Five back", "action": {"discount": {"type": "AMOUNT", "amount_off": 500}}},
            ]}})
    return campaign


def audit_rows(obj, action=None):
    rows = AuditEntry.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
    return rows.filter(action=action) if action else rows


# ---------------------------------------------------------------- promotion tiers and stacks

TIER_FORM = {"name": "Fifteen off", "banner": "15% off everything", "hierarchy": "", "active": "on",
             "discount_type": "PERCENT", "discount_value": "15", "discount_effect": "", "discount_limit": "20.00",
             "metadata": "{}"}


def test_marketer_adds_a_tier_with_plain_discount_fields(promotion, make_user):
    client = client_for(make_user(M))
    assert client.get("/admin/promo/promotiontier/add/").status_code == 200
    response = client.post("/admin/promo/promotiontier/add/", {**TIER_FORM, "campaign": promotion.pk})
    assert response.status_code == 302, response.context["adminform"].form.errors
    tier = PromotionTier.objects.get(name="Fifteen off")
    assert tier.action == {"discount": {"type": "PERCENT", "effect": "APPLY_TO_ORDER", "percent_off": 15,
                                        "amount_limit": 2000, "is_dynamic": False}}
    assert tier.hierarchy == 3  # after the campaign's two tiers
    assert audit_rows(tier, "create").count() == 1


def test_tier_edit_goes_through_the_service_and_is_audited(promotion, make_user):
    tier = PromotionTier.objects.get(name="Five back")
    PromotionTier.objects.filter(pk=tier.pk).update(redeemed_quantity=3)
    client = client_for(make_user(M))
    page = client.get(f"/admin/promo/promotiontier/{tier.pk}/change/")
    form = page.context["adminform"].form
    assert form.initial["discount_type"] == "AMOUNT" and str(form.initial["discount_value"]) == "5.00"
    data = {**TIER_FORM, "name": "Seven back", "discount_type": "AMOUNT", "discount_value": "7.00",
            "discount_limit": "", "hierarchy": "2", "redemption_quantity": "10"}
    response = client.post(f"/admin/promo/promotiontier/{tier.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    tier.refresh_from_db()
    assert tier.name == "Seven back" and tier.discount["amount_off"] == 700
    assert tier.redeemed_quantity == 3  # counters untouched
    change = audit_rows(tier, "update").get().changes
    assert change["name"] == ["Five back", "Seven back"] and "action" in change

    # A limit below the uses taken is refused on the form.
    response = client.post(f"/admin/promo/promotiontier/{tier.pk}/change/", {**data, "redemption_quantity": "2"})
    assert response.status_code == 200 and response.context["adminform"].form.errors


def test_tier_form_refuses_a_discount_the_engine_cannot_apply(promotion, make_user):
    client = client_for(make_user(M))
    response = client.post("/admin/promo/promotiontier/add/",
                           {**TIER_FORM, "campaign": promotion.pk, "discount_value": "150"})
    assert response.status_code == 200
    assert "percent_off" in str(response.context["adminform"].form.errors)
    assert not PromotionTier.objects.filter(name="Fifteen off").exists()


def test_enable_disable_tiers(promotion, make_user):
    tiers = list(PromotionTier.objects.filter(campaign=promotion))
    client = client_for(make_user(J))  # a Junior Marketer may change tiers
    run_action(client, "promotiontier", "disable", [t.pk for t in tiers])
    assert not PromotionTier.objects.filter(campaign=promotion, active=True).exists()
    assert audit_rows(tiers[0], "update").get().changes == {"active": [True, False]}
    run_action(client, "promotiontier", "enable", [tiers[0].pk])
    assert PromotionTier.objects.filter(campaign=promotion, active=True).count() == 1


@pytest.mark.parametrize("role", [AN, CS, P])
def test_roles_without_tier_permissions_cannot_change_tiers(promotion, make_user, role):
    tier = PromotionTier.objects.get(name="Ten off")
    client = client_for(make_user(role))
    assert client.get("/admin/promo/promotiontier/add/").status_code == 403
    response = client.post(f"/admin/promo/promotiontier/{tier.pk}/change/", {**TIER_FORM, "name": "Hacked"})
    assert response.status_code in (302, 403)
    run_action(client, "promotiontier", "disable", [tier.pk])
    tier.refresh_from_db()
    assert tier.name == "Ten off" and tier.active
    listing = client.get("/admin/promo/promotiontier/")
    if role == AN:  # reads
        assert listing.status_code == 200 and "Ten off" in listing.content.decode()
    else:
        assert listing.status_code == 403 or "Ten off" not in listing.content.decode()


def test_category_scoped_marketer_sees_only_tiers_of_granted_categories(promotion, make_user, world):
    from core.permissions import set_category_access

    user = make_user(M)
    set_category_access(user, world.cat_b, "read_write")
    listing = client_for(fresh(user)).get("/admin/promo/promotiontier/")
    assert listing.status_code == 200 and "Ten off" not in listing.content.decode()


def test_stack_admin_creates_and_edits_stacks(promotion, make_user):
    tiers = list(PromotionTier.objects.filter(campaign=promotion).order_by("hierarchy"))
    client = client_for(make_user(M))
    assert client.get("/admin/promo/promotionstack/add/").status_code == 200
    response = client.post("/admin/promo/promotionstack/add/", {"campaign": promotion.pk, "name": "Both",
                                                                 "tiers": [t.pk for t in reversed(tiers)]})
    assert response.status_code == 302, response.context["adminform"].form.errors
    stack = PromotionStack.objects.get()
    assert stack.tier_ids == [t.public_id for t in tiers]  # in the order of their hierarchy
    assert audit_rows(stack, "create").count() == 1
    response = client.post(f"/admin/promo/promotionstack/{stack.pk}/change/", {"name": "Only ten",
                                                                               "tiers": [tiers[0].pk]})
    assert response.status_code == 302
    stack.refresh_from_db()
    assert stack.name == "Only ten" and stack.tier_ids == [tiers[0].public_id]
    # Analysts read stacks but do not create them.
    analyst = client_for(make_user(AN))
    assert analyst.get("/admin/promo/promotionstack/add/").status_code == 403
    assert analyst.get("/admin/promo/promotionstack/").status_code == 200


# ---------------------------------------------------------------- bulk actions on codes

@pytest.fixture
def codes(world):
    return [VoucherFactory(code=f"BULK-{n}", campaign=world.camp_a) for n in range(5)]


def test_extend_expiry_asks_for_the_date_then_runs_in_the_background(codes, make_user,
                                                                     django_capture_on_commit_callbacks):
    client = client_for(make_user(M))
    pks = [v.pk for v in codes]
    step1 = run_action(client, "voucher", "extend_expiry", pks)
    assert step1.status_code == 200 and step1.context["count"] == 5
    assert "Set the new expiry date" in step1.content.decode()
    new = (timezone.now() + timedelta(days=60)).replace(microsecond=0, second=0)
    with django_capture_on_commit_callbacks(execute=True):
        step2 = run_action(client, "voucher", "extend_expiry", pks, apply="1",
                           expiration_date=timezone.localtime(new).strftime("%Y-%m-%dT%H:%M"))
    assert step2.status_code == 302, step2.content[:500]
    action = AsyncAction.objects.get(type=services.BULK_ACTION)
    assert step2["Location"].endswith(f"/admin/promo/voucher/bulk-progress/{action.public_id}/")
    action.refresh_from_db()
    assert action.status == "DONE" and action.result["done_count"] == 5
    assert set(Voucher.objects.filter(pk__in=pks).values_list("expiration_date", flat=True)) == {new}
    # One audit row per code, each naming the async action.
    rows = AuditEntry.objects.filter(object_type="promo.voucher", action="update",
                                     extra__async_action=action.public_id)
    assert rows.count() == 5
    page = client.get(step2["Location"])
    assert page.status_code == 200 and "5</strong> codes updated" in page.content.decode()
    status = client.get(f"/admin/promo/voucher/bulk-progress/{action.public_id}.json").json()
    assert status["status"] == "DONE" and status["progress"] == 100


def test_extend_expiry_refuses_a_past_date(codes, make_user):
    client = client_for(make_user(M))
    response = run_action(client, "voucher", "extend_expiry", [codes[0].pk], apply="1",
                          expiration_date="2001-01-01T00:00")
    assert response.status_code == 200 and "future" in response.content.decode()
    assert not AsyncAction.objects.exists()


def test_change_metadata_in_bulk(codes, make_user, django_capture_on_commit_callbacks):
    Voucher.objects.filter(pk=codes[0].pk).update(metadata={"keep": 1})
    client = client_for(make_user(J))
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(client, "voucher", "change_metadata", [v.pk for v in codes[:2]], apply="1",
                              metadata='{"batch": "spring"}')
    assert response.status_code == 302
    assert Voucher.objects.get(pk=codes[0].pk).metadata == {"keep": 1, "batch": "spring"}
    assert Voucher.objects.get(pk=codes[1].pk).metadata == {"batch": "spring"}
    assert Voucher.objects.get(pk=codes[2].pk).metadata == {}
    action = AsyncAction.objects.get(type=services.METADATA_ACTION)
    assert AuditEntry.objects.filter(extra__async_action=action.public_id).count() == 2


def test_many_codes_are_disabled_in_the_background(codes, make_user, monkeypatch,
                                                   django_capture_on_commit_callbacks):
    monkeypatch.setattr(admin_bulk, "SYNC_TOGGLE_LIMIT", 2)
    client = client_for(make_user(M))
    pks = [v.pk for v in codes]
    step1 = run_action(client, "voucher", "disable", pks)
    assert step1.status_code == 200 and "Disable them" in step1.content.decode()
    assert Voucher.objects.filter(pk__in=pks, active=True).count() == 5  # asked first
    with django_capture_on_commit_callbacks(execute=True):
        step2 = run_action(client, "voucher", "disable", pks, apply="1")
    assert step2.status_code == 302
    assert not Voucher.objects.filter(pk__in=pks, active=True).exists()
    with django_capture_on_commit_callbacks(execute=True):
        run_action(client, "voucher", "enable", pks, apply="1")
    assert Voucher.objects.filter(pk__in=pks, active=True).count() == 5


def test_select_all_across_pages_keeps_the_filter(world, codes, make_user, django_capture_on_commit_callbacks):
    client = client_for(make_user(M))
    url = f"/admin/promo/voucher/?campaign__id__exact={world.camp_a.pk}"
    data = {"action": "change_metadata", ACTION_CHECKBOX_NAME: [str(codes[0].pk)], "select_across": "1",
            "apply": "1", "metadata": '{"all": true}'}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, data).status_code == 302
    assert all(v.metadata == {"all": True} for v in Voucher.objects.filter(campaign=world.camp_a))
    assert Voucher.objects.filter(campaign=world.camp_a).count() == 6
    assert world.code_b.metadata == {} and Voucher.objects.get(pk=world.code_b.pk).metadata == {}


@pytest.mark.parametrize("role", [CS, AN, P])
def test_roles_that_may_not_change_codes_get_no_bulk_update(codes, make_user, role,
                                                            django_capture_on_commit_callbacks):
    client = client_for(make_user(role))
    with django_capture_on_commit_callbacks(execute=True):
        for action, extra in (("extend_expiry", {"expiration_date": "2099-01-01T00:00"}),
                              ("change_metadata", {"metadata": '{"x": 1}'})):
            response = run_action(client, "voucher", action, [v.pk for v in codes], apply="1", **extra)
            assert response.status_code in (200, 302, 403)  # the list again, "no action selected", or denied
            if response.status_code == 200 and response.context and "cl" in response.context:
                form = response.context["action_form"]  # None: no action at all for this role
                assert form is None or action not in dict(form.fields["action"].choices)
    assert not AsyncAction.objects.exists()
    assert not Voucher.objects.filter(expiration_date__isnull=False).exists()


def test_customer_service_still_disables_a_few_codes_at_once(codes, make_user):
    client = client_for(make_user(CS))
    run_action(client, "voucher", "disable", [codes[0].pk])
    assert not Voucher.objects.get(pk=codes[0].pk).active


def test_progress_page_is_the_starters(codes, make_user, django_capture_on_commit_callbacks):
    starter, other = make_user(M), make_user(M, "another-marketer")
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(client_for(starter), "voucher", "change_metadata", [codes[0].pk], apply="1",
                              metadata='{"a": 1}')
    other_client = client_for(other)
    assert other_client.get(response["Location"]).status_code == 200  # Marketers may view async actions
    outsider = make_user(CS, "cs-agent")
    assert client_for(outsider).get(response["Location"]).status_code in (403, 404)


# ---------------------------------------------------------------- campaigns: duplicate, schedule

def test_duplicate_copies_settings_rules_and_template_not_codes(world, make_user):
    rule = RuleFactory()
    assign(rule, world.camp_a)
    Campaign.objects.filter(pk=world.camp_a.pk).update(sorry_coupons=True, metadata={"team": "a"})
    client = client_for(make_user(M))
    response = run_action(client, "campaign", "duplicate", [world.camp_a.pk])
    copy = Campaign.objects.get(name="Copy of Spring A")
    assert response.status_code == 302 and response["Location"].endswith(f"/admin/promo/campaign/{copy.pk}/change/")
    assert copy.category == world.cat_a and copy.metadata == {"team": "a"} and copy.sorry_coupons
    assert copy.voucher_template["discount"]["amount_off"] == 500
    assert copy.approval_status == "APPROVED" and copy.is_live
    assert not Voucher.objects.filter(campaign=copy).exists()
    assert ValidationRuleAssignment.objects.filter(related_object_type="campaign", related_object_id=copy.public_id,
                                                   rule=rule).exists()
    assert audit_rows(copy, "create").count() == 1
    # Again: a new name.
    run_action(client, "campaign", "duplicate", [world.camp_a.pk])
    assert Campaign.objects.filter(name="Copy of Spring A (2)").exists()


def test_duplicate_of_a_promotion_copies_tiers_and_stacks(promotion, make_user):
    tiers = list(PromotionTier.objects.filter(campaign=promotion).order_by("hierarchy"))
    rule = RuleFactory()
    with acting(None):
        promotions.tier_update(tiers[0], {"validation_rules": [rule.public_id]})
        promotions.stack_create(promotion, {"name": "Both", "tiers": {"ids": [t.public_id for t in tiers]}})
    client = client_for(make_user(M))
    run_action(client, "campaign", "duplicate", [promotion.pk])
    copy = Campaign.objects.get(name="Copy of Summer promotion")
    copied = list(PromotionTier.objects.filter(campaign=copy).order_by("hierarchy"))
    assert [(t.name, t.action) for t in copied] == [(t.name, t.action) for t in tiers]
    assert {t.public_id for t in copied}.isdisjoint({t.public_id for t in tiers})
    assert ValidationRuleAssignment.objects.filter(related_object_type="promotion_tier",
                                                   related_object_id=copied[0].public_id, rule=rule).exists()
    assert PromotionStack.objects.get(campaign=copy).tier_ids == [t.public_id for t in copied]
    assert all(t.redeemed_quantity == 0 for t in copied)


def test_a_junior_marketers_copy_waits_for_approval(world, make_user):
    run_action(client_for(make_user(J)), "campaign", "duplicate", [world.camp_a.pk])
    copy = Campaign.objects.get(name="Copy of Spring A")
    assert copy.approval_status == "PENDING" and not copy.active


@pytest.mark.parametrize("role", [CS, AN, P])
def test_roles_that_may_not_create_campaigns_cannot_duplicate(world, make_user, role):
    run_action(client_for(make_user(role)), "campaign", "duplicate", [world.camp_a.pk])
    assert not Campaign.objects.filter(name__startswith="Copy of").exists()


def test_schedule_sets_dates(world, make_user):
    client = client_for(make_user(M))
    step1 = run_action(client, "campaign", "schedule", [world.camp_a.pk, world.camp_b.pk])
    assert step1.status_code == 200 and "Spring B" in step1.content.decode()
    response = run_action(client, "campaign", "schedule", [world.camp_a.pk], apply="1",
                          start_date="2030-01-01T00:00", expiration_date="2030-02-01T00:00")
    assert response.status_code == 302
    world.camp_a.refresh_from_db()
    assert world.camp_a.start_date.year == 2030 and world.camp_a.expiration_date.month == 2
    assert set(audit_rows(world.camp_a, "update").get().changes) == {"start_date", "expiration_date"}
    bad = run_action(client, "campaign", "schedule", [world.camp_b.pk], apply="1",
                     start_date="2030-02-01T00:00", expiration_date="2030-01-01T00:00")
    assert bad.status_code == 200 and "after the start" in bad.content.decode()


@pytest.mark.parametrize("role", [CS, AN])
def test_schedule_denied_without_change_permission(world, make_user, role):
    run_action(client_for(make_user(role)), "campaign", "schedule", [world.camp_a.pk], apply="1",
               start_date="2030-01-01T00:00", expiration_date="2030-02-01T00:00")
    world.camp_a.refresh_from_db()
    assert world.camp_a.start_date is None


# ---------------------------------------------------------------- imports and exports

def import_csv(client, model: str, content: str):
    """The admin's two steps: upload (a dry run, shown as a preview) and confirm."""
    upload = SimpleUploadedFile("rows.csv", content.encode(), content_type="text/csv")
    base = f"/admin/{model}"
    preview = client.post(f"{base}/import/", {"import_file": upload, "format": "0"})
    return preview, base


def confirm(client, base: str, preview):
    form = preview.context["confirm_form"]
    return client.post(f"{base}/process_import/", {name: form.initial.get(name, "") for name in form.fields})


def test_voucher_import_previews_as_a_dry_run_then_imports(world, make_user):
    client = client_for(make_user(M))
    content = ("code,campaign_id,active,expiration_date,metadata\n"
               f"NEW-1,{world.camp_a.public_id},1,2030-01-01 00:00:00,{{}}\n"
               f"NEW-2,Spring A,0,,\n"
               "CODE-A,,0,,\n")
    preview, base = import_csv(client, "promo/voucher", content)
    assert preview.status_code == 200, preview.content[:1000]
    assert preview.context["result"].totals["new"] == 2 and preview.context["result"].totals["update"] == 1
    assert not Voucher.objects.filter(code__startswith="NEW-").exists()  # the preview wrote nothing
    assert Voucher.objects.get(code="CODE-A").active
    done = confirm(client, base, preview)
    assert done.status_code == 302
    new1 = Voucher.objects.get(code="NEW-1")
    assert new1.campaign == world.camp_a and new1.discount["amount_off"] == 500  # from the template
    assert not Voucher.objects.get(code="NEW-2").active and not Voucher.objects.get(code="CODE-A").active
    assert audit_rows(new1, "create").count() == 1
    assert audit_rows(Voucher.objects.get(code="CODE-A"), "update").get().changes == {"active": [True, False]}


def test_voucher_import_with_a_bad_row_imports_nothing(world, make_user):
    client = client_for(make_user(M))
    content = ("code,campaign_id,active\n"
               f"NEW-1,{world.camp_a.public_id},1\n"
               "NEW-2,no-such-campaign,1\n")
    preview, _base = import_csv(client, "promo/voucher", content)
    assert preview.status_code == 200
    result = preview.context["result"]
    assert result.has_validation_errors() or result.has_errors()
    assert "confirm_form" not in preview.context or preview.context["confirm_form"] is None
    assert not Voucher.objects.filter(code__startswith="NEW-").exists()


def test_voucher_import_cannot_touch_codes_of_other_categories(world, make_user):
    from core.permissions import set_category_access

    user = make_user(M)
    set_category_access(user, world.cat_a, "read_write")
    client = client_for(fresh(user))
    preview, _base = import_csv(client, "promo/voucher", "code,campaign_id,active\nCODE-B,,0\n"
                                                         f"NEW-B,{world.camp_b.public_id},1\n")
    result = preview.context["result"]
    assert result.has_validation_errors() or result.has_errors()
    assert Voucher.objects.get(code="CODE-B").active and not Voucher.objects.filter(code="NEW-B").exists()


@pytest.mark.parametrize(("role", "model", "allowed"), [
    (M, "promo/voucher", True), (J, "promo/voucher", True), (CS, "promo/voucher", False),
    (AN, "promo/voucher", False), (P, "promo/voucher", False),
    (A, "customers/customer", True), (M, "customers/customer", False), (CS, "customers/customer", False),
    (AN, "customers/customer", False),
    (A, "catalog/product", True), (M, "catalog/product", False), (AN, "catalog/product", False),
])
def test_import_needs_add_and_change_permission(world, make_user, role, model, allowed):
    client = client_for(make_user(role))
    response = client.get(f"/admin/{model}/import/")
    assert (response.status_code == 200) is allowed, response.status_code
    if not allowed:
        assert response.status_code == 403


@pytest.mark.parametrize(("role", "allowed"), [(M, True), (AN, True), (CS, True), (P, True)])
def test_voucher_export_lists_only_visible_codes(world, make_user, role, allowed):
    client = client_for(make_user(role))
    response = client.post("/admin/promo/voucher/export/", {"format": "0", "export_items": [],
                                                            **{f"voucherresource_{f}": "on" for f in
                                                               ("code", "campaign", "active")}})
    assert response.status_code == 200
    body = response.content.decode()
    assert ("CODE-A" in body) is (role != P)


def test_customer_import_runs_in_one_transaction(make_user):
    client = client_for(make_user(A))
    preview, base = import_csv(client, "customers/customer", "source_id,name,email\nc-1,Ann,ann@example.com\n"
                                                             "c-2,Bob,bob@example.com\n")
    assert preview.status_code == 200 and not Customer.objects.exists()
    assert confirm(client, base, preview).status_code == 302
    assert Customer.objects.count() == 2


# ---------------------------------------------------------------- rule assignments in the audit log

def test_rule_assignments_added_and_removed_in_the_admin_are_audited(world, make_user):
    from tests.rules.test_rules_admin import rule_post

    client = client_for(make_user(M))
    response = client.post("/admin/rules/validationrule/add/", rule_post(**{
        "assignments-TOTAL_FORMS": "1", "assignments-0-related_object_type": "voucher",
        "assignments-0-related_object_id": "CODE-A"}))
    assert response.status_code == 302
    assignment = ValidationRuleAssignment.objects.get(related_object_id=world.code_a.public_id)
    assert audit_rows(assignment, "create").count() == 1
    response = client.post(f"/admin/rules/validationruleassignment/{assignment.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not ValidationRuleAssignment.objects.filter(pk=assignment.pk).exists()
    assert AuditEntry.objects.filter(object_type="rules.validationruleassignment", object_id=str(assignment.pk),
                                     action="delete").count() == 1


@pytest.mark.parametrize("kind", ["coupons", "gift cards"])
def test_duplicate_round_trips_a_campaign_made_through_the_api(world, kind):
    from promo import duplication
    from tests.giftcards.factories import gift_campaign

    with acting(None):
        if kind == "gift cards":
            source = gift_campaign("Cards", amount=2500, expiration_date="2031-01-01T00:00:00Z")
        else:
            source = services.campaign_create({
                "name": "Coded", "category_id": world.cat_b.public_id, "start_date": "2030-01-01T00:00:00Z",
                "validity_day_of_week": [1, 2],
                "voucher": {"type": "DISCOUNT_VOUCHER", "redemption": {"quantity": 3},
                            "discount": {"type": "PERCENT", "percent_off": 12.5, "amount_limit": 1000},
                            "code_config": {"length": 12, "prefix": "CO-"}}})
        copy = duplication.campaign_duplicate(source)
    assert copy.name == f"Copy of {source.name}"
    assert copy.voucher_template == source.voucher_template
    for field in ("campaign_type", "type", "category_id", "start_date", "expiration_date", "validity_day_of_week",
                  "join_once", "auto_join", "exclusive"):
        assert getattr(copy, field) == getattr(source, field), field


def test_tier_form_checks_dates_before_saving(promotion, make_user):
    response = client_for(make_user(M)).post("/admin/promo/promotiontier/add/", {
        **TIER_FORM, "campaign": promotion.pk, "start_date_0": "2030-02-01", "start_date_1": "00:00",
        "expiration_date_0": "2030-01-01", "expiration_date_1": "00:00"})
    assert response.status_code == 200 and "expiration_date" in str(response.context["adminform"].form.errors)
    assert not PromotionTier.objects.filter(name="Fifteen off").exists()


def test_a_promotion_campaign_page_links_to_its_tiers(promotion, make_user):
    page = client_for(make_user(M)).get(f"/admin/promo/campaign/{promotion.pk}/change/")
    assert page.status_code == 200
    assert f"/admin/promo/promotiontier/?campaign__id__exact={promotion.pk}" in page.content.decode()
    assert "2 tier(s)" in page.content.decode()


def test_hostile_input_to_the_bulk_pages_never_errors(codes, promotion, make_user,
                                                     django_capture_on_commit_callbacks):
    client = client_for(make_user(M))
    for action_id in ("aa_nope", "aa_%00x", "x" * 300):
        assert client.get(f"/admin/promo/voucher/bulk-progress/{action_id}/").status_code == 404
        assert client.get(f"/admin/promo/voucher/bulk-progress/{action_id}.json").status_code == 404
    for metadata in ("[]", "{}", "not json", '"text"'):
        response = run_action(client, "voucher", "change_metadata", [codes[0].pk], apply="1", metadata=metadata)
        assert response.status_code == 200 and response.context["form"].errors
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(client, "voucher", "change_metadata", [codes[0].pk], apply="1",
                              metadata='{"a": "nul \\u0000 inside"}')
    assert response.status_code in (200, 302)
    assert Voucher.objects.get(pk=codes[0].pk).metadata == {}
    for value in ("", "tomorrow", "2030-13-45T99:99"):
        response = run_action(client, "voucher", "extend_expiry", [codes[0].pk], apply="1", expiration_date=value)
        assert response.status_code == 200 and response.context["form"].errors
    for value in ("9" * 14, "-1", "NaN", "1e400"):
        response = client.post("/admin/promo/promotiontier/add/", {**TIER_FORM, "campaign": promotion.pk,
                                                                   "discount_type": "AMOUNT", "discount_value": value})
        assert response.status_code == 200 and response.context["adminform"].form.errors, value

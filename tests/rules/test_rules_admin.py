"""The admin for validation rules, their assignments and the limit counters."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from rules.models import LimitCounter, ValidationRule, ValidationRuleAssignment
from tests.promo.factories import RuleFactory, VoucherFactory, assign

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-123456789")
    client = Client()
    client.force_login(user)
    return client


def rule_post(**extra) -> dict:
    data = {"name": "Admin rule", "type": "expression", "context_type": "global",
            "rules": '{"1": {"name": "order.amount", "conditions": {"$more_than": [100]}}, "logic": "1"}',
            "bundle_rules": "null", "applicable_to": "[]", "inapplicable_to": "[]", "error_message": "",
            "assignments-TOTAL_FORMS": "0", "assignments-INITIAL_FORMS": "0",
            "assignments-MIN_NUM_FORMS": "0", "assignments-MAX_NUM_FORMS": "1000"}
    data.update(extra)
    return data


def test_pages_render_and_search(staff):
    rule = RuleFactory(name="Gold only")
    RuleFactory(name="Silver")
    voucher = VoucherFactory(code="GOLD")
    assign(rule, voucher)
    LimitCounter.objects.create(key="voucher:1|redemption.count.daily", used=2, limit=5)
    found = staff.get("/admin/rules/validationrule/", {"q": "Gold"})
    assert found.status_code == 200 and [str(r) for r in found.context["cl"].result_list] == ["Gold only"]
    assert staff.get("/admin/rules/validationrule/", {"type__exact": "expression"}).status_code == 200
    page = staff.get(f"/admin/rules/validationrule/{rule.pk}/change/")
    assert page.status_code == 200 and voucher.public_id.encode() in page.content
    counters = staff.get("/admin/rules/limitcounter/", {"q": "daily"})
    assert counters.status_code == 200 and len(counters.context["cl"].result_list) == 1
    counter = LimitCounter.objects.get()
    assert staff.get(f"/admin/rules/limitcounter/{counter.pk}/change/").status_code == 200
    assert staff.get("/admin/rules/limitcounter/add/").status_code == 403
    assert staff.get("/admin/rules/validationruleassignment/").status_code == 200


def test_add_rule_with_assignment_is_checked(staff):
    voucher = VoucherFactory(code="ADMIN-1")
    bad = staff.post("/admin/rules/validationrule/add/", rule_post(
        rules='{"1": {"name": "order.amount", "conditions": {"$nope": [1]}}}'))
    assert bad.status_code == 200 and "$nope" in str(bad.context["adminform"].form.errors)
    missing = staff.post("/admin/rules/validationrule/add/", rule_post(**{
        "assignments-TOTAL_FORMS": "1", "assignments-0-related_object_type": "voucher",
        "assignments-0-related_object_id": "NOPE"}))
    assert missing.status_code == 200 and not ValidationRule.objects.exists()
    ok = staff.post("/admin/rules/validationrule/add/", rule_post(**{
        "assignments-TOTAL_FORMS": "1", "assignments-0-related_object_type": "voucher",
        "assignments-0-related_object_id": "ADMIN-1"}))
    assert ok.status_code == 302, ok.context["adminform"].form.errors if ok.context else ok.content
    assignment = ValidationRuleAssignment.objects.get()
    assert assignment.related_object_id == voucher.public_id and assignment.rule.name == "Admin rule"

"""The official Voucherify Python SDK (6.1.1) against a live server: create a rule, assign it, list."""

import pytest
import voucherify as v

from tests.promo.factories import VoucherFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_assign_and_list(sdk_client):
    voucher = VoucherFactory(code="SDK-RULE")
    api = v.ValidationRulesApi(sdk_client)
    created = api.create_validation_rules(v.ValidationRulesCreateRequestBody(
        name="SDK spend 300", type="expression", context_type="global",
        error=v.ValidationRulesCreateRequestBodyError(message="Spend more"),
        rules={"1": {"name": "order.amount", "property": None, "conditions": {"$more_than_or_equal": [30000]},
                     "rules": {}}, "logic": "1"},
        applicable_to=v.ValidationRulesCreateRequestBodyApplicableTo(included=[], excluded=[])))
    assert created.id.startswith("val_") and created.name == "SDK spend 300"
    assert created.error.message == "Spend more" and created.assignments_count == 0

    assignment = api.create_validation_rule_assignment(
        created.id, validation_rules_assignments_create_request_body=v.ValidationRulesAssignmentsCreateRequestBody(
            related_object_type="voucher", related_object_id="SDK-RULE"))
    assert assignment.id.startswith("asgm_") and assignment.related_object_id == voucher.public_id
    assert assignment.rule_id == created.id

    listed = api.list_validation_rules_assignments(related_object_id=voucher.public_id)
    assert listed.total == 1 and listed.data[0].id == assignment.id
    rules = api.list_validation_rules()
    assert rules.total == 1 and rules.data[0].id == created.id
    assert api.get_validation_rule(created.id).assignments_count == 1

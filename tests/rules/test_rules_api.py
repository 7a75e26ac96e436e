"""/v1/validation-rules and assignments through the HTTP stack, checked against the Voucherify spec."""

import pytest

from promo.models import PromotionTier
from rules.models import ValidationRule, ValidationRuleAssignment
from tests.conftest import assert_error
from tests.promo.factories import CampaignFactory, VoucherFactory
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

SPEND_300 = {"1": {"name": "order.amount", "property": None, "conditions": {"$more_than_or_equal": [30000]},
                   "rules": {}}, "logic": "1"}


def rule_body(**extra) -> dict:
    return {"name": "Spend 300", "error": {"message": "Spend at least 300"}, "rules": SPEND_300,
            "applicable_to": {"included": [{"object": "product", "id": "prod_1"}], "excluded": [],
                              "included_all": False},
            "type": "expression", "context_type": "global", **extra}


def create_rule(api, **extra) -> dict:
    response = api.post("/v1/validation-rules", rule_body(**extra))
    assert response.status_code == 201, response.content
    return response.json()


def test_create_get_list_update_delete(api):
    response = api.post("/v1/validation-rules", rule_body())
    created = assert_matches_spec(response, "/v1/validation-rules", "post")
    assert response.status_code == 201
    assert created["id"].startswith("val_") and created["object"] == "validation_rules"
    assert created["rules"]["1"]["conditions"] == {"$more_than_or_equal": [30000]}
    assert created["error"] == {"message": "Spend at least 300"}
    assert created["applicable_to"]["included"] == [{"object": "product", "id": "prod_1", "effect": "APPLY_TO_EVERY"}]
    assert created["assignments_count"] == 0 and created["bundle_rules"] == {}

    got = assert_matches_spec(api.get(f"/v1/validation-rules/{created['id']}"),
                              "/v1/validation-rules/{validationRuleId}", "get")
    assert got["name"] == "Spend 300" and got["created_at"] == created["created_at"]

    create_rule(api, name="Second")
    listed = assert_matches_spec(api.get("/v1/validation-rules", limit=1), "/v1/validation-rules", "get")
    assert listed["total"] == 2 and listed["data_ref"] == "data" and len(listed["data"]) == 1
    assert listed["data"][0]["name"] == "Second" and listed["has_more"] is True
    by_name = api.get("/v1/validation-rules", order="name").json()
    assert [r["name"] for r in by_name["data"]] == ["Second", "Spend 300"]

    updated = assert_matches_spec(
        api.put(f"/v1/validation-rules/{created['id']}", {"name": "Spend 500", "error": None, "bundle_rules": None,
                                                          "rules": {"1": {"name": "order.amount", "conditions": {
                                                              "$more_than": [50000]}}}}),
        "/v1/validation-rules/{validationRuleId}", "put")
    assert updated["name"] == "Spend 500" and updated["error"] == {"message": "Spend at least 300"}
    assert updated["rules"]["1"]["conditions"] == {"$more_than": [50000]} and "logic" not in updated["rules"]
    assert updated["applicable_to"]["included"][0]["id"] == "prod_1"

    assert api.delete(f"/v1/validation-rules/{created['id']}").status_code == 204
    assert_error(api.get(f"/v1/validation-rules/{created['id']}"), 404, "not_found")
    assert ValidationRule.objects.count() == 1


@pytest.mark.parametrize(("rules", "fragment"), [
    ({"1": {"name": "order.amountz", "conditions": {"$is": [1]}}}, "rules.1.name"),
    ({"1": {"name": "order.amount", "conditions": {"$mor_than": [1]}}}, "rules.1.conditions.$mor_than"),
    ({"1": {"name": "order.amount", "conditions": {"$more_than": 1}}}, "must be a list"),
    ({"1": {"name": "order.amount", "conditions": {"$more_than": [1]}}, "logic": "1 and"}, "rules.logic"),
    ({"1": {"name": "order.amount", "conditions": {"$more_than": [1]}}, "logic": "1 or 2"}, "rule 2"),
    ({"1": {"name": "order.amount", "conditions": {"$more_than": [1]}}, "logic": "import os"}, "rules.logic"),
    ({"1": {"name": "customer.metadata", "conditions": {"$is": ["gold"]}}}, "rules.1.property"),
    ({"1": {"name": "order.amount", "conditions": {"$more_than": [100.5]}}}, "minor units"),
    ({"1": {"name": "order.amount", "conditions": {"$more_than": [True]}}}, "minor units"),
    ({"1": {"name": "order.amount", "conditions": {"$is": [1]},
            "rules": {"1": {"name": "nope", "conditions": {}}}}}, "rules.1.rules.1.name"),
    ({"x": {"name": "order.amount"}}, "rules.x"),
    ("1 and 2", "rules"),
])
def test_bad_rule_definitions_are_refused(api, rules, fragment):
    body = assert_error(api.post("/v1/validation-rules", rule_body(rules=rules)), 400, "invalid_payload")
    assert fragment in body["details"], body
    assert not ValidationRule.objects.exists()


@pytest.mark.parametrize(("payload", "fragment"), [
    ({"name": None}, "name"),
    ({"name": 5}, "name"),
    ({"type": "fancy"}, "type"),
    ({"context_type": "nowhere"}, "context_type"),
    ({"applicable_to": {"included": [{"object": "order", "id": "x"}]}}, "applicable_to.included[0].object"),
    ({"applicable_to": {"excluded": [{"object": "sku"}]}}, "applicable_to.excluded[0].id"),
    ({"applicable_to": {"included": [{"object": "sku", "id": "s", "amount_limit": 10.5}]}}, "amount_limit"),
    ({"applicable_to": {"included": [{"object": "sku", "id": "s", "effect": "ALL"}]}}, "effect"),
    ({"error": "text"}, "error"),
])
def test_bad_fields_are_refused(api, payload, fragment):
    body = assert_error(api.post("/v1/validation-rules", rule_body(**payload)), 400, "invalid_payload")
    assert fragment in body["details"] or fragment in str(body), body


def test_bad_update_keeps_the_rule(api):
    rule = create_rule(api)
    bad = {"rules": {"1": {"name": "order.amount", "conditions": {"$less": [5]}}}}
    assert_error(api.put(f"/v1/validation-rules/{rule['id']}", bad), 400, "invalid_payload")
    assert ValidationRule.objects.get(public_id=rule["id"]).rules["1"]["conditions"] == {"$more_than_or_equal": [30000]}
    assert_error(api.put("/v1/validation-rules/val_missing", {"name": "x"}), 404, "not_found")
    assert_error(api.request("POST", "/v1/validation-rules", raw="{nope"), 400, "invalid_json")


def test_assignments(api):
    voucher = VoucherFactory(code="SPRING")
    campaign = CampaignFactory(name="Spring campaign")
    rule = create_rule(api)
    path = f"/v1/validation-rules/{rule['id']}/assignments"

    response = api.post(path, {"related_object_type": "voucher", "related_object_id": "SPRING"})
    by_code = assert_matches_spec(response, "/v1/validation-rules/{validationRuleId}/assignments", "post")
    assert response.status_code == 201
    assert by_code["id"].startswith("asgm_") and by_code["object"] == "validation_rules_assignment"
    assert by_code["related_object_id"] == voucher.public_id and by_code["rule_id"] == rule["id"]
    assert_error(api.post(path, {"related_object_type": "voucher", "related_object_id": voucher.public_id}),
                 409, "duplicate_found")
    by_name = api.post(path, {"related_object_type": "campaign", "related_object_id": "Spring campaign"}).json()
    assert by_name["related_object_id"] == campaign.public_id
    promotion = CampaignFactory(name="Spring promotion", campaign_type="PROMOTION")
    promo_tier = PromotionTier.objects.create(campaign=promotion, name="Tier", action={"discount": {}})
    tier = api.post(path, {"related_object_type": "promotion_tier", "related_object_id": promo_tier.public_id})
    assert tier.status_code == 201
    assert_error(api.post(path, {"related_object_type": "promotion_tier", "related_object_id": "promo_1"}),
                 404, "not_found")

    assert_error(api.post(path, {"related_object_type": "voucher", "related_object_id": "NOPE"}), 404, "not_found")
    assert_error(api.post(path, {"related_object_type": "campaign", "related_object_id": "NOPE"}), 404, "not_found")
    assert_error(api.post(path, {"related_object_type": "order", "related_object_id": "x"}), 400, "invalid_payload")
    assert_error(api.post(path, {"related_object_type": "voucher"}), 400, "invalid_payload")
    assert_error(api.post(path, {"related_object_id": 5}), 400, "invalid_payload")
    assert_error(api.post("/v1/validation-rules/val_nope/assignments", {"related_object_id": "SPRING"}),
                 404, "not_found")

    listed = assert_matches_spec(api.get(path), "/v1/validation-rules/{validationRuleId}/assignments", "get")
    assert listed["total"] == 3 and listed["data"][0]["related_object_type"] == "promotion_tier"
    assert api.get(f"/v1/validation-rules/{rule['id']}").json()["assignments_count"] == 3

    other = create_rule(api, name="Other")
    api.post(f"/v1/validation-rules/{other['id']}/assignments", {"related_object_id": voucher.public_id})
    everywhere = assert_matches_spec(api.get("/v1/validation-rules-assignments"),
                                     "/v1/validation-rules-assignments", "get")
    assert everywhere["total"] == 4
    for_voucher = api.get("/v1/validation-rules-assignments", related_object_id=voucher.public_id).json()
    assert {a["rule_id"] for a in for_voucher["data"]} == {rule["id"], other["id"]}
    of_other = api.get("/v1/validation-rules-assignments", rule=other["id"]).json()
    assert [a["related_object_id"] for a in of_other["data"]] == [voucher.public_id]

    assert api.delete(f"{path}/{by_code['id']}").status_code == 204
    assert_error(api.delete(f"{path}/{by_code['id']}"), 404, "not_found")
    assert_error(api.delete(f"/v1/validation-rules/{other['id']}/assignments/{by_name['id']}"), 404, "not_found")
    assert ValidationRuleAssignment.objects.filter(rule__public_id=rule["id"]).count() == 2
    api.delete(f"/v1/validation-rules/{rule['id']}")
    assert ValidationRuleAssignment.objects.count() == 1


def test_rule_assigned_through_the_api_gates_validation(api):
    VoucherFactory(code="BIGSPEND")
    rule = create_rule(api, applicable_to=None, error=None)
    assigned = api.post(f"/v1/validation-rules/{rule['id']}/assignments",
                        {"related_object_type": "voucher", "related_object_id": "BIGSPEND"})
    assert assigned.status_code == 201, assigned.content

    def validate(amount: int) -> dict:
        order = {"amount": amount, "items": [{"source_id": "watch", "related_object": "product", "quantity": 1,
                                              "price": amount}]}
        response = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": "BIGSPEND"}],
                                                "order": order})
        return assert_matches_spec(response, "/v1/validations", "post")

    small = validate(20000)
    assert small["valid"] is False
    redeemable = small["redeemables"][0]
    assert redeemable["status"] == "INAPPLICABLE"
    assert redeemable["result"]["error"]["key"] == "order_rules_violated"
    big = validate(30000)
    assert big["valid"] is True and big["redeemables"][0]["status"] == "APPLICABLE"

"""Writes of validation rules and their assignments, with the rule definitions checked up front.

A rule is checked against the condition registry (rules.conditions.CONDITIONS), the operators
(rules.operators.OPERATORS) and the logic parser (rules.logic) when it is created or updated, so a
rule stored here can always be evaluated. Errors name the bad part, e.g. `rules.2.conditions.$mor`.
"""

from django.db import IntegrityError, transaction
from django.db.models import Q

from core import audit
from core.dates import parse_moment
from core.errors import DuplicateFound, InvalidPayload, NotFound
from core.permissions import restrict
from promo.models import Campaign, PromotionTier, Voucher
from rules import logic
from rules.conditions import CONDITIONS
from rules.models import ValidationRule, ValidationRuleAssignment
from rules.operators import OPERATORS

CONTEXT_TYPES = (
    "earning_rule.order.paid", "earning_rule.custom_event", "earning_rule.customer.segment.entered",
    "earning_rule.customer.tier.joined", "earning_rule.customer.tier.left", "earning_rule.customer.tier.upgraded",
    "earning_rule.customer.tier.downgraded", "earning_rule.customer.tier.prolonged", "campaign.discount_coupons",
    "campaign.discount_coupons.discount.apply_to_order", "campaign.discount_coupons.discount.apply_to_items",
    "campaign.discount_coupons.discount.apply_to_items_proportionally",
    "campaign.discount_coupons.discount.apply_to_items_proportionally_by_quantity",
    "campaign.discount_coupons.discount.apply_to_items_by_quantity",
    "campaign.discount_coupons.discount.fixed.apply_to_items",
    "campaign.discount_coupons.discount.percent.apply_to_items", "campaign.gift_vouchers",
    "campaign.gift_vouchers.gift.apply_to_order", "campaign.gift_vouchers.gift.apply_to_items",
    "campaign.referral_program", "campaign.referral_program.discount.apply_to_order",
    "campaign.referral_program.discount.apply_to_items",
    "campaign.referral_program.discount.apply_to_items_proportionally",
    "campaign.referral_program.discount.apply_to_items_proportionally_by_quantity",
    "campaign.referral_program.discount.apply_to_items_by_quantity",
    "campaign.referral_program.discount.fixed.apply_to_items",
    "campaign.referral_program.discount.percent.apply_to_items", "campaign.promotion",
    "campaign.promotion.discount.apply_to_order", "campaign.promotion.discount.apply_to_items",
    "campaign.promotion.discount.apply_to_items_proportionally",
    "campaign.promotion.discount.apply_to_items_proportionally_by_quantity",
    "campaign.promotion.discount.apply_to_items_by_quantity", "campaign.promotion.discount.fixed.apply_to_items",
    "campaign.promotion.discount.percent.apply_to_items", "campaign.loyalty_program", "voucher.discount_voucher",
    "voucher.discount_voucher.discount.apply_to_order", "voucher.discount_voucher.discount.apply_to_items",
    "voucher.discount_voucher.discount.apply_to_items_proportionally",
    "voucher.discount_voucher.discount.apply_to_items_proportionally_by_quantity",
    "voucher.discount_voucher.discount.apply_to_items_by_quantity",
    "voucher.discount_voucher.discount.fixed.apply_to_items",
    "voucher.discount_voucher.discount.percent.apply_to_items", "voucher.gift_voucher",
    "voucher.gift_voucher.gift.apply_to_order", "voucher.gift_voucher.gift.apply_to_items",
    "voucher.loyalty_card", "distribution.custom_event", "distribution.order.paid", "distribution.order.created",
    "distribution.order.canceled", "distribution.order.updated", "reward_assignment.pay_with_points", "global",
)

RELATED_OBJECT_TYPES = ("voucher", "campaign", "promotion_tier", "earning_rule", "distribution", "reward_assignment")
APPLICABLE_OBJECTS = ("product", "sku", "products_collection")
APPLICABLE_EFFECTS = ("APPLY_TO_EVERY", "APPLY_TO_CHEAPEST", "APPLY_FROM_CHEAPEST", "APPLY_TO_MOST_EXPENSIVE",
                      "APPLY_FROM_MOST_EXPENSIVE")
# Integer fields of an applicable_to item (limits and amounts in minor units).
APPLICABLE_INTEGERS = ("quantity_limit", "aggregated_quantity_limit", "amount_limit", "aggregated_amount_limit",
                       "product_campaign_quantity_limit", "product_customer_campaign_quantity_limit",
                       "product_in_collection_campaign_quantity_limit",
                       "product_in_collection_customer_campaign_quantity_limit",
                       "product_promotion_tier_quantity_limit", "product_customer_promotion_tier_quantity_limit",
                       "product_in_collection_promotion_tier_quantity_limit",
                       "product_in_collection_customer_promotion_tier_quantity_limit", "repeat", "skip_initially",
                       "price")
# Operators whose values carry no number (they take any value list, even an empty one).
VALUELESS_OPERATORS = ("$is_unknown", "$has_value")
DATE_OPERATORS = ("$after", "$before")
MAX_NESTING = 5


def is_money_condition(name: str) -> bool:
    """Conditions that compare an amount (minor units): their numeric values must be integers."""
    last = name.rsplit(".", 1)[-1]
    return "amount" in last or last == "price"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------- rule definitions

def logic_numbers(tree) -> set[str]:
    """The rule numbers a parsed logic expression refers to."""
    if isinstance(tree, str):
        return {tree}
    numbers: set[str] = set()
    for part in tree[1:]:
        numbers |= logic_numbers(part)
    return numbers


def clean_rules(value, path: str = "rules", depth: int = 0) -> dict:
    """Check a `rules` object ({"1": {...}, "logic": "1 and 2"}) and return it without nulls."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidPayload(f"{path} must be an object of numbered rules and a logic expression")
    if depth > MAX_NESTING:
        raise InvalidPayload(f"{path} is nested too deeply (at most {MAX_NESTING} levels)")
    cleaned: dict = {}
    for key, definition in value.items():
        if key == "logic":
            continue
        if not (isinstance(key, str) and key.isdigit()):
            raise InvalidPayload(f"{path}.{key}: rule keys must be numbers (\"1\", \"2\", ...) or \"logic\"")
        cleaned[key] = clean_condition(definition, f"{path}.{key}", depth)
    expression = value.get("logic")
    if expression is not None:
        if not isinstance(expression, str):
            raise InvalidPayload(f"{path}.logic must be a string such as \"1 and 2\"")
        if expression.strip():
            try:
                tree = logic.parse(expression)
            except logic.LogicError as exc:
                raise InvalidPayload(f"{path}.logic is not a valid expression: {exc}")
            unknown = sorted(logic_numbers(tree) - set(cleaned), key=int)
            if unknown:
                raise InvalidPayload(f"{path}.logic refers to rule {', '.join(unknown)}, which is not defined")
            cleaned["logic"] = expression
    return cleaned


def clean_condition(definition, path: str, depth: int) -> dict:
    if not isinstance(definition, dict):
        raise InvalidPayload(f"{path} must be an object with name, property, conditions and rules")
    name = definition.get("name")
    if not isinstance(name, str) or name not in CONDITIONS:
        raise InvalidPayload(f"{path}.name: unknown condition {name!r}; use one of the documented rule names "
                             f"such as order.amount or customer.metadata")
    condition = CONDITIONS[name]
    prop = definition.get("property")
    if prop is not None and not isinstance(prop, str):
        raise InvalidPayload(f"{path}.property must be a string")
    if condition.needs_property and not prop:
        raise InvalidPayload(f"{path}.property is required for the condition {name}")
    conditions = definition.get("conditions")
    if conditions is None:
        conditions = {}
    if not isinstance(conditions, dict):
        raise InvalidPayload(f"{path}.conditions must be an object such as {{\"$is\": [\"value\"]}}")
    for operator, values in conditions.items():
        where = f"{path}.conditions.{operator}"
        if operator not in OPERATORS:
            raise InvalidPayload(f"{where}: unknown operator {operator!r}; use one of {', '.join(sorted(OPERATORS))}")
        if not isinstance(values, list):
            raise InvalidPayload(f"{where} must be a list of values")
        if not values and operator not in VALUELESS_OPERATORS:
            raise InvalidPayload(f"{where} must list at least one value")
        if operator in DATE_OPERATORS and parse_moment(values[0]) is None:
            raise InvalidPayload(f"{where} takes an ISO 8601 date-time such as 2025-01-31T00:00:00Z")
        if is_money_condition(name) and operator not in VALUELESS_OPERATORS:
            for item in values:
                if not _is_int(item):
                    raise InvalidPayload(f"{where}: amounts are integers in minor units (e.g. 30000 for 300.00), "
                                         f"got {item!r}")
    cleaned = {"name": name, "property": prop or None, "conditions": conditions}
    nested = definition.get("rules")
    cleaned["rules"] = clean_rules(nested, f"{path}.rules", depth + 1) if nested else {}
    if definition.get("error") is not None:
        error = definition["error"]
        if not isinstance(error, dict) or not isinstance(error.get("message", ""), str | None):
            raise InvalidPayload(f"{path}.error must be an object with a message string")
        cleaned["error"] = error
    return cleaned


def clean_bundle_rules(value, path: str = "bundle_rules") -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidPayload(f"{path} must be an object")
    return value


def clean_applicable_items(items, path: str) -> list[dict]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidPayload(f"{path} must be a list")
    cleaned = []
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        if not isinstance(item, dict):
            raise InvalidPayload(f"{where} must be an object with object and id")
        item = {k: v for k, v in item.items() if v is not None}
        if item.get("object") not in APPLICABLE_OBJECTS:
            raise InvalidPayload(f"{where}.object must be one of {', '.join(APPLICABLE_OBJECTS)}")
        if not isinstance(item.get("id"), str) or not item["id"].strip():
            raise InvalidPayload(f"{where}.id is required (the {item['object']} id)")
        effect = item.setdefault("effect", "APPLY_TO_EVERY")
        if effect not in APPLICABLE_EFFECTS:
            raise InvalidPayload(f"{where}.effect must be one of {', '.join(APPLICABLE_EFFECTS)}")
        for field in APPLICABLE_INTEGERS:
            if field in item and (not _is_int(item[field]) or item[field] < 0):
                raise InvalidPayload(f"{where}.{field} must be a non-negative integer (amounts in minor units)")
        cleaned.append(item)
    return cleaned


def clean_applicable_to(value, path: str = "applicable_to") -> dict:
    """{included: [...], excluded: [...], included_all} -> the given parts, checked (absent parts omitted)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidPayload(f"{path} must be an object with included, excluded and included_all")
    cleaned: dict = {}
    for part in ("included", "excluded"):
        if value.get(part) is not None:
            cleaned[part] = clean_applicable_items(value[part], f"{path}.{part}")
    if value.get("included_all") is not None:
        if not isinstance(value["included_all"], bool):
            raise InvalidPayload(f"{path}.included_all must be true or false")
        cleaned["included_all"] = value["included_all"]
    return cleaned


# ---------------------------------------------------------------- rules

def _apply(rule: ValidationRule, data: dict) -> None:
    """Copy the given (non-null) fields of a request onto `rule`; `bundle_rules: null` clears it."""
    if data.get("name") is not None:
        if not data["name"].strip():
            raise InvalidPayload("name must not be blank")
        rule.name = data["name"]
    if data.get("type") is not None:
        rule.type = data["type"]
    if data.get("context_type") is not None:
        if data["context_type"] not in CONTEXT_TYPES:
            raise InvalidPayload(f"context_type {data['context_type']!r} is not a known context type")
        rule.context_type = data["context_type"]
    if data.get("rules") is not None:
        rule.rules = clean_rules(data["rules"])
    if "bundle_rules" in data:
        rule.bundle_rules = clean_bundle_rules(data["bundle_rules"])
    if data.get("error") is not None:
        error = data["error"]
        if not isinstance(error, dict):
            raise InvalidPayload("error must be an object with a message")
        message = error.get("message")
        if message is not None and not isinstance(message, str):
            raise InvalidPayload("error.message must be a string")
        rule.error_message = message or ""
    applicable = clean_applicable_to(data.get("applicable_to"))
    if "included" in applicable:
        rule.applicable_to = applicable["included"]
    if "excluded" in applicable:
        rule.inapplicable_to = applicable["excluded"]
    if "included_all" in applicable:
        rule.included_all = applicable["included_all"]


@transaction.atomic
def rule_create(data: dict) -> ValidationRule:
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        raise InvalidPayload("name is required")
    rule = ValidationRule()
    _apply(rule, data)
    rule.save()
    audit.record_create(rule)
    return rule


@transaction.atomic
def rule_update(rule: ValidationRule, data: dict) -> ValidationRule:
    rule = ValidationRule.objects.select_for_update().get(pk=rule.pk)
    before = audit.snapshot(rule)
    _apply(rule, data)
    rule.save()
    audit.record(audit.Action.UPDATE, rule, before=before, after=audit.snapshot(rule))
    return rule


@transaction.atomic
def rule_delete(rule: ValidationRule) -> None:
    """Deletes the rule and its assignments: the incentives it was assigned to no longer check it."""
    audit.record_delete(rule)
    rule.delete()


# ---------------------------------------------------------------- assignments

def resolve_related_object(object_type, object_id) -> tuple[str, str]:
    """(type, stored id): vouchers by id or code, campaigns by id or name, tiers by id, as their public id.
    Only objects the caller may see (a key limited to categories cannot put rules on another's campaigns)."""
    if object_type is None:
        object_type = "voucher"
    if object_type not in RELATED_OBJECT_TYPES:
        raise InvalidPayload(f"related_object_type must be one of {', '.join(RELATED_OBJECT_TYPES)}")
    if not isinstance(object_id, str) or not object_id.strip() or "\x00" in object_id or len(object_id) > 255:
        raise InvalidPayload("related_object_id is required (the id of the object to assign the rule to)")
    if object_type == "voucher":
        found = (restrict(Voucher.objects.filter(Q(public_id=object_id) | Q(code=object_id)), action="view")
                 .values_list("public_id", flat=True).first())
        if found is None:
            raise NotFound.for_object("voucher", object_id)
        return object_type, found
    if object_type == "campaign":
        found = (restrict(Campaign.objects.filter(deleted_at__isnull=True), action="view")
                 .filter(Q(public_id=object_id) | Q(name=object_id)).values_list("public_id", flat=True).first())
        if found is None:
            raise NotFound.for_object("campaign", object_id)
        return object_type, found
    tiers = PromotionTier.objects.filter(public_id=object_id)
    if object_type == "promotion_tier" and not restrict(tiers, action="view").exists():
        raise NotFound.for_object("promotion tier", object_id)
    return object_type, object_id


def assignment_create(rule: ValidationRule, object_type, object_id) -> ValidationRuleAssignment:
    object_type, object_id = resolve_related_object(object_type, object_id)
    duplicate = DuplicateFound(f"Validation rule {rule.public_id} is already assigned to {object_type} {object_id}")
    if ValidationRuleAssignment.objects.filter(rule=rule, related_object_type=object_type,
                                               related_object_id=object_id).exists():
        raise duplicate
    try:
        with transaction.atomic():
            assignment = ValidationRuleAssignment.objects.create(rule=rule, related_object_type=object_type,
                                                                 related_object_id=object_id)
            audit.record(audit.Action.UPDATE, rule, changes={"assignments": [None, f"+{object_type} {object_id}"]})
            return assignment
    except IntegrityError:  # a concurrent request assigned it first
        raise duplicate


@transaction.atomic
def assignment_delete(rule: ValidationRule, assignment_id: str) -> None:
    deleted, _ = ValidationRuleAssignment.objects.filter(rule=rule, public_id=assignment_id).delete()
    if not deleted:
        raise NotFound.for_object("validation rule assignment", assignment_id)
    audit.record(audit.Action.UPDATE, rule, changes={"assignments": [f"-{assignment_id}", None]})

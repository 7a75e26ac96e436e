"""Reads of validation rules and their assignments."""

from django.db.models import Count, QuerySet

from core.errors import NotFound
from core.permissions import restrict
from rules.models import ValidationRule, ValidationRuleAssignment

RULE_ORDERINGS = ("created_at", "-created_at", "updated_at", "-updated_at", "name", "-name")
ASSIGNMENT_ORDERINGS = ("created_at", "-created_at")


def rules_with_counts() -> QuerySet[ValidationRule]:
    """Rules the caller may see: a key limited to categories sees those assigned only inside them."""
    return restrict(ValidationRule.objects.all()).annotate(assignments_count=Count("assignments"))


def rule_list(*, order: str = "-created_at", start=None, end=None) -> QuerySet[ValidationRule]:
    rules = rules_with_counts()
    if start is not None:
        rules = rules.filter(created_at__gte=start)
    if end is not None:
        rules = rules.filter(created_at__lte=end)
    return rules.order_by(order, "-id" if order.startswith("-") else "id")


def rule_get(rule_id: str) -> ValidationRule:
    rule = rules_with_counts().filter(public_id=rule_id).first() if isinstance(rule_id, str) else None
    if rule is None:
        raise NotFound.for_object("validation rule", rule_id)
    return rule


def assignment_list(*, rule: ValidationRule | None = None, rule_id: str | None = None,
                    related_object_id: str | None = None, order: str = "-created_at",
                    ) -> QuerySet[ValidationRuleAssignment]:
    rows = restrict(ValidationRuleAssignment.objects.select_related("rule"), action="view")
    if rule is not None:
        rows = rows.filter(rule=rule)
    if rule_id is not None:
        rows = rows.filter(rule__public_id=rule_id)
    if related_object_id is not None:
        rows = rows.filter(related_object_id=related_object_id)
    return rows.order_by(order, "-id" if order.startswith("-") else "id")

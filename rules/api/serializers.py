"""Request and response shapes of /v1/validation-rules and /v1/validation-rules-assignments.

Input serializers check the JSON types of the top-level fields (null means "not given"); the rule
definitions themselves (`rules`, `applicable_to`) are checked in rules.services so that the error
names the bad part. Output is built by serialize_* functions; the Output serializers document it.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import LooseDictField, StrictBooleanField, StrictCharField, optional
from rules.models import ValidationRule, ValidationRuleAssignment
from rules.services import CONTEXT_TYPES, RELATED_OBJECT_TYPES

_datetime = serializers.DateTimeField()
RULE_TYPES = [c.value for c in ValidationRule.Type]


@extend_schema_field({"type": "string", "pattern": f"^({'|'.join(RULE_TYPES)})$",
                      "description": f"Type of validation rule: one of {', '.join(RULE_TYPES)}."})
class RuleTypeField(serializers.ChoiceField):
    """Documented by a pattern, not an enum: an enum named after the field ("TypeEnum") collides with the
    other apps' `type` enums (an ENUM_NAME_OVERRIDES entry in settings would be the alternative)."""

    def __init__(self, **kwargs):
        super().__init__(choices=RULE_TYPES, **kwargs)


def _iso(value) -> str | None:
    return _datetime.to_representation(value) if value is not None else None


class ErrorSerializer(serializers.Serializer):
    message = optional(StrictCharField, allow_blank=True, max_length=10_000)


class ApplicableToInputSerializer(serializers.Serializer):
    included = optional(serializers.ListField, child=LooseDictField(), max_length=1000)
    excluded = optional(serializers.ListField, child=LooseDictField(), max_length=1000)
    included_all = optional(StrictBooleanField)


class RuleInputSerializer(serializers.Serializer):
    name = optional(StrictCharField, max_length=255)
    error = ErrorSerializer(required=False, allow_null=True)
    applicable_to = ApplicableToInputSerializer(required=False, allow_null=True)
    rules = optional(LooseDictField, help_text="Numbered conditions {\"1\": {name, property, conditions, rules}} "
                                               "and a logic expression such as \"1 and 2\".")
    bundle_rules = optional(LooseDictField, help_text="Bundle rules; null on update clears them.")
    type = optional(RuleTypeField)
    context_type = optional(serializers.ChoiceField, choices=list(CONTEXT_TYPES))


class AssignmentInputSerializer(serializers.Serializer):
    related_object_type = optional(serializers.ChoiceField, choices=list(RELATED_OBJECT_TYPES),
                                   help_text="Defaults to voucher.")
    related_object_id = StrictCharField(max_length=255, help_text="Voucher id or code, campaign id or name, ...")


# ---------------------------------------------------------------- output

class ApplicableToOutputSerializer(serializers.Serializer):
    included = serializers.ListField(child=serializers.DictField())
    excluded = serializers.ListField(child=serializers.DictField())
    included_all = serializers.BooleanField()


class RuleOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    rules = serializers.DictField()
    bundle_rules = serializers.DictField()
    error = ErrorSerializer(required=False)
    applicable_to = ApplicableToOutputSerializer()
    type = RuleTypeField()
    context_type = serializers.ChoiceField(choices=list(CONTEXT_TYPES))
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    assignments_count = serializers.IntegerField()
    object = serializers.CharField(default="validation_rules")


class RuleListOutputSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data_ref = serializers.CharField(default="data")
    data = RuleOutputSerializer(many=True)
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()


class AssignmentOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    rule_id = serializers.CharField()
    related_object_id = serializers.CharField()
    related_object_type = serializers.ChoiceField(choices=list(RELATED_OBJECT_TYPES))
    created_at = serializers.DateTimeField()
    object = serializers.CharField(default="validation_rules_assignment")


class AssignmentListOutputSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data_ref = serializers.CharField(default="data")
    data = AssignmentOutputSerializer(many=True)
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()


def serialize_rule(rule: ValidationRule) -> dict:
    count = getattr(rule, "assignments_count", None)
    if count is None:
        count = rule.assignments.count()
    body = {
        "id": rule.public_id,
        "name": rule.name,
        "rules": rule.rules or {},
        "bundle_rules": rule.bundle_rules or {},
        "applicable_to": {"included": rule.applicable_to or [], "excluded": rule.inapplicable_to or [],
                          "included_all": rule.included_all},
        "type": rule.type,
        "context_type": rule.context_type,
        "created_at": _iso(rule.created_at),
        "updated_at": _iso(rule.updated_at),
        "assignments_count": count,
        "object": "validation_rules",
    }
    if rule.error_message:
        body["error"] = {"message": rule.error_message}
    return body


def serialize_rules(rules) -> list[dict]:
    return [serialize_rule(rule) for rule in rules]


def serialize_assignment(assignment: ValidationRuleAssignment) -> dict:
    return {
        "id": assignment.public_id,
        "rule_id": assignment.rule.public_id,
        "related_object_id": assignment.related_object_id,
        "related_object_type": assignment.related_object_type,
        "created_at": _iso(assignment.created_at),
        "object": "validation_rules_assignment",
    }


def serialize_assignments(assignments) -> list[dict]:
    return [serialize_assignment(a) for a in assignments]

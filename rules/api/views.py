"""Views of /v1/validation-rules and /v1/validation-rules-assignments: parse, call a service or selector, render."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core import dates
from core.api.pagination import LIST_PARAMETERS, paginate
from core.errors import InvalidPayload
from rules import selectors, services
from rules.api import serializers as s

TAGS = ["validation rules"]


def _text_param(request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    if "\x00" in value:
        raise InvalidPayload(f"Query parameter {name} must not contain NUL characters")
    return value


def _choice_param(request, name: str, choices: tuple, default: str) -> str:
    value = _text_param(request, name) or default
    if value not in choices:
        raise InvalidPayload(f"Query parameter {name} must be one of {', '.join(choices)}")
    return value


def _time_param(request, name: str):
    value = _text_param(request, name)
    return None if value is None else dates.clean_moment(value, f"Query parameter {name}")


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _param(name: str, description: str, type=OpenApiTypes.STR, enum=None) -> OpenApiParameter:
    return OpenApiParameter(name, type, description=description, enum=enum)


RULE_LIST_PARAMETERS = [
    *LIST_PARAMETERS,
    _param("order", "Sort order (default -created_at).", enum=list(selectors.RULE_ORDERINGS)),
    _param("start_date", "Rules created at or after this ISO 8601 date-time.", OpenApiTypes.DATETIME),
    _param("end_date", "Rules created at or before this ISO 8601 date-time.", OpenApiTypes.DATETIME),
]
ASSIGNMENT_ORDER = _param("order", "Sort order (default -created_at).", enum=list(selectors.ASSIGNMENT_ORDERINGS))


class RuleListView(APIView):
    scoped = ("rules.ValidationRule",)

    @extend_schema(tags=TAGS, operation_id="list_validation_rules", summary="List validation rules",
                   parameters=RULE_LIST_PARAMETERS, responses=s.RuleListOutputSerializer)
    def get(self, request):
        rules = selectors.rule_list(order=_choice_param(request, "order", selectors.RULE_ORDERINGS, "-created_at"),
                                    start=_time_param(request, "start_date"), end=_time_param(request, "end_date"))
        return Response(paginate(request, rules, "data", s.serialize_rules))

    @extend_schema(tags=TAGS, operation_id="create_validation_rules", summary="Create a validation rule",
                   request=s.RuleInputSerializer, responses={201: s.RuleOutputSerializer})
    def post(self, request):
        rule = services.rule_create(_validated(s.RuleInputSerializer, request))
        return Response(s.serialize_rule(selectors.rule_get(rule.public_id)), status=201)


class RuleDetailView(APIView):
    scoped = ("rules.ValidationRule",)

    @extend_schema(tags=TAGS, operation_id="get_validation_rule", summary="Get a validation rule",
                   responses=s.RuleOutputSerializer)
    def get(self, request, rule_id: str):
        return Response(s.serialize_rule(selectors.rule_get(rule_id)))

    @extend_schema(tags=TAGS, operation_id="update_validation_rule",
                   summary="Update a validation rule (given fields replace the stored ones)",
                   request=s.RuleInputSerializer, responses=s.RuleOutputSerializer)
    def put(self, request, rule_id: str):
        rule = selectors.rule_get(rule_id)
        services.rule_update(rule, _validated(s.RuleInputSerializer, request))
        return Response(s.serialize_rule(selectors.rule_get(rule_id)))

    @extend_schema(tags=TAGS, operation_id="delete_validation_rules",
                   summary="Delete a validation rule and its assignments", responses={204: None})
    def delete(self, request, rule_id: str):
        services.rule_delete(selectors.rule_get(rule_id))
        return Response(status=204)


class RuleAssignmentListView(APIView):
    scoped = ("rules.ValidationRule", "rules.ValidationRuleAssignment")

    @extend_schema(tags=TAGS, operation_id="list_validation_rule_assignments",
                   summary="List the assignments of a validation rule",
                   parameters=[*LIST_PARAMETERS, ASSIGNMENT_ORDER], responses=s.AssignmentListOutputSerializer)
    def get(self, request, rule_id: str):
        rule = selectors.rule_get(rule_id)
        order = _choice_param(request, "order", selectors.ASSIGNMENT_ORDERINGS, "-created_at")
        return Response(paginate(request, selectors.assignment_list(rule=rule, order=order), "data",
                                 s.serialize_assignments))

    @extend_schema(tags=TAGS, operation_id="create_validation_rule_assignment",
                   summary="Assign a validation rule to a voucher, campaign, promotion tier, ...",
                   parameters=[_param("force", "Accepted for compatibility; has no effect.", OpenApiTypes.BOOL)],
                   request=s.AssignmentInputSerializer, responses={201: s.AssignmentOutputSerializer})
    def post(self, request, rule_id: str):
        rule = selectors.rule_get(rule_id)
        data = _validated(s.AssignmentInputSerializer, request)
        assignment = services.assignment_create(rule, data.get("related_object_type"), data["related_object_id"])
        return Response(s.serialize_assignment(assignment), status=201)


class RuleAssignmentDetailView(APIView):
    scoped = ("rules.ValidationRule", "rules.ValidationRuleAssignment")

    @extend_schema(tags=TAGS, operation_id="delete_validation_rule_assignment",
                   summary="Remove an assignment of a validation rule", responses={204: None})
    def delete(self, request, rule_id: str, assignment_id: str):
        services.assignment_delete(selectors.rule_get(rule_id), assignment_id)
        return Response(status=204)


class AssignmentListView(APIView):
    scoped = ("rules.ValidationRuleAssignment",)

    @extend_schema(tags=TAGS, operation_id="list_validation_rules_assignments",
                   summary="List validation rule assignments",
                   parameters=[*LIST_PARAMETERS, ASSIGNMENT_ORDER,
                               _param("related_object_id", "Assignments to this object (voucher or campaign id, ...)."),
                               _param("rule", "Assignments of this validation rule id.")],
                   responses=s.AssignmentListOutputSerializer)
    def get(self, request):
        rows = selectors.assignment_list(
            rule_id=_text_param(request, "rule"), related_object_id=_text_param(request, "related_object_id"),
            order=_choice_param(request, "order", selectors.ASSIGNMENT_ORDERINGS, "-created_at"))
        return Response(paginate(request, rows, "data", s.serialize_assignments))

"""POST /v1/qualifications (Voucherify's check-eligibility): what a customer and cart can get.
The body is checked here (fast, like the stacked request: promo.api.payload) and handed to
promo.qualifications."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core import dates
from core.api.fields import LooseDictField, StrictCharField, StrictIntegerField
from core.api.renderers import JSONRenderer, Rendered
from core.errors import InvalidPayload
from promo import qualifications
from promo.api.payload import _customer, _Errors, _object, _order, _session, _text
from promo.api.serializers import CustomerRefSerializer, OrderSerializer, SessionSerializer


def _opt(field_class, **kwargs):
    return field_class(required=False, allow_null=True, **kwargs)


class QualificationOptionsSerializer(serializers.Serializer):
    limit = _opt(StrictIntegerField, min_value=1, max_value=qualifications.MAX_LIMIT,
                 help_text=f"Redeemables per page (default {qualifications.DEFAULT_LIMIT}).")
    starting_after = _opt(serializers.DateTimeField, help_text="more_starting_after of the previous page.")
    filters = _opt(LooseDictField, help_text="{junction: and|or, <field>: {conditions: {$in: [...]}}} over "
                                             + ", ".join(qualifications.FILTER_FIELDS))
    expand = _opt(serializers.ListField, child=serializers.ChoiceField(
        choices=["redeemable", "category", "validation_rules"]))
    sorting_rule = _opt(serializers.ChoiceField, choices=qualifications.SORTING_RULES)


class QualificationRequestSerializer(serializers.Serializer):
    """Documents the body; parse_qualification_request checks it."""

    customer = _opt(CustomerRefSerializer)
    order = _opt(OrderSerializer)
    tracking_id = _opt(StrictCharField, max_length=255, allow_blank=True)
    scenario = _opt(serializers.ChoiceField, choices=qualifications.SCENARIOS)
    options = _opt(QualificationOptionsSerializer)
    session = _opt(SessionSerializer)
    metadata = _opt(LooseDictField)


def _filters(value, errors: _Errors) -> dict | None:
    filters = _object(value, "options.filters", errors)
    if not filters:
        return None
    cleaned: dict = {}
    for name, spec in filters.items():
        where = f"options.filters.{name}"
        if name == "junction":
            if spec not in ("and", "or", "AND", "OR"):
                errors.add(where, "Must be and or or.")
            cleaned["junction"] = str(spec).lower()
            continue
        if name not in qualifications.FILTER_FIELDS:
            errors.add(where, f"Unknown filter (use {', '.join(qualifications.FILTER_FIELDS)}).")
            continue
        conditions = (spec or {}).get("conditions") if isinstance(spec, dict) else None
        if not isinstance(conditions, dict) or not conditions:
            errors.add(where, "Must be an object with conditions.")
            continue
        unknown = set(conditions) - set(qualifications.FILTER_OPERATORS)
        if unknown:
            errors.add(where, f"Unknown operator {sorted(unknown)[0]}.")
            continue
        cleaned[name] = {"conditions": conditions}
    return cleaned


def _options(value, errors: _Errors) -> dict:
    options = _object(value, "options", errors) or {}
    limit = options.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or not 1 <= limit <= qualifications.MAX_LIMIT):
        errors.add("options.limit", f"Must be an integer from 1 to {qualifications.MAX_LIMIT}.")
        limit = None
    starting_after = None
    if options.get("starting_after") is not None:
        raw = options["starting_after"]
        starting_after = dates.parse_moment(raw) if isinstance(raw, str) else None
        if starting_after is None:
            errors.add("options.starting_after", "Must be an ISO 8601 date-time (more_starting_after).")
    sorting = options.get("sorting_rule")
    if sorting is not None and sorting not in qualifications.SORTING_RULES:
        errors.add("options.sorting_rule", f"Must be one of {', '.join(qualifications.SORTING_RULES)}.")
    expand = options.get("expand")
    if expand is not None and (not isinstance(expand, list) or not all(isinstance(x, str) for x in expand)):
        errors.add("options.expand", "Expected a list of strings.")
        expand = None
    return {"limit": limit, "starting_after": starting_after, "sorting_rule": sorting, "expand": expand,
            "filters": _filters(options.get("filters"), errors)}


def parse_qualification_request(data) -> dict:
    errors = _Errors()
    if not isinstance(data, dict):
        raise InvalidPayload("non_field_errors: Invalid data. Expected a dictionary.")
    scenario = data.get("scenario")
    if scenario is not None and scenario not in qualifications.SCENARIOS:
        errors.add("scenario", f"Must be one of {', '.join(qualifications.SCENARIOS)}.")
    result = {
        "customer": _customer(data.get("customer"), "customer", errors),
        "order": _order(data.get("order"), errors),
        "tracking_id": _text(data.get("tracking_id"), "tracking_id", errors, blank=True),
        "scenario": scenario,
        "options": _options(data.get("options"), errors),
        "session": _session(data.get("session"), errors),
        "metadata": _object(data.get("metadata"), "metadata", errors),
    }
    if errors.messages:
        raise InvalidPayload("; ".join(errors.messages))
    if not result["customer"] and result["order"] and result["order"].get("customer"):
        result["customer"] = result["order"]["customer"]
    return result


_RENDERER = JSONRenderer()  # compact: the answer every client gets (the browsable API is not offered here)


class QualificationsView(APIView):
    scoped = ("promo.Campaign", "promo.Voucher", "promo.PromotionTier", "promo.PromotionStack")
    redemption_scope = True  # read-only, but checkouts call it with their redemption keys
    throttle_scope = "qualifications"

    @extend_schema(tags=["qualifications"], operation_id="check-eligibility", request=QualificationRequestSerializer,
                   summary="Check eligibility (qualifications)",
                   description="The vouchers in the customer's wallet, promotion tiers and promotion stacks that "
                               "apply to this customer and cart, with the discount each gives, sorted "
                               "(options.sorting_rule) and paginated (options.limit, options.starting_after). "
                               "Counter-backed limits are not checked here: redemption enforces them.",
                   responses={200: OpenApiResponse(OpenApiTypes.OBJECT,
                                                   description="Voucherify v1 `QualificationsCheckEligibilityResponse"
                                                               "Body` shape; amounts in minor units."),
                              400: OpenApiResponse(OpenApiTypes.OBJECT, description="Error"),
                              429: OpenApiResponse(OpenApiTypes.OBJECT, description="Error `too_many_requests` "
                                                                                    "(a rate limit)")})
    def post(self, request):
        parsed = parse_qualification_request(request.data)
        return Response(Rendered(qualifications.qualify(parsed, render=_RENDERER.render, api_key=request.auth)))

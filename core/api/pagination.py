"""Voucherify-style lists: {object: "list", data_ref: "customers", customers: [...], total, has_more}."""

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers

from core.errors import InvalidPayload
from core.permissions import restrict, scoped_model

DEFAULT_LIMIT = 10
MAX_LIMIT = 100

LIST_PARAMETERS = [
    OpenApiParameter("limit", OpenApiTypes.INT,
                     description=f"Items per page, 1-{MAX_LIMIT} (default {DEFAULT_LIMIT})."),
    OpenApiParameter("page", OpenApiTypes.INT, description="Page number, from 1."),
]


def int_param(request, name: str, default: int | None, minimum: int | None = None,
              maximum: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidPayload(f"Query parameter {name} must be an integer")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise InvalidPayload(f"Query parameter {name} must be between {minimum} and {maximum}")
    return value


def paginate(request, queryset: QuerySet, data_ref: str, serialize, *, max_limit: int = MAX_LIMIT) -> dict:
    """One page of `queryset`; `serialize(objects)` turns the page into a list of dicts.

    Rows of a scoped model are restricted to what the caller may see here too, whatever the selector did:
    a list endpoint cannot serve another category's rows by forgetting (core.api.scope)."""
    if scoped_model(queryset.model._meta.label) is not None:
        queryset = restrict(queryset, action="view")
    limit = int_param(request, "limit", DEFAULT_LIMIT, 1, max_limit)
    page = int_param(request, "page", 1, 1, 1_000_000)
    offset = (page - 1) * limit
    rows = list(queryset[offset: offset + limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return {
        "object": "list",
        "data_ref": data_ref,
        data_ref: serialize(rows),
        "total": queryset.count(),
        "has_more": has_more,
    }


def list_schema(name: str, data_ref: str, item: type[serializers.Serializer]) -> serializers.Serializer:
    """The schema of what `paginate` answers, for @extend_schema(responses=...); `item` serializes one
    element."""
    return inline_serializer(name, {"object": serializers.CharField(), "data_ref": serializers.CharField(),
                                    data_ref: item(many=True), "total": serializers.IntegerField(),
                                    "has_more": serializers.BooleanField()})

"""Views of /v1/segments and /v1/customers/{id}/segments: parse, call a service or selector, render."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.pagination import LIST_PARAMETERS, paginate
from core.errors import InvalidPayload
from customers.selectors import customer_find
from segments import selectors, services
from segments.api import serializers as s

# What these views serve belongs to no campaign category (core.api.scope).
SHARED = "Segments group customers, who are shared by every campaign category."

TAGS = ["segments"]


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _order_param(request) -> str:
    value = request.query_params.get("order") or "-created_at"
    if value not in selectors.SEGMENT_ORDERINGS:
        raise InvalidPayload(f"Query parameter order must be one of {', '.join(selectors.SEGMENT_ORDERINGS)}")
    return value


class SegmentListView(APIView):
    unscoped = SHARED

    @extend_schema(tags=TAGS, operation_id="list_segments", summary="List segments with their member counts",
                   parameters=[*LIST_PARAMETERS, OpenApiParameter("order", OpenApiTypes.STR,
                                                                  enum=list(selectors.SEGMENT_ORDERINGS))],
                   responses=s.SegmentListOutputSerializer)
    def get(self, request):
        return Response(paginate(request, selectors.segment_list(order=_order_param(request)), "segments",
                                 s.serialize_segments))

    @extend_schema(tags=TAGS, operation_id="create_segment",
                   summary="Create a segment: static (customers) or auto-update / passive (filter)",
                   request=s.SegmentInputSerializer, responses={200: s.SegmentOutputSerializer})
    def post(self, request):
        segment = services.segment_create(_validated(s.SegmentInputSerializer, request), api_key=request.auth,
                                          user=request.user)
        segment.refresh_from_db()  # without a broker the initial sync has already run
        return Response(s.serialize_segment(segment))


class SegmentDetailView(APIView):
    unscoped = SHARED

    @extend_schema(tags=TAGS, operation_id="get_segment", summary="Get a segment",
                   responses=s.SegmentOutputSerializer)
    def get(self, request, segment_id: str):
        return Response(s.serialize_segment(selectors.segment_get(segment_id)))

    @extend_schema(tags=TAGS, operation_id="delete_segment", summary="Delete a segment", responses={204: None})
    def delete(self, request, segment_id: str):
        services.segment_delete(selectors.segment_get(segment_id))
        return Response(status=204)


class CustomerSegmentsView(APIView):
    unscoped = SHARED

    @extend_schema(tags=["customers"], operation_id="list_customer_segments",
                   summary="List the segments a customer belongs to (none for a customer not stored)",
                   responses=s.CustomerSegmentsOutputSerializer)
    def get(self, request, customer_id: str):
        customer = customer_find(customer_id)
        segments = list(selectors.customer_segments(customer)) if customer is not None else []
        return Response(s.serialize_customer_segments(segments))

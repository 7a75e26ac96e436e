"""Views of /v1/customers, /v1/orders and /v1/events: parse, call a service or selector, render."""

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.pagination import DEFAULT_LIMIT, LIST_PARAMETERS, MAX_LIMIT, int_param, paginate
from core.api.parsers import UPLOAD_PARSERS
from core.errors import InvalidPayload, NotFound
from customers import export, selectors, services
from customers.api import serializers as s

# What these views serve belongs to no campaign category (core.api.scope).
SHARED = "Customers, their orders, events and consents are shared by every campaign category."

# ---------------------------------------------------------------- query parameters

def _text_param(request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    if "\x00" in value:
        raise InvalidPayload(f"Query parameter {name} must not contain NUL characters")
    return value


def _time_param(request, name: str):
    value = _text_param(request, name)
    return None if value is None else services.parse_timestamp(value, f"Query parameter {name}")


def _choice_param(request, name: str, choices: tuple, default: str) -> str:
    value = _text_param(request, name) or default
    if value not in choices:
        raise InvalidPayload(f"Query parameter {name} must be one of {', '.join(choices)}")
    return value


def _validated(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _async_answer(action) -> Response:
    return Response({"async_action_id": action.public_id}, status=202)


def _param(name: str, description: str, type=OpenApiTypes.STR, enum=None) -> OpenApiParameter:
    return OpenApiParameter(name, type, description=description, enum=enum)


CUSTOMER_LIST_PARAMETERS = [
    *LIST_PARAMETERS,
    _param("email", "Customers with this email address (case-insensitive)."),
    _param("city", "Customers in this city (case-insensitive)."),
    _param("name", "Customers whose name contains this text."),
    _param("created_at[before]", "Created before this ISO 8601 date-time.", OpenApiTypes.DATETIME),
    _param("created_at[after]", "Created after this ISO 8601 date-time.", OpenApiTypes.DATETIME),
    _param("updated_at[before]", "Updated before this ISO 8601 date-time.", OpenApiTypes.DATETIME),
    _param("updated_at[after]", "Updated after this ISO 8601 date-time.", OpenApiTypes.DATETIME),
    _param("order", "Sort order.", enum=list(selectors.CUSTOMER_ORDERINGS)),
    _param("starting_after", "created_at cursor: the customers after this one in the sort order.",
           OpenApiTypes.DATETIME),
]

ACTIVITY_PARAMETERS = [
    _param("limit", f"Items per page, 1-{MAX_LIMIT} (default {DEFAULT_LIMIT}).", OpenApiTypes.INT),
    _param("page", "Page number, from 1 (ignored with starting_after_id).", OpenApiTypes.INT),
    _param("starting_after_id", "Cursor: the activities after the one with this id."),
    _param("order", "Sort order (default -created_at).", enum=["created_at", "-created_at"]),
    _param("start_date", "Activities from this ISO 8601 date-time on.", OpenApiTypes.DATETIME),
    _param("end_date", "Activities up to this ISO 8601 date-time.", OpenApiTypes.DATETIME),
    _param("type", "Only activities of this type, e.g. customer.order.paid."),
]


# ---------------------------------------------------------------- customers

class CustomerListView(APIView):
    scoped = ("promo.Redemption", "giftcards.GiftCard")

    @extend_schema(tags=["customers"], operation_id="list_customers",
                   summary="List customers", parameters=CUSTOMER_LIST_PARAMETERS,
                   responses=s.CustomerListOutputSerializer)
    def get(self, request):
        order = _choice_param(request, "order", selectors.CUSTOMER_ORDERINGS, "-created_at")
        customers = selectors.customer_list(
            email=_text_param(request, "email"), city=_text_param(request, "city"),
            name=_text_param(request, "name"), order=order,
            created_before=_time_param(request, "created_at[before]"),
            created_after=_time_param(request, "created_at[after]"),
            updated_before=_time_param(request, "updated_at[before]"),
            updated_after=_time_param(request, "updated_at[after]"),
            starting_after=_time_param(request, "starting_after"),
        )
        return Response(paginate(request, customers, "customers", s.serialize_customers))

    @extend_schema(tags=["customers"], operation_id="create_customer",
                   summary="Create a customer (or update the one with this source_id)",
                   request=s.CustomerCreateInputSerializer,
                   responses={201: s.CustomerOutputSerializer, 200: s.CustomerOutputSerializer})
    def post(self, request):
        customer, created = services.customer_create_or_update(_validated(s.CustomerCreateInputSerializer, request))
        return Response(s.serialize_customer(customer), status=201 if created else 200)


class CustomerDetailView(APIView):
    scoped = ("promo.Redemption", "giftcards.GiftCard")

    @extend_schema(tags=["customers"], operation_id="get_customer",
                   summary="Get a customer by id or source_id",
                   responses=s.CustomerOutputSerializer)
    def get(self, request, customer_id: str):
        return Response(s.serialize_customer(selectors.customer_get(customer_id)))

    @extend_schema(tags=["customers"], operation_id="update_customer",
                   summary="Update a customer (given fields are merged)",
                   request=s.CustomerUpdateInputSerializer, responses=s.CustomerOutputSerializer)
    def put(self, request, customer_id: str):
        customer = selectors.customer_get(customer_id)
        customer = services.customer_update(customer, _validated(s.CustomerUpdateInputSerializer, request))
        return Response(s.serialize_customer(customer))

    @extend_schema(tags=["customers"], operation_id="delete_customer",
                   summary="Delete (hide) a customer; its source_id becomes free",
                   responses={204: None})
    def delete(self, request, customer_id: str):
        services.customer_delete(selectors.customer_get(customer_id))
        return Response(status=204)


class CustomerPermanentDeletionView(APIView):
    unscoped = SHARED

    @extend_schema(tags=["customers"], operation_id="customer_permanently_deletion",
                   summary="Erase a customer's personal data (orders are kept, anonymised)",
                   request=None, responses=s.PermanentDeletionOutputSerializer)
    def post(self, request, customer_id: str):
        result = services.customer_erase(selectors.customer_get_for_erasure(customer_id))
        return Response(s.PermanentDeletionOutputSerializer(result).data)


class CustomerActivityView(APIView):
    scoped = ("customers.CustomerActivity",)

    @extend_schema(tags=["customers"], operation_id="list_customer_activity",
                   summary="List a customer's activity (its timeline)",
                   parameters=ACTIVITY_PARAMETERS, responses=s.ActivityListOutputSerializer)
    def get(self, request, customer_id: str):
        customer = selectors.customer_get(customer_id)
        order = _choice_param(request, "order", ("created_at", "-created_at"), "-created_at")
        activities = selectors.customer_activity_list(
            customer, type=_text_param(request, "type"), order=order,
            start=_time_param(request, "start_date"), end=_time_param(request, "end_date"))
        limit = int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = 0
        cursor = _text_param(request, "starting_after_id")
        if cursor:
            activities = selectors.customer_activity_after(activities, cursor, order)
        else:
            offset = (int_param(request, "page", 1, 1, 1_000_000) - 1) * limit
        rows = list(activities[offset: offset + limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
        return Response({
            "object": "list", "data_ref": "data", "data": s.ActivityOutputSerializer(rows, many=True).data,
            "has_more": has_more, "more_starting_after": rows[-1].public_id if has_more else None,
        })


class CustomerExportView(APIView):
    all_categories = ("A customer's data export holds their codes, redemptions and gift card ledgers of every "
                      "campaign category at once.")

    @extend_schema(tags=["customers"], operation_id="export_customer",
                   summary="Everything held about a customer, as one JSON document (project extension)",
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request, customer_id: str):
        return Response(export.customer_export_delivered(selectors.customer_get(customer_id)))


class CustomerExportArchiveView(APIView):
    all_categories = CustomerExportView.all_categories

    @extend_schema(tags=["customers"], operation_id="export_customer_archive",
                   summary="The customer's data export as a ZIP: export.json and one CSV per section",
                   responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request, customer_id: str):
        customer = selectors.customer_get(customer_id)
        archive = export.export_archive(export.customer_export_delivered(customer, format="zip"))
        response = HttpResponse(archive, content_type="application/zip")
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=f"{customer.public_id}-export.zip")
        response["Cache-Control"] = "no-store"
        return response


class CustomerImportCsvView(APIView):
    unscoped = SHARED
    parser_classes = UPLOAD_PARSERS

    @extend_schema(tags=["customers"], operation_id="import_customers_using_csv",
                   summary="Import customers from CSV (async; upsert by source_id)",
                   request={"multipart/form-data": s.ImportCsvInputSerializer},
                   responses={202: s.AsyncActionIdSerializer})
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidPayload("Send the CSV file in the multipart form field `file`")
        action = services.customer_import_csv_start(upload.read(), api_key=request.auth, user=request.user)
        return _async_answer(action)


class CustomersBulkUpdateView(APIView):
    unscoped = SHARED

    @extend_schema(tags=["customers"], operation_id="update_customers_in_bulk",
                   summary="Create or update many customers by source_id (async)",
                   request=s.CustomerCreateInputSerializer(many=True), responses={202: s.AsyncActionIdSerializer})
    def post(self, request):
        return _async_answer(services.customers_bulk_update_start(request.data, api_key=request.auth,
                                                                  user=request.user))


class CustomersMetadataUpdateView(APIView):
    unscoped = SHARED

    @extend_schema(tags=["customers"], operation_id="update_customers_metadata_in_bulk",
                   summary="Merge metadata into many customers by source_id (async)",
                   request=s.CustomersMetadataBulkInputSerializer, responses={202: s.AsyncActionIdSerializer})
    def post(self, request):
        data = _validated(s.CustomersMetadataBulkInputSerializer, request)
        action = services.customers_metadata_update_start(data["source_ids"], data["metadata"],
                                                          api_key=request.auth, user=request.user)
        return _async_answer(action)


# ---------------------------------------------------------------- orders

class OrderListView(APIView):
    unscoped = SHARED

    @extend_schema(tags=["orders"], operation_id="list_orders",
                   summary="List orders",
                   parameters=[*LIST_PARAMETERS, _param("order", "Sort order.", enum=list(selectors.ORDER_ORDERINGS))],
                   responses=s.OrderListOutputSerializer)
    def get(self, request):
        order = _choice_param(request, "order", selectors.ORDER_ORDERINGS, "-created_at")
        orders = selectors.order_list(order=order)
        return Response(paginate(request, orders, "orders",
                                 lambda rows: s.OrderOutputSerializer(rows, many=True).data))

    @extend_schema(tags=["orders"], operation_id="create_order",
                   summary="Create an order (or update the one with this source_id)",
                   request=s.OrderInputSerializer,
                   responses={201: s.OrderOutputSerializer, 200: s.OrderOutputSerializer})
    def post(self, request):
        order, created = services.order_create_or_update(_validated(s.OrderInputSerializer, request))
        return Response(s.OrderOutputSerializer(order).data, status=201 if created else 200)


class OrderDetailView(APIView):
    unscoped = SHARED

    @extend_schema(tags=["orders"], operation_id="get_order",
                   summary="Get an order by id or source_id", responses=s.OrderOutputSerializer)
    def get(self, request, order_id: str):
        return Response(s.OrderOutputSerializer(selectors.order_get(order_id)).data)

    @extend_schema(tags=["orders"], operation_id="update_order",
                   summary="Update an order (given fields are merged; items are replaced)",
                   request=s.OrderInputSerializer, responses=s.OrderOutputSerializer)
    def put(self, request, order_id: str):
        order = selectors.order_get(order_id)
        order = services.order_update(order, _validated(s.OrderInputSerializer, request))
        return Response(s.OrderOutputSerializer(order).data)


# ---------------------------------------------------------------- events

class EventView(APIView):
    unscoped = SHARED

    @extend_schema(tags=["events"], operation_id="track_custom_event",
                   summary="Track a custom event for a customer",
                   request=s.EventInputSerializer, responses=s.EventOutputSerializer)
    def post(self, request):
        event = services.custom_event_track(_validated(s.EventInputSerializer, request))
        return Response(s.EventOutputSerializer(event).data)


# ---------------------------------------------------------------- consents (marketing permissions)

CONSENTS_BODY = {"application/json": {
    "type": "object", "additionalProperties": {"oneOf": [{"type": "boolean"}, {"type": "string"}]},
    "description": "{\"<consent id or name>\": true (granted) | false (withdrawn)}; \"unsubscribed\": true "
                   "withdraws every consent; optional \"channel\" (default api) and \"source\" texts.",
    "example": {"newsletter": True, "sms": False, "channel": "web", "source": "checkout form"}}}


class ConsentListView(APIView):
    unscoped = SHARED

    @extend_schema(tags=["consents"], operation_id="list_consents", summary="List the consent definitions",
                   parameters=LIST_PARAMETERS, responses=s.ConsentListOutputSerializer)
    def get(self, request):
        return Response(paginate(request, selectors.consent_list(), "consents",
                                 lambda rows: s.ConsentOutputSerializer(rows, many=True).data))

    @extend_schema(tags=["consents"], operation_id="create_consent", summary="Define a consent",
                   request=s.ConsentInputSerializer, responses={201: s.ConsentOutputSerializer})
    def post(self, request):
        consent = services.consent_create(_validated(s.ConsentInputSerializer, request))
        return Response(s.ConsentOutputSerializer(consent).data, status=201)


def _customer_consents(customer) -> dict:
    return s.serialize_customer_consents(list(selectors.consent_list()),
                                         selectors.customer_consent_states(customer))


class CustomerConsentsView(APIView):
    unscoped = SHARED

    @extend_schema(tags=["consents"], operation_id="get_customer_consents",
                   summary="A customer's consents (null: never asked)", responses=s.CustomerConsentListOutputSerializer)
    def get(self, request, customer_id: str):
        return Response(_customer_consents(selectors.customer_get(customer_id)))

    @extend_schema(tags=["consents"], operation_id="update_customer_consents",
                   summary="Grant or withdraw a customer's consents", request=CONSENTS_BODY,
                   responses=s.CustomerConsentListOutputSerializer)
    def put(self, request, customer_id: str):
        customer = selectors.customer_get(customer_id)
        services.customer_consents_update(customer, services.clean_consent_changes(request.data))
        return Response(_customer_consents(customer))


class CustomerConsentHistoryView(APIView):
    unscoped = SHARED

    @extend_schema(tags=["consents"], operation_id="list_customer_consent_history",
                   summary="A customer's consent statements, newest first",
                   parameters=[*LIST_PARAMETERS, _param("consent", "Only this consent (id or name).")],
                   responses=s.ConsentEventListOutputSerializer)
    def get(self, request, customer_id: str):
        customer = selectors.customer_get(customer_id)
        consent = None
        ref = _text_param(request, "consent")
        if ref is not None:
            consent = selectors.consent_find(ref)
            if consent is None:
                raise NotFound.for_object("consent", ref)
        history = selectors.customer_consent_history(customer, consent)
        return Response(paginate(request, history, "history",
                                 lambda rows: s.ConsentEventOutputSerializer(rows, many=True).data))

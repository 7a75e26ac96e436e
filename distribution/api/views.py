"""Views of /v1/webhooks: parse, call a service or selector, render.

Webhooks see events of every campaign and hold signing secrets, so only management-scope API keys that
are not limited to campaign categories (or staff with the distribution model permissions) may use them.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.pagination import LIST_PARAMETERS, paginate
from core.auth import ApiClient, IsApiClientOrStaff
from core.errors import InvalidPayload
from core.models import ApiKey
from core.permissions import has_perm, key_category_ids
from distribution import selectors, services
from distribution.api import serializers as s
from distribution.models import WebhookDelivery

# These views serve every campaign category at once (core.api.scope).
EVERY_CATEGORY = "webhooks receive every campaign's events and hold signing secrets."

TAGS = ["webhooks"]
PERMS = {"GET": "view", "HEAD": "view", "OPTIONS": "view", "DELETE": "delete", "POST": "change", "PUT": "change"}


class CanManageWebhooks(IsApiClientOrStaff):
    message = "Webhooks need a management API key for all campaign categories, or a staff user allowed to " \
              "manage webhook endpoints"

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        user = request.user
        if isinstance(user, ApiClient):
            key = user.api_key
            return key.scope == ApiKey.Scope.MANAGEMENT and key_category_ids(key) is None
        action = PERMS.get(request.method, "change")
        if request.method == "POST" and getattr(view, "creates", False):
            action = "add"
        return has_perm(user, f"distribution.{action}_webhookendpoint")


def _validated(request) -> dict:
    serializer = s.WebhookInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return {key: value for key, value in serializer.validated_data.items() if value is not None}


class WebhooksView(APIView):
    all_categories = EVERY_CATEGORY
    permission_classes = [CanManageWebhooks]
    creates = True

    @extend_schema(tags=TAGS, operation_id="list_webhooks", summary="List webhook endpoints",
                   parameters=LIST_PARAMETERS, responses=s.WebhookListOutputSerializer)
    def get(self, request):
        return Response(paginate(request, selectors.endpoint_list(), "webhooks", s.serialize_webhooks))

    @extend_schema(tags=TAGS, operation_id="create_webhook",
                   summary="Create a webhook endpoint; the answer shows its signing secret, once",
                   request=s.WebhookInputSerializer, responses={200: s.WebhookCreatedOutputSerializer})
    def post(self, request):
        data = _validated(request)
        if not data.get("url"):
            raise InvalidPayload("url: This field is required.")
        return Response(s.serialize_webhook(services.endpoint_create(**data), with_secret=True))


class WebhookView(APIView):
    all_categories = EVERY_CATEGORY
    permission_classes = [CanManageWebhooks]

    @extend_schema(tags=TAGS, operation_id="get_webhook", summary="Get a webhook endpoint",
                   responses=s.WebhookOutputSerializer)
    def get(self, request, webhook_id: str):
        return Response(s.serialize_webhook(selectors.endpoint_get(webhook_id)))

    @extend_schema(tags=TAGS, operation_id="update_webhook",
                   summary="Update a webhook endpoint (fields not sent stay as they are)",
                   request=s.WebhookInputSerializer, responses=s.WebhookOutputSerializer)
    def put(self, request, webhook_id: str):
        endpoint = selectors.endpoint_get(webhook_id)
        return Response(s.serialize_webhook(services.endpoint_update(endpoint, **_validated(request))))

    @extend_schema(tags=TAGS, operation_id="delete_webhook",
                   summary="Delete a webhook endpoint and its deliveries", responses={204: None})
    def delete(self, request, webhook_id: str):
        services.endpoint_delete(selectors.endpoint_get(webhook_id))
        return Response(status=204)


class WebhookDeliveriesView(APIView):
    all_categories = EVERY_CATEGORY
    permission_classes = [CanManageWebhooks]

    @extend_schema(tags=TAGS, operation_id="list_webhook_deliveries",
                   summary="List the deliveries of a webhook endpoint, newest first",
                   parameters=[*LIST_PARAMETERS, OpenApiParameter("status", OpenApiTypes.STR,
                                                                  enum=list(WebhookDelivery.Status.values))],
                   responses=s.WebhookDeliveryListOutputSerializer)
    def get(self, request, webhook_id: str):
        endpoint = selectors.endpoint_get(webhook_id)
        status = request.query_params.get("status") or None
        if status is not None and status not in WebhookDelivery.Status.values:
            raise InvalidPayload(f"Query parameter status must be one of {s.DELIVERY_STATUSES}")
        return Response(paginate(request, selectors.delivery_list(endpoint, status=status), "deliveries",
                                 s.serialize_deliveries))


class WebhookTestView(APIView):
    all_categories = EVERY_CATEGORY
    permission_classes = [CanManageWebhooks]

    @extend_schema(tags=TAGS, operation_id="test_webhook",
                   summary="Send a webhook.ping event to this endpoint (inline without a broker)",
                   request=None, responses=s.WebhookDeliveryOutputSerializer)
    def post(self, request, webhook_id: str):
        delivery = services.endpoint_send_test(selectors.endpoint_get(webhook_id))
        delivery.refresh_from_db()  # without a broker it has been sent already
        return Response(s.serialize_delivery(delivery))


class WebhookDeliveryView(APIView):
    all_categories = EVERY_CATEGORY
    permission_classes = [CanManageWebhooks]

    @extend_schema(tags=TAGS, operation_id="get_webhook_delivery", summary="Get a webhook delivery",
                   responses=s.WebhookDeliveryOutputSerializer)
    def get(self, request, delivery_id: str):
        return Response(s.serialize_delivery(selectors.delivery_get(delivery_id)))


class WebhookDeliveryRetryView(APIView):
    all_categories = EVERY_CATEGORY
    permission_classes = [CanManageWebhooks]

    @extend_schema(tags=TAGS, operation_id="retry_webhook_delivery",
                   summary="Send a delivery again now (one more attempt for a failed one)",
                   request=None, responses=s.WebhookDeliveryOutputSerializer)
    def post(self, request, delivery_id: str):
        delivery = services.delivery_retry(selectors.delivery_get(delivery_id))
        delivery.refresh_from_db()
        return Response(s.serialize_delivery(delivery))

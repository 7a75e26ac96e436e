from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core import selectors
from core.api.pagination import LIST_PARAMETERS, list_schema, paginate
from core.api.serializers import AsyncActionSerializer, MetadataSchemaSerializer
from core.errors import NotFound
from core.models import MetadataSchema

# What these views serve belongs to no campaign category (core.api.scope).
SCHEMAS_UNSCOPED = "Metadata schemas describe kinds of objects, not rows of a category."

class AsyncActionListView(APIView):
    scoped = ("core.AsyncAction",)

    @extend_schema(tags=["async actions"], parameters=LIST_PARAMETERS,
                   responses=list_schema("AsyncActionsList", "async_actions", AsyncActionSerializer),
                   summary="List async actions", operation_id="list-async-actions")
    def get(self, request):
        queryset = selectors.async_action_list()
        return Response(paginate(request, queryset, "async_actions",
                                 lambda rows: AsyncActionSerializer(rows, many=True).data))

class AsyncActionDetailView(APIView):
    scoped = ("core.AsyncAction",)

    @extend_schema(tags=["async actions"], responses=AsyncActionSerializer, summary="Get an async action",
                   operation_id="get-async-action")
    def get(self, request, action_id: str):
        return Response(AsyncActionSerializer(selectors.async_action_get(action_id)).data)

class MetadataSchemaListView(APIView):
    unscoped = SCHEMAS_UNSCOPED

    @extend_schema(tags=["metadata schemas"], responses=inline_serializer(
        "MetadataSchemaList", {"object": serializers.CharField(), "data_ref": serializers.CharField(),
                               "schemas": MetadataSchemaSerializer(many=True), "total": serializers.IntegerField()}),
        summary="List metadata schemas", operation_id="list-metadata-schemas")
    def get(self, request):
        rows = MetadataSchema.objects.all()
        data = MetadataSchemaSerializer(rows, many=True).data
        return Response({"object": "list", "data_ref": "schemas", "schemas": data, "total": len(data)})

    @extend_schema(tags=["metadata schemas"], request=MetadataSchemaSerializer, responses=MetadataSchemaSerializer,
                   summary="Create or replace the metadata schema of one kind of object (project extension)",
                   operation_id="upsert-metadata-schema")
    def post(self, request):
        related_object = request.data.get("related_object") if isinstance(request.data, dict) else None
        instance = MetadataSchema.objects.filter(related_object=related_object).first() if related_object else None
        serializer = MetadataSchemaSerializer(instance, data=request.data)
        serializer.is_valid(raise_exception=True)
        schema = serializer.save()
        return Response(MetadataSchemaSerializer(schema).data, status=200 if instance else 201)

class MetadataSchemaDetailView(APIView):
    unscoped = SCHEMAS_UNSCOPED

    @extend_schema(tags=["metadata schemas"], responses=MetadataSchemaSerializer,
                   summary="Get the metadata schema of one kind of object",
                   operation_id="get-metadata-schema")
    def get(self, request, resource: str):
        return Response(MetadataSchemaSerializer(selectors.metadata_schema_get(resource)).data)

    @extend_schema(tags=["metadata schemas"], responses={204: None}, summary="Delete a metadata schema",
                   operation_id="delete-metadata-schema")
    def delete(self, request, resource: str):
        deleted, _ = MetadataSchema.objects.filter(related_object=resource).delete()
        if not deleted:
            raise NotFound(f"Cannot find metadata schema for {resource}")
        return Response(status=204)

class ApiNotFoundView(APIView):
    """Catch-all for unknown /v1 paths, so they get the JSON error body (and never a slash redirect)."""

    unscoped = "Answers 404 for paths that are not in the API."
    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        raise NotFound(f"No API endpoint at {request.path}")

    post = put = patch = delete = get


class HealthView(APIView):
    """Liveness for load balancers (no auth, no database); `?db=1` also checks the database."""

    unscoped = "Liveness of the service: serves no rows."
    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(tags=["platform"], operation_id="health", summary="Health check",
                   responses=inline_serializer("Health", {"status": serializers.CharField()}))
    def get(self, request):
        if request.query_params.get("db") == "1":
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        return Response({"status": "ok"})

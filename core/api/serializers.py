from rest_framework import serializers

from core.metadata import schema_properties_errors
from core.models import AsyncAction, MetadataSchema


class AsyncActionSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    operation_status = serializers.SerializerMethodField()
    processing_time = serializers.SerializerMethodField()

    class Meta:
        model = AsyncAction
        fields = ["id", "object", "type", "status", "operation_status", "progress", "processed", "total",
                  "result", "request_id", "processing_time", "created_at", "updated_at"]

    def get_object(self, obj) -> str:
        return "async_action"

    def get_operation_status(self, obj) -> str | None:
        return obj.operation_status

    def get_processing_time(self, obj) -> int | None:
        return obj.processing_time_ms


class MetadataSchemaSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    object = serializers.SerializerMethodField()

    class Meta:
        model = MetadataSchema
        fields = ["id", "object", "related_object", "properties", "allow_defined_only", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def get_object(self, obj) -> str:
        return "metadata_schema"

    def validate_properties(self, value):
        errors = schema_properties_errors(value)
        if errors:
            raise serializers.ValidationError(errors)
        return value

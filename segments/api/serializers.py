"""Request and response shapes of /v1/segments and /v1/customers/{id}/segments.

Input serializers check the JSON types (null means "not given"); the filter itself is checked in
segments.filters so that the error names the bad part. Output is built by serialize_* functions; the
Output serializers document it.
"""

from rest_framework import serializers

from core.api.fields import LooseDictField, StrictCharField, optional
from segments.models import Segment

_datetime = serializers.DateTimeField()
SEGMENT_TYPES = "|".join(Segment.Type.values)


def _iso(value) -> str | None:
    return _datetime.to_representation(value) if value is not None else None


class SegmentInputSerializer(serializers.Serializer):
    name = optional(StrictCharField, max_length=255)
    # A pattern rather than an enum: an enum named after the field ("TypeEnum") collides with other apps'.
    type = optional(StrictCharField, help_text=f"One of {SEGMENT_TYPES} (default auto-update).")
    customers = optional(serializers.ListField, child=StrictCharField(max_length=255), max_length=20_000,
                         help_text="Static segments: customer ids or source ids.")
    filter = optional(LooseDictField, help_text="auto-update and passive segments: "
                                                '{"junction": "and", "<field>": {"conditions": {"$op": [values]}}}')


class SegmentOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    type = serializers.CharField(help_text=f"One of {SEGMENT_TYPES}.")
    filter = serializers.DictField(allow_null=True)
    initial_sync_status = serializers.CharField(help_text="IN_PROGRESS or DONE.")
    object = serializers.CharField(default="segment")


class SegmentWithCountOutputSerializer(SegmentOutputSerializer):
    members_count = serializers.IntegerField()


class SegmentListOutputSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data_ref = serializers.CharField(default="segments")
    segments = SegmentWithCountOutputSerializer(many=True)
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()


class SimpleSegmentOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    object = serializers.CharField(default="segment")


class CustomerSegmentsOutputSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data_ref = serializers.CharField(default="data")
    data = SimpleSegmentOutputSerializer(many=True)
    total = serializers.IntegerField()


def serialize_segment(segment: Segment) -> dict:
    body = {
        "id": segment.public_id,
        "name": segment.name,
        "created_at": _iso(segment.created_at),
        "updated_at": _iso(segment.updated_at),
        "type": segment.type,
        "filter": segment.filter if segment.is_dynamic else None,
        "initial_sync_status": segment.initial_sync_status,
        "object": "segment",
    }
    if getattr(segment, "members_count", None) is not None:
        body["members_count"] = segment.members_count
    return body


def serialize_segments(segments) -> list[dict]:
    return [serialize_segment(segment) for segment in segments]


def serialize_customer_segments(segments: list[Segment]) -> dict:
    data = [{"id": segment.public_id, "name": segment.name, "object": "segment"} for segment in segments]
    return {"object": "list", "data_ref": "data", "data": data, "total": len(data)}

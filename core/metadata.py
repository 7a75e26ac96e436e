"""Metadata: free JSON on customers, products, SKUs, orders ..., optionally typed by a schema.

Definitions live in MetadataSchema.properties, e.g.
    {"brand": {"type": "string", "in": ["acme", "zeta"]},
     "weight_g": {"type": "number", "min": 0},
     "tags": {"type": "string", "array": true, "optional": true}}
Keys are optional unless "optional": false. Deleted definitions are ignored.
"""

from core.dates import parse_day, parse_moment
from core.errors import InvalidPayload
from core.models import MetadataSchema

TYPES = {"string", "number", "boolean", "date", "datetime", "object", "geopoint"}


def _is_date(value) -> bool:
    return isinstance(value, str) and parse_day(value) is not None


def _is_datetime(value) -> bool:
    return isinstance(value, str) and parse_moment(value) is not None


def _is_geopoint(value) -> bool:
    if not isinstance(value, dict):
        return False
    lat, lon = value.get("latitude"), value.get("longitude")
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon))
    return numbers and -90 <= lat <= 90 and -180 <= lon <= 180


_TYPE_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "date": _is_date,
    "datetime": _is_datetime,
    "object": lambda v: isinstance(v, dict),
    "geopoint": _is_geopoint,
}


def _value_errors(key: str, value, definition: dict) -> list[str]:
    kind = definition.get("type", "string")
    if not _TYPE_CHECKS[kind](value):
        return [f"metadata.{key} must be of type {kind}"]
    errors = []
    allowed = definition.get("in")
    if allowed and value not in allowed:
        errors.append(f"metadata.{key} must be one of {allowed}")
    if kind == "number":
        if definition.get("min") is not None and value < definition["min"]:
            errors.append(f"metadata.{key} must be at least {definition['min']}")
        if definition.get("max") is not None and value > definition["max"]:
            errors.append(f"metadata.{key} must be at most {definition['max']}")
    if kind == "string":
        for bound, check, text in (("min_length", lambda n: len(value) >= n, "at least"),
                                   ("max_length", lambda n: len(value) <= n, "at most"),
                                   ("exact_length", lambda n: len(value) == n, "exactly")):
            if definition.get(bound) is not None and not check(definition[bound]):
                errors.append(f"metadata.{key} must have {text} {definition[bound]} characters")
    return errors


def metadata_errors(metadata, properties: dict, allow_defined_only: bool) -> list[str]:
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        return ["metadata must be a JSON object"]
    live = {k: d for k, d in properties.items() if not d.get("deleted")}
    errors: list[str] = []
    for key, definition in live.items():
        if key not in metadata or metadata[key] is None:
            if definition.get("optional", True) is False:
                errors.append(f"metadata.{key} is required")
            continue
        value = metadata[key]
        if definition.get("array"):
            if not isinstance(value, list):
                errors.append(f"metadata.{key} must be an array")
                continue
            for item in value:
                errors.extend(_value_errors(key, item, definition))
        else:
            errors.extend(_value_errors(key, value, definition))
    if allow_defined_only:
        errors.extend(f"metadata.{key} is not defined in the schema" for key in metadata if key not in live)
    return errors


def validate_metadata(related_object: str, metadata) -> dict:
    """Return the metadata (as a dict) or raise InvalidPayload listing every problem."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidPayload("metadata must be a JSON object")
    schema = MetadataSchema.objects.filter(related_object=related_object).first()
    if schema is None:
        return metadata
    errors = metadata_errors(metadata, schema.properties, schema.allow_defined_only)
    if errors:
        raise InvalidPayload("; ".join(errors), key="invalid_metadata", message="Invalid metadata")
    return metadata


def schema_properties_errors(properties) -> list[str]:
    """Check a schema definition itself before it is saved."""
    if not isinstance(properties, dict):
        return ["properties must be a JSON object"]
    errors = []
    for key, definition in properties.items():
        if not isinstance(definition, dict):
            errors.append(f"properties.{key} must be an object")
            continue
        if definition.get("type", "string") not in TYPES:
            errors.append(f"properties.{key}.type must be one of {sorted(TYPES)}")
    return errors

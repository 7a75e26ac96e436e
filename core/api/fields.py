"""Serializer fields for the wire rules: money and counts are JSON integers, never floats or strings."""

from rest_framework import serializers

from core.fields import MAX_AMOUNT


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"strict": "Must be a JSON integer (amounts are in minor units, e.g. 1000 for 10.00)."}

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_AMOUNT)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("strict")
        return super().to_internal_value(data)


class LooseDictField(serializers.DictField):
    """A JSON object (metadata and the like), null treated as not given by the caller."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return data


class StrictCharField(serializers.CharField):
    """A JSON string; numbers and booleans are refused rather than turned into text."""

    default_error_messages = {"strict": "Not a valid string."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)  # codes and ids are taken exactly as given
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("strict")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false only (DRF would also take "yes", 1, "on")."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


def optional(field_class, **kwargs):
    """An optional field that also accepts an explicit null: the SDK's from_dict sends them."""
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_null", True)
    return field_class(**kwargs)


class OmittableMethodField(serializers.SerializerMethodField):
    """A computed key the answer leaves out when it has no value (Voucherify omits some keys rather than
    sending null, e.g. a campaign's `promotion`): the schema lists it without making it required.

    drf-spectacular makes every read-only field required in a response; this one is read-only only in
    effect (response serializers are never written through)."""

    def __init__(self, method_name=None, **kwargs):
        super().__init__(method_name, **kwargs)
        self.read_only, self.required = False, False

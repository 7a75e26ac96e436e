"""The API's orjson renderer writes what DRF's own JSONRenderer writes, byte for byte."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer as DRFRenderer

from core.api.renderers import JSONRenderer
from core.jsonfast import dumps

CASES = [
    {"amount": 1000, "total": 10**15, "ok": True, "none": None, "text": 'zł € "quoted" \\ \U0001f600'},
    {"at": datetime(2026, 12, 5, 12, 0, 0, 123456, tzinfo=UTC), "whole": datetime(2026, 12, 5, 12, 0, tzinfo=UTC),
     "warsaw": datetime(2026, 12, 5, 13, 0, tzinfo=timezone(timedelta(hours=1))), "day": date(2026, 12, 5),
     "naive": datetime(2026, 12, 5, 12, 0)},
    {"percent": Decimal("12.50"), "lazy": gettext_lazy("Resource not found"), "id": UUID(int=7)},
    {1: "int key", "nested": [{"a": [1, 2.5, {"b": None}]}, (1, 2)]},
    {"separator": "line\u2028and paragraph\u2029"},
    {"huge": 10**30},  # beyond 64 bits: DRF's renderer takes it
    [],
    "just a string",
]


@pytest.mark.parametrize("data", CASES)
def test_the_same_bytes_as_drf(data):
    assert JSONRenderer().render(data) == DRFRenderer().render(data)


def test_indented_answers_go_through_drf():
    context = {"indent": 2}
    assert JSONRenderer().render({"a": [1]}, renderer_context=context) == DRFRenderer().render(
        {"a": [1]}, renderer_context=context)


def test_nothing_renders_as_nothing():
    assert JSONRenderer().render(None) == b""


def test_fast_dumps_falls_back_for_what_orjson_refuses():
    assert dumps({"a": 10**30, "b": "ż"}) == '{"a":1000000000000000000000000000000,"b":"ż"}'
    assert dumps({"a": [1, None, True]}) == '{"a":[1,null,true]}'

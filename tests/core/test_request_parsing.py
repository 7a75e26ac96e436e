"""One request-parsing layer (core.middleware, core.api.parsers, core.inputs): a NUL character in the
path or the query string, a NUL or lone surrogate in a JSON body or form field, and JSON nested deeper
than API_MAX_JSON_DEPTH are a 400 in the JSON error format, on every operation, before any view runs."""

import json
import re
from functools import cache

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import inputs
from customers.models import Customer
from promo.models import Voucher
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "delete", "patch")


@cache
def _operations() -> list[tuple[str, str, list[str]]]:
    """(method, path template, query parameter names) of every operation in the project's own schema."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [(method, path, [p["name"] for p in op.get("parameters", []) if p["in"] == "query"])
            for path, item in schema["paths"].items() for method, op in item.items() if method in METHODS]


def _call(api, method: str, url: str):
    if method == "get":
        return api.client.get(url, headers=api.headers)
    return api.client.generic(method.upper(), url, b"{}", content_type="application/json", headers=api.headers)


def test_the_schema_has_operations_with_path_and_query_parameters():
    operations = _operations()
    assert len(operations) > 100
    assert sum("{" in path for _, path, _ in operations) > 50 and sum(bool(q) for *_, q in operations) > 30


def test_a_nul_in_any_path_parameter_is_400_on_every_operation(api):
    failures = []
    for method, path, _query in _operations():
        if "{" not in path:
            continue
        response = _call(api, method, re.sub(r"\{[^}]+\}", "x%00", path))
        if response.status_code != 400 or response.json().get("key") != "invalid_characters":
            failures.append((method, path, response.status_code))
    assert not failures


def test_a_nul_in_any_query_parameter_is_400_on_every_operation(api):
    failures = []
    for method, path, query in _operations():
        if not query:
            continue
        url = re.sub(r"\{[^}]+\}", "x", path) + "?" + "&".join(f"{name}=a%00" for name in query)
        response = _call(api, method, url)
        if response.status_code != 400 or response.json().get("key") != "invalid_characters":
            failures.append((method, path, response.status_code))
    assert not failures


def test_a_nul_anywhere_in_the_url_is_a_json_400_with_the_request_id(api):
    body = assert_error(api.get("/v1/vouchers?campaign=a%00b"), 400, "invalid_characters")
    assert "NUL" in body["details"]
    assert_error(api.get("/v1/customers/cust%00"), 400, "invalid_characters")
    assert_error(api.get("/v1/no-such-thing%00"), 400, "invalid_characters")


LONE = '"\\ud800"'  # valid JSON: one high surrogate without its low half


@pytest.mark.parametrize(("path", "raw"), [
    ("/v1/customers", '{"source_id": LONE}'),
    ("/v1/customers", '{"source_id": "ok", "metadata": {"a": LONE}}'),
    ("/v1/customers", '{"source_id": "ok", "metadata": {LONE: 1}}'),
    ("/v1/customers", '{"source_id": "ok", "name": "a\\udc00b"}'),
    ("/v1/vouchers", '{"code": LONE, "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}'),
    ("/v1/validations", '{"redeemables": [{"object": "voucher", "id": LONE}], "order": {"amount": 100}}'),
    ("/v1/redemptions", '{"redeemables": [{"object": "voucher", "id": "X"}], "order": {"amount": 100}, '
                        '"customer": {"source_id": LONE}}'),
    ("/v1/orders", '{"amount": 100, "metadata": {"note": "\\u0000"}}'),
])
def test_lone_surrogates_and_nul_in_json_bodies_are_400(api, path, raw):
    body = assert_error(api.post(path, raw=raw.replace("LONE", LONE)), 400, "invalid_json")
    assert "not allowed" in body["details"]
    assert not Customer.objects.exists() and not Voucher.objects.exists()


def test_a_surrogate_pair_is_one_character_and_welcome(api):
    response = api.post("/v1/customers", raw='{"source_id": "emoji-\\ud83d\\ude00"}')
    assert response.status_code == 201, response.content
    assert Customer.objects.get().source_id == "emoji-\U0001F600"


def _nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def test_metadata_nested_500_deep_is_400(api):
    raw = '{"source_id": "deep", "metadata": ' + _nested(500) + "}"
    body = assert_error(api.post("/v1/customers", raw=raw), 400, "invalid_json")
    assert "nested deeper than 32" in body["details"]
    assert not Customer.objects.exists()


def test_depth_limit_is_a_setting_and_counts_objects_and_arrays(api, settings):
    settings.API_MAX_JSON_DEPTH = 4
    ok = '{"source_id": "d", "metadata": {"a": {"b": [1]}}}'  # 4 levels: body, metadata, a, the list
    assert api.post("/v1/customers", raw=ok).status_code == 201
    too_deep = '{"source_id": "d", "metadata": {"a": {"b": [[1]]}}}'
    assert_error(api.post("/v1/customers", raw=too_deep), 400, "invalid_json")


def test_a_nul_in_a_form_field_is_400(api):
    upload = SimpleUploadedFile("x.csv", b"source_id\nc1\n", content_type="text/csv")
    response = api.client.post("/v1/customers/importCSV", {"file": upload, "note": "a\x00b"}, headers=api.headers)
    assert_error(response, 400, "invalid_characters")


# ---------------------------------------------------------------- properties

# Any code point, lone surrogates and NUL included (hypothesis leaves surrogates out by default).
TEXT = st.text(st.characters(exclude_categories=()))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT.map(lambda t: t[:8]), children,
                                                                       max_size=4),
    max_leaves=20)


@given(JSON_VALUES)
@settings(max_examples=300, deadline=None)
def test_loads_takes_exactly_the_storable_json(value):
    raw = json.dumps(value)  # ensure_ascii: NULs and surrogates travel as \\u escapes
    storable = not any(inputs.unstorable(text) for text in _texts(value))
    try:
        assert inputs.loads(raw) == value and storable
    except ValueError as exc:
        assert not storable, exc


def _texts(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


@given(st.integers(min_value=1, max_value=80))
@settings(max_examples=40, deadline=None)
def test_loads_refuses_exactly_what_is_deeper_than_the_limit(depth):
    raw = "[" * depth + "]" * depth
    if depth <= 32:
        inputs.loads(raw, limit=32)
    else:
        with pytest.raises(ValueError, match="nested deeper"):
            inputs.loads(raw, limit=32)


BODY_TARGETS = ["/v1/customers", "/v1/validations", "/v1/redemptions", "/v1/vouchers", "/v1/campaigns",
                "/v1/qualifications", "/v1/orders", "/v1/products", "/v1/events"]


@given(path=st.sampled_from(BODY_TARGETS), value=JSON_VALUES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_json_body_is_answered_without_a_server_error(api, path, value):
    response = api.post(path, raw=json.dumps(value))
    assert response.status_code < 500, (path, value, response.content[:300])


@given(path=st.sampled_from(BODY_TARGETS), text=TEXT)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_in_the_fields_that_name_things_is_answered_without_a_server_error(api, path, text):
    raw = json.dumps({"source_id": text, "code": text, "name": text, "metadata": {text: text},
                      "customer": {"source_id": text}, "redeemables": [{"object": "voucher", "id": text}]})
    response = api.post(path, raw=raw)
    assert response.status_code < 500, (path, text, response.content[:300])


@given(text=TEXT)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_in_a_path_or_query_is_answered_without_a_server_error(api, text):
    from urllib.parse import quote

    raw = quote(text.encode("utf-8", "surrogatepass"), safe="")  # a client may send any bytes
    for url in (f"/v1/vouchers/{raw}", f"/v1/customers?email={raw}", f"/v1/redemptions?created_at[after]={raw}"):
        response = api.client.get(url, headers=api.headers)
        assert response.status_code < 500, (url, response.content[:300])

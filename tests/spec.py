"""Response conformance against Voucherify's OpenAPI spec (../shared/voucherify/openapi.json)."""

import json
from functools import cache
from pathlib import Path

import pytest
from openapi_schema_validator import OAS30Validator

SPEC_PATH = Path(__file__).resolve().parents[2] / "shared" / "voucherify" / "openapi.json"


@cache
def voucherify_spec() -> dict:
    return json.loads(SPEC_PATH.read_text())


def response_schema(path: str, method: str, status: int) -> dict:
    operation = voucherify_spec()["paths"][path][method.lower()]
    responses = operation["responses"]
    for code in (str(status), f"{str(status)[0]}XX", "default"):
        if code in responses:
            return responses[code]["content"]["application/json"]["schema"]
    raise AssertionError(f"The spec has no {status} response for {method.upper()} {path}")


def assert_matches_spec(response, path: str, method: str) -> dict:
    """Validate a response body against the spec's schema for `method path` (path as in the spec,
    e.g. "/v1/customers/{customerId}"). Returns the body."""
    body = response.json()
    assert response.status_code < 300, f"{method.upper()} {path} answered {response.status_code}: {body}"
    spec = voucherify_spec()
    schema = {"allOf": [response_schema(path, method, response.status_code)], "components": spec["components"]}
    errors = sorted(OAS30Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    if errors:
        lines = [f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message[:300]}" for e in errors[:10]]
        raise AssertionError(f"{method.upper()} {path} does not match the spec:\n" + "\n".join(lines))
    return body


@pytest.fixture(scope="session")
def spec() -> dict:
    if not SPEC_PATH.exists():
        pytest.fail(f"Voucherify spec not found at {SPEC_PATH}: check out ../shared beside the repository")
    return voucherify_spec()

"""Input that databases choke on (NUL characters, infinite or huge numbers) is a 400, never a 500,
on SQLite and PostgreSQL alike."""

import pytest

from catalog.models import Product, ProductCollection
from tests.catalog.factories import ProductFactory
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db

FILTER = '{"name": "x", "type": "AUTO_UPDATE", "filter": {"junction": "and", %s}}'


def _expected_key(raw: str) -> str:
    """Infinite numbers and NUL characters are refused by the JSON parser itself; the rest by validation."""
    return "invalid_json" if "1e400" in raw or "\\u0000" in raw else "invalid_payload"


@pytest.mark.parametrize("raw", [
    '{"name": "x", "metadata": {"x": 1e400}}',
    '{"name": "x", "metadata": {"x": "a\\u0000b"}}',
    '{"name": "x", "metadata": {"a\\u0000": 1}}',
    '{"name": "a\\u0000b"}',
    '{"name": "x", "attributes": ["a\\u0000"]}',
    '{"name": "x", "source_id": "a\\u0000"}',
    '{"name": "x", "price": 1e400}',
    '{"name": "x", "price": 123456789012345678901234567890}',
])
def test_hostile_products_are_400(api, raw):
    assert_error(api.post("/v1/products", raw=raw), 400, _expected_key(raw))
    assert not Product.objects.exists()


@pytest.mark.parametrize("raw", [
    '{"metadata": {"x": -1e400}}',
    '{"attributes": {"size": "M\\u0000"}}',
    '{"currency": "U\\u0000D"}',
])
def test_hostile_skus_are_400(api, raw):
    product = ProductFactory(attributes=["size"])
    assert_error(api.post(f"/v1/products/{product.public_id}/skus", raw=raw), 400, _expected_key(raw))


@pytest.mark.parametrize("condition", [
    '"price": {"conditions": {"$more_than": [1e400]}}',
    '"price": {"conditions": {"$more_than": [123456789012345678901234567890]}}',
    '"metadata.w": {"conditions": {"$more_than": [123456789012345678901234567890]}}',
    '"metadata.w": {"conditions": {"$is": ["a\\u0000"]}}',
    '"name": {"conditions": {"$contains": ["a\\u0000"]}}',
    '"metadata.a\\u0000": {"conditions": {"$is": ["a"]}}',
    '"created_at": {"conditions": {"$more_than": [99999999999]}}',
    '"skus": {"conditions": {"$count": [-1]}}',
    '"object": {"conditions": {"$is": [["product"]]}}',
])
def test_hostile_filters_are_400(api, condition):
    raw = FILTER % condition
    assert_error(api.post("/v1/product-collections", raw=raw), 400, _expected_key(raw))
    assert not ProductCollection.objects.exists()


def test_csv_with_nul_bytes_is_400(api):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("x.csv", b"name\nA\x00B\n", content_type="text/csv")
    body = assert_error(api.client.post("/v1/products/importCSV", {"file": upload}, headers=api.headers),
                        400, "invalid_csv")
    assert "NUL" in body["details"]

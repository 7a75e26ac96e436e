"""SKUs over HTTP: /v1/products/{productId}/skus[/{skuId}] and /v1/skus/{skuId}."""

import pytest

from catalog.models import Sku
from core.models import MetadataSchema
from tests.catalog.factories import ProductFactory, SkuFactory
from tests.conftest import assert_error
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

SKUS = "/v1/products/{productId}/skus"
SKU = "/v1/products/{productId}/skus/{skuId}"


@pytest.fixture
def product():
    return ProductFactory(source_id="tee", attributes=["color", "size"])


def test_create_sku_returns_the_spec_shape(api, product):
    response = api.post(f"/v1/products/{product.public_id}/skus", {
        "sku": "Red M tee", "source_id": "tee-red-m", "price": 2100, "currency": "usd",
        "attributes": {"color": "red", "size": "M"}, "metadata": {"stock": 3},
        "image_url": "https://img.example.com/red.png"})
    assert response.status_code == 201, response.content
    body = assert_matches_spec(response, SKUS, "post")
    assert body["id"].startswith("sku_")
    assert (body["object"], body["product_id"], body["sku"]) == ("sku", product.public_id, "Red M tee")
    assert (body["price"], body["currency"], body["attributes"]) == (2100, "USD", {"color": "red", "size": "M"})
    assert Sku.objects.get(public_id=body["id"]).product_id == product.pk


def test_create_via_product_source_id_and_upsert_by_source_id(api, product):
    first = api.post("/v1/products/tee/skus", {"source_id": "tee-s", "sku": "S", "price": 100}).json()
    response = api.post("/v1/products/tee/skus", {"source_id": "tee-s", "price": 150, "sku": None})
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["sku"], body["price"]) == (first["id"], "S", 150)
    assert Sku.objects.count() == 1


def test_upsert_of_a_sku_of_another_product_is_409(api, product):
    SkuFactory(source_id="elsewhere")
    assert_error(api.post(f"/v1/products/{product.public_id}/skus", {"source_id": "elsewhere"}),
                 409, "duplicate_found")


def test_attributes_must_be_declared_by_the_product(api, product):
    body = assert_error(api.post(f"/v1/products/{product.public_id}/skus",
                                 {"sku": "x", "attributes": {"color": "red", "material": "wool"}}),
                        400, "invalid_payload")
    assert "material" in body["details"] and "color" not in body["details"].split("declared")[0]
    assert not Sku.objects.exists()


@pytest.mark.parametrize("payload", [
    {"price": 9.99}, {"price": "999"}, {"price": False}, {"currency": "dollars"}, {"attributes": ["red"]},
    {"attributes": {"color": {"nested": 1}}}, {"metadata": "x"}, {"image_url": "ftp://x"},
])
def test_bad_sku_input_is_refused(api, product, payload):
    assert_error(api.post(f"/v1/products/{product.public_id}/skus", payload), 400, "invalid_payload")
    assert not Sku.objects.exists()


def test_sku_metadata_schema_is_enforced(api, product):
    MetadataSchema.objects.create(related_object="sku", properties={"stock": {"type": "number"}},
                                  allow_defined_only=True)
    body = assert_error(api.post(f"/v1/products/{product.public_id}/skus",
                                 {"metadata": {"stock": "many", "color": "red"}}), 400, "invalid_metadata")
    assert "metadata.stock must be of type number" in body["details"]
    assert "metadata.color is not defined" in body["details"]


def test_create_for_unknown_product_is_404(api):
    assert_error(api.post("/v1/products/nope/skus", {"sku": "x"}), 404, "not_found")


def test_get_sku_by_id_and_source_id(api, product):
    sku = SkuFactory(product=product, source_id="tee-l", attributes={"size": "L"})
    for ref in (sku.public_id, "tee-l"):
        response = api.get(f"/v1/skus/{ref}")
        body = assert_matches_spec(response, "/v1/skus/{skuId}", "get")
        assert (body["id"], body["product_id"], body["attributes"]) == (sku.public_id, product.public_id,
                                                                        {"size": "L"})
    assert_error(api.get("/v1/skus/sku_missing"), 404, "not_found")


def test_list_skus_of_a_product(api, product):
    skus = SkuFactory.create_batch(3, product=product)
    SkuFactory()  # another product's
    response = api.get(f"/v1/products/{product.public_id}/skus", limit=2, order="created_at")
    body = assert_matches_spec(response, SKUS, "get")
    assert (body["object"], body["data_ref"], body["total"]) == ("list", "skus", 3)
    assert [s["id"] for s in body["skus"]] == [skus[0].public_id, skus[1].public_id]
    assert_error(api.get("/v1/products/nope/skus"), 404, "not_found")


def test_update_sku(api, product):
    sku = SkuFactory(product=product, source_id="tee-m", price=100, attributes={"size": "M"})
    response = api.put("/v1/products/tee/skus/tee-m", {"price": 300, "attributes": {"size": "L"},
                                                         "source_id": "ignored"})
    body = assert_matches_spec(response, SKU, "put")
    assert (body["price"], body["attributes"], body["source_id"]) == (300, {"size": "L"}, "tee-m")
    sku.refresh_from_db()
    assert sku.price == 300


def test_update_refuses_bad_input_and_foreign_skus(api, product):
    sku = SkuFactory(product=product, price=100)
    assert_error(api.put(f"/v1/products/{product.public_id}/skus/{sku.public_id}", {"price": 1.5}),
                 400, "invalid_payload")
    assert_error(api.put(f"/v1/products/{product.public_id}/skus/{sku.public_id}",
                         {"attributes": {"weight": 1}}), 400, "invalid_payload")
    other = SkuFactory()
    assert_error(api.put(f"/v1/products/{product.public_id}/skus/{other.public_id}", {"price": 1}),
                 404, "not_found")
    sku.refresh_from_db()
    assert sku.price == 100


def test_delete_sku(api, product):
    sku = SkuFactory(product=product)
    other = SkuFactory()
    assert_error(api.delete(f"/v1/products/{product.public_id}/skus/{other.public_id}"), 404, "not_found")
    assert api.delete(f"/v1/products/{product.public_id}/skus/{sku.public_id}", force="true").status_code == 204
    assert not Sku.objects.filter(pk=sku.pk).exists()
    assert Sku.objects.filter(pk=other.pk).exists()

"""Products over HTTP: /v1/products and /v1/products/{productId}."""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import Product, ProductCollectionItem, Sku
from core.models import MetadataSchema
from customers.models import OrderItem
from tests.catalog.factories import CollectionItemFactory, ProductFactory, SkuFactory
from tests.conftest import assert_error
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

PRODUCTS = "/v1/products"
PRODUCT = "/v1/products/{productId}"


def test_create_product_returns_the_spec_shape(api):
    response = api.post(PRODUCTS, {"name": "T-shirt", "source_id": "tee-1", "price": 1999,
                                   "attributes": ["color", "size"], "metadata": {"brand": "Acme"},
                                   "image_url": "https://img.example.com/tee.png"})
    assert response.status_code == 201, response.content
    body = assert_matches_spec(response, PRODUCTS, "post")
    assert body["id"].startswith("prod_")
    assert body["object"] == "product"
    assert (body["name"], body["source_id"], body["price"]) == ("T-shirt", "tee-1", 1999)
    assert body["attributes"] == ["color", "size"]
    assert body["metadata"] == {"brand": "Acme"}
    assert body["image_url"] == "https://img.example.com/tee.png"
    assert body["skus"] == {"object": "list", "data_ref": "data", "data": [], "total": 0}
    assert body["created_at"] and body["updated_at"]
    assert Product.objects.get(public_id=body["id"]).price == 1999


def test_post_with_existing_source_id_updates_that_product(api):
    first = api.post(PRODUCTS, {"source_id": "tee-1", "name": "T-shirt", "price": 1000}).json()
    response = api.post(PRODUCTS, {"source_id": "tee-1", "price": 1500, "name": None})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == first["id"]
    assert (body["name"], body["price"]) == ("T-shirt", 1500)
    assert Product.objects.count() == 1


def test_post_with_existing_id_updates_and_can_set_source_id(api):
    product = ProductFactory(source_id=None, name="Old")
    response = api.post(PRODUCTS, {"id": product.public_id, "name": "New", "source_id": "new-src"})
    assert response.status_code == 200
    product.refresh_from_db()
    assert (product.name, product.source_id) == ("New", "new-src")


def test_post_with_unknown_id_is_404(api):
    assert_error(api.post(PRODUCTS, {"id": "prod_nope", "name": "x"}), 404, "not_found")


def test_post_moving_to_a_taken_source_id_is_409(api):
    ProductFactory(source_id="taken")
    product = ProductFactory(source_id="mine")
    body = assert_error(api.post(PRODUCTS, {"id": product.public_id, "source_id": "taken"}), 409, "duplicate_found")
    assert "taken" in body["details"]


def test_null_fields_from_the_sdk_are_not_given(api):
    response = api.post(PRODUCTS, {"id": None, "source_id": None, "name": "Plain", "price": None,
                                   "attributes": None, "metadata": None, "image_url": None})
    assert response.status_code == 201
    body = response.json()
    assert (body["source_id"], body["price"], body["attributes"], body["metadata"], body["image_url"]) == (
        None, None, [], {}, None)


@pytest.mark.parametrize("price", [10.5, 1000.0, "1000", True, -1])
def test_bad_prices_are_refused(api, price):
    body = assert_error(api.post(PRODUCTS, {"name": "x", "price": price}), 400, "invalid_payload")
    assert "price" in body["details"]
    assert not Product.objects.exists()


@pytest.mark.parametrize("payload, field", [
    ({"attributes": "color"}, "attributes"),
    ({"attributes": [{"a": 1}]}, "attributes"),
    ({"metadata": ["x"]}, "metadata"),
    ({"image_url": "not a url"}, "image_url"),
    ({"name": "x" * 256}, "name"),
])
def test_wrong_types_are_refused(api, payload, field):
    body = assert_error(api.post(PRODUCTS, payload), 400, "invalid_payload")
    assert field in body["details"]


def test_malformed_json_and_non_object_bodies(api):
    assert_error(api.post(PRODUCTS, raw="{not json"), 400, "invalid_json")
    assert_error(api.post(PRODUCTS, [1, 2]), 400, "invalid_payload")


def test_metadata_schema_is_enforced(api):
    MetadataSchema.objects.create(related_object="product", properties={
        "brand": {"type": "string", "optional": False}, "weight_g": {"type": "number", "min": 0}})
    body = assert_error(api.post(PRODUCTS, {"name": "x", "metadata": {"weight_g": -5}}), 400, "invalid_metadata")
    assert "metadata.brand is required" in body["details"]
    assert "metadata.weight_g must be at least 0" in body["details"]
    assert_error(api.post(PRODUCTS, {"name": "x"}), 400, "invalid_metadata")
    assert api.post(PRODUCTS, {"name": "x", "metadata": {"brand": "Acme", "weight_g": 100}}).status_code == 201


def test_get_by_public_id_and_by_source_id_with_skus(api):
    product = ProductFactory(source_id="tee-1", attributes=["size"])
    sku = SkuFactory(product=product, attributes={"size": "M"})
    for ref in (product.public_id, "tee-1"):
        response = api.get(f"/v1/products/{ref}")
        assert response.status_code == 200
        body = assert_matches_spec(response, PRODUCT, "get")
        assert body["id"] == product.public_id
        assert body["skus"]["total"] == 1
        assert body["skus"]["data"][0]["id"] == sku.public_id
        assert body["skus"]["data"][0]["product_id"] == product.public_id
        assert body["skus"]["data"][0]["attributes"] == {"size": "M"}


def test_unknown_product_is_404(api):
    body = assert_error(api.get("/v1/products/prod_missing"), 404, "not_found")
    assert "prod_missing" in body["details"]
    assert_error(api.put("/v1/products/nope", {"name": "x"}), 404, "not_found")
    assert_error(api.delete("/v1/products/nope"), 404, "not_found")


def test_update_changes_only_given_fields_and_skips_source_id(api):
    product = ProductFactory(source_id="tee-1", name="Tee", price=1000, metadata={"brand": "Acme"})
    response = api.put(f"/v1/products/{product.public_id}", {"price": 1200, "source_id": "hijack", "name": None})
    assert response.status_code == 200
    body = assert_matches_spec(response, PRODUCT, "put")
    assert (body["name"], body["price"], body["source_id"], body["metadata"]) == ("Tee", 1200, "tee-1",
                                                                                  {"brand": "Acme"})


def test_update_refuses_float_price(api):
    product = ProductFactory(price=1000)
    assert_error(api.put(f"/v1/products/{product.public_id}", {"price": 12.5}), 400, "invalid_payload")
    product.refresh_from_db()
    assert product.price == 1000


def test_list_paginates_with_total_and_order(api):
    products = [ProductFactory() for _ in range(3)]
    response = api.get(PRODUCTS, limit=2)
    body = assert_matches_spec(response, PRODUCTS, "get")
    assert (body["object"], body["data_ref"], body["total"]) == ("list", "products", 3)
    assert [p["id"] for p in body["products"]] == [products[2].public_id, products[1].public_id]
    assert body["has_more"] is True
    second = api.get(PRODUCTS, limit=2, page=2).json()
    assert [p["id"] for p in second["products"]] == [products[0].public_id]
    ascending = api.get(PRODUCTS, order="created_at").json()
    assert [p["id"] for p in ascending["products"]] == [p.public_id for p in products]


def test_list_filters_by_creation_dates(api):
    old = ProductFactory()
    Product.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    new = ProductFactory()
    since = (timezone.now() - timedelta(days=1)).isoformat()
    body = api.get(PRODUCTS, start_date=since).json()
    assert [p["id"] for p in body["products"]] == [new.public_id]
    body = api.get(PRODUCTS, end_date=since).json()
    assert [p["id"] for p in body["products"]] == [old.public_id]


@pytest.mark.parametrize("params", [{"order": "code"}, {"limit": 0}, {"limit": "ten"}, {"start_date": "yesterday"}])
def test_list_rejects_bad_parameters(api, params):
    assert_error(api.get(PRODUCTS, **params), 400, "invalid_payload")


def test_list_embeds_skus_without_n_plus_one(api, django_assert_max_num_queries):
    for _ in range(5):
        SkuFactory.create_batch(2, product=ProductFactory(attributes=[]))
    with django_assert_max_num_queries(6):
        body = api.get(PRODUCTS, limit=100).json()
    assert [p["skus"]["total"] for p in body["products"]] == [2] * 5


def test_delete_removes_product_and_skus_but_keeps_order_items(api):
    product = ProductFactory()
    sku = SkuFactory(product=product)
    CollectionItemFactory(product=product)
    item = OrderItem.objects.create(order=_order(), product=product, sku=sku, quantity=1, price=1000,
                                    product_snapshot={"name": product.name})
    assert api.delete(f"/v1/products/{product.public_id}", force="true").status_code == 204
    assert not Product.objects.filter(pk=product.pk).exists()
    assert not Sku.objects.filter(pk=sku.pk).exists()
    assert not ProductCollectionItem.objects.exists()
    item.refresh_from_db()
    assert (item.product_id, item.sku_id, item.product_snapshot) == (None, None, {"name": product.name})


def test_delete_without_force_also_frees_the_source_id(api):
    product = ProductFactory(source_id="reuse-me")
    assert api.delete(f"/v1/products/{product.public_id}").status_code == 204
    assert api.post(PRODUCTS, {"source_id": "reuse-me", "name": "again"}).status_code == 201


def test_delete_rejects_a_non_boolean_force(api):
    product = ProductFactory()
    assert_error(api.delete(f"/v1/products/{product.public_id}", force="maybe"), 400, "invalid_payload")
    assert Product.objects.filter(pk=product.pk).exists()


def test_read_only_key_cannot_create(db):
    from core import services as core_services
    from tests.conftest import JsonClient

    issued = core_services.api_key_create(name="reader", scope="read_only")
    client = JsonClient({"X-App-Id": issued.app_id, "X-App-Token": issued.app_token})
    assert client.get(PRODUCTS).status_code == 200
    assert_error(client.post(PRODUCTS, {"name": "x"}), 403, "forbidden")


def _order():
    from customers.models import Order

    return Order.objects.create(amount=1000)

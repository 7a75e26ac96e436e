"""Product collections over HTTP: /v1/product-collections[/{id}[/products]]."""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import Product, ProductCollection, ProductCollectionItem
from tests.catalog.factories import CollectionFactory, ProductFactory, SkuFactory
from tests.conftest import assert_error
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db

COLLECTIONS = "/v1/product-collections"
COLLECTION = "/v1/product-collections/{productCollectionId}"
MEMBERS = "/v1/product-collections/{productCollectionId}/products"
ACME = {"junction": "and", "metadata.brand": {"conditions": {"$is": ["Acme"]}}}


@pytest.fixture
def shoes():
    runner = ProductFactory(source_id="runner", name="Runner", price=5000, attributes=["size"],
                            metadata={"brand": "Acme"})
    boot = ProductFactory(source_id="boot", name="Boot", price=9000, attributes=["size"], metadata={"brand": "Zeta"})
    boot_42 = SkuFactory(product=boot, source_id="boot-42", attributes={"size": "42"})
    return runner, boot, boot_42


def test_create_static_collection(api, shoes):
    runner, boot, boot_42 = shoes
    response = api.post(COLLECTIONS, {"name": "Picks", "type": "STATIC", "products": [
        {"id": "runner", "object": "product"},
        {"id": boot_42.public_id, "object": "sku", "product_id": boot.public_id},
        {"id": runner.public_id, "object": "product"},  # the same product twice is stored once
    ]})
    assert response.status_code == 201, response.content
    body = assert_matches_spec(response, COLLECTIONS, "post")
    assert body["id"].startswith("pc_")
    assert (body["object"], body["type"], body["name"]) == ("products_collection", "STATIC", "Picks")
    assert body["products"] == [{"id": runner.public_id, "object": "product"},
                                {"id": boot_42.public_id, "product_id": boot.public_id, "object": "sku"}]
    assert ProductCollectionItem.objects.count() == 2


def test_static_collection_with_unknown_ids_is_404_naming_them(api, shoes):
    body = assert_error(api.post(COLLECTIONS, {"name": "x", "products": [
        {"id": "runner", "object": "product"}, {"id": "ghost", "object": "product"},
        {"id": "sku_ghost", "object": "sku"}]}), 404, "not_found")
    assert "ghost" in body["details"]
    assert not ProductCollection.objects.exists()


def test_static_collection_checks_item_shapes(api, shoes):
    runner, boot, boot_42 = shoes
    body = assert_error(api.post(COLLECTIONS, {"name": "x", "products": [
        {"id": boot_42.public_id, "object": "sku", "product_id": runner.public_id}]}), 400, "invalid_payload")
    assert "product_id" in body["details"]
    assert_error(api.post(COLLECTIONS, {"name": "x", "products": [{"id": "runner", "object": "voucher"}]}),
                 400, "invalid_payload")
    assert_error(api.post(COLLECTIONS, {"name": "x", "products": [{"object": "product"}]}), 400, "invalid_payload")
    assert_error(api.post(COLLECTIONS, {"name": "x", "products": "runner"}), 400, "invalid_payload")


def test_create_auto_update_collection(api, shoes):
    response = api.post(COLLECTIONS, {"name": "Acme", "type": "AUTO_UPDATE", "filter": ACME})
    assert response.status_code == 201, response.content
    body = assert_matches_spec(response, COLLECTIONS, "post")
    assert body["type"] == "AUTO_UPDATE"
    assert body["filter"] == ACME
    assert "products" not in body


@pytest.mark.parametrize("payload, named", [
    ({"name": "x", "type": "AUTO_UPDATE", "filter": {"junction": "and",
                                                     "price": {"conditions": {"$approximately": [1]}}}},
     "$approximately"),
    ({"name": "x", "type": "AUTO_UPDATE", "filter": {"junction": "and", "colour": {"conditions": {"$is": ["r"]}}}},
     "colour"),
    ({"name": "x", "type": "AUTO_UPDATE", "filter": {"price": {"conditions": {"$is": [1]}}}}, "junction"),
    ({"name": "x", "type": "AUTO_UPDATE"}, "filter"),
    ({"name": "x", "type": "AUTO_UPDATE", "filter": ACME, "products": [{"id": "runner", "object": "product"}]},
     "products"),
    ({"name": "x", "type": "STATIC", "filter": ACME}, "filter"),
    ({"type": "STATIC"}, "name"),
    ({"name": "x", "type": "DYNAMIC"}, "type"),
    ({"name": "x", "type": "AUTO_UPDATE", "filter": "brand=Acme"}, "filter"),
])
def test_bad_collections_are_refused_with_the_reason(api, shoes, payload, named):
    body = assert_error(api.post(COLLECTIONS, payload), 400, "invalid_payload")
    assert named in body["details"]
    assert not ProductCollection.objects.exists()


def test_malformed_json_is_refused(api):
    assert_error(api.post(COLLECTIONS, raw='{"name": "x",'), 400, "invalid_json")


def test_get_list_and_delete(api, shoes):
    static = api.post(COLLECTIONS, {"name": "Picks", "products": [{"id": "runner", "object": "product"}]}).json()
    auto = api.post(COLLECTIONS, {"name": "Acme", "type": "AUTO_UPDATE", "filter": ACME}).json()
    got = assert_matches_spec(api.get(f"{COLLECTIONS}/{static['id']}"), COLLECTION, "get")
    assert got == static
    listed = assert_matches_spec(api.get(COLLECTIONS, limit=10), COLLECTIONS, "get")
    assert (listed["object"], listed["data_ref"], listed["total"]) == ("list", "data", 2)
    assert [c["id"] for c in listed["data"]] == [auto["id"], static["id"]]
    assert api.delete(f"{COLLECTIONS}/{static['id']}").status_code == 204
    assert_error(api.get(f"{COLLECTIONS}/{static['id']}"), 404, "not_found")
    assert_error(api.delete(f"{COLLECTIONS}/{static['id']}"), 404, "not_found")
    assert Product.objects.count() == 2  # members are not deleted with the collection


def test_unknown_collection_is_404(api):
    assert_error(api.get(f"{COLLECTIONS}/pc_nope"), 404, "not_found")
    assert_error(api.get(f"{COLLECTIONS}/pc_nope/products"), 404, "not_found")


def test_static_collection_products_list_products_and_skus(api, shoes):
    runner, boot, boot_42 = shoes
    collection = api.post(COLLECTIONS, {"name": "Picks", "products": [
        {"id": "runner", "object": "product"}, {"id": "boot-42", "object": "sku"}]}).json()
    response = api.get(f"{COLLECTIONS}/{collection['id']}/products", order="created_at")
    body = assert_matches_spec(response, MEMBERS, "get")
    assert (body["object"], body["data_ref"], body["total"]) == ("list", "data", 2)
    product_row, sku_row = body["data"]
    assert (product_row["object"], product_row["id"], product_row["price"]) == ("product", runner.public_id, 5000)
    assert (sku_row["object"], sku_row["id"], sku_row["product_id"]) == ("sku", boot_42.public_id, boot.public_id)
    assert sku_row["product"]["id"] == boot.public_id
    assert "attributes" not in sku_row  # the spec types it as a list of names


def test_auto_update_collection_products_follow_the_catalog(api, shoes):
    runner, boot, boot_42 = shoes
    collection = api.post(COLLECTIONS, {"name": "Acme", "type": "AUTO_UPDATE", "filter": ACME}).json()
    path = f"{COLLECTIONS}/{collection['id']}/products"
    body = assert_matches_spec(api.get(path), MEMBERS, "get")
    assert [row["id"] for row in body["data"]] == [runner.public_id]
    api.put("/v1/products/boot", {"metadata": {"brand": "Acme"}})
    body = api.get(path, order="created_at").json()
    assert [row["id"] for row in body["data"]] == [runner.public_id, boot.public_id]


def test_collection_products_pagination_and_cursor(api):
    products = ProductFactory.create_batch(3, metadata={"brand": "Acme"})
    for index, product in enumerate(products):
        Product.objects.filter(pk=product.pk).update(created_at=timezone.now() - timedelta(hours=3 - index))
    collection = CollectionFactory(type="AUTO_UPDATE", filter=ACME)
    path = f"{COLLECTIONS}/{collection.public_id}/products"
    page = api.get(path, limit=2, order="created_at").json()
    assert [row["id"] for row in page["data"]] == [products[0].public_id, products[1].public_id]
    assert (page["total"], page["has_more"]) == (3, True)
    cursor = page["data"][-1]["created_at"]
    after = api.get(path, order="created_at", starting_after=cursor).json()
    assert [row["id"] for row in after["data"]] == [products[2].public_id]
    assert_error(api.get(path, starting_after="not-a-date"), 400, "invalid_payload")

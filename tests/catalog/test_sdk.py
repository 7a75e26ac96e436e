"""The official Python SDK (voucherify 6.1.1) against a live server: products, SKUs, collections."""

import time

import pytest
import voucherify as v
from voucherify.exceptions import BadRequestException, NotFoundException

pytestmark = pytest.mark.django_db(transaction=True)


def test_products_and_skus_round_trip(sdk_client):
    products = v.ProductsApi(sdk_client)
    created = products.create_product(v.ProductsCreateRequestBody(
        source_id="sdk-tee", name="SDK Tee", price=1999, attributes=["color", "size"],
        metadata={"brand": "Acme"}, image_url="https://img.example.com/tee.png"))
    assert created.id.startswith("prod_") and created.price == 1999
    assert created.skus.total == 0

    sku = products.create_sku(created.id, v.ProductsSkusCreateRequestBody(
        source_id="sdk-tee-red", sku="Red", price=2099, currency="USD", attributes={"color": "red"}))
    assert sku.product_id == created.id and sku.attributes == {"color": "red"}
    assert products.get_sku("sdk-tee-red").id == sku.id

    fetched = products.get_product("sdk-tee")
    assert fetched.id == created.id and fetched.metadata == {"brand": "Acme"}
    assert fetched.skus.total == 1 and fetched.skus.data[0].id == sku.id

    updated = products.update_product(created.id, v.ProductsUpdateRequestBody(price=2500, name="SDK Tee 2"))
    assert (updated.price, updated.name, updated.source_id) == (2500, "SDK Tee 2", "sdk-tee")
    sku_updated = products.update_sku(created.id, sku.id, v.ProductsSkusUpdateRequestBody(price=2199))
    assert sku_updated.price == 2199

    listed = products.list_products(limit=10)
    assert listed.total == 1 and listed.products[0].id == created.id
    assert products.list_skus_in_product(created.id).skus[0].id == sku.id

    # Upsert via from_dict: explicit nulls for everything unset.
    again = products.create_product(v.ProductsCreateRequestBody.from_dict({"source_id": "sdk-tee", "price": 100}))
    assert again.id == created.id and again.price == 100 and again.name == "SDK Tee 2"

    products.delete_product(created.id, force=True)
    with pytest.raises(NotFoundException):
        products.get_product(created.id)
    with pytest.raises(NotFoundException):
        products.get_sku(sku.id)


def test_invalid_product_is_a_bad_request_for_the_sdk(sdk_client):
    api = v.ProductsApi(sdk_client)
    with pytest.raises(BadRequestException):
        api.create_product(v.ProductsCreateRequestBody(name="x", metadata={"brand": 1}, attributes=["a"],
                                                       image_url="not a url"))


def test_product_collections(sdk_client):
    products = v.ProductsApi(sdk_client)
    cheap = products.create_product(v.ProductsCreateRequestBody(source_id="cheap", name="Cheap", price=500,
                                                                metadata={"brand": "Zeta"}))
    dear = products.create_product(v.ProductsCreateRequestBody(source_id="dear", name="Dear", price=9000,
                                                               attributes=["size"], metadata={"brand": "Acme"}))
    dear_sku = products.create_sku(dear.id, v.ProductsSkusCreateRequestBody(source_id="dear-l",
                                                                            attributes={"size": "L"}))
    collections = v.ProductCollectionsApi(sdk_client)

    static = collections.create_product_collection(v.ProductCollectionsCreateRequestBody(
        type="STATIC", name="Picks", products=[
            v.ProductCollectionsCreateRequestBodyProductsItem(id=cheap.id, object="product"),
            v.ProductCollectionsCreateRequestBodyProductsItem(id=dear_sku.id, product_id=dear.id, object="sku")]))
    assert static.id.startswith("pc_") and static.type == "STATIC"
    assert [item.id for item in static.products] == [cheap.id, dear_sku.id]

    time.sleep(0.002)  # distinct created_at for the list order below
    auto = collections.create_product_collection(v.ProductCollectionsCreateRequestBody(
        type="AUTO_UPDATE", name="Premium Acme", filter={
            "junction": "and", "price": {"conditions": {"$more_than": [1000]}},
            "metadata.brand": {"conditions": {"$is": ["Acme"]}}}))
    assert auto.type == "AUTO_UPDATE" and auto.filter["junction"] == "and"

    listed = collections.list_product_collections(limit=10)
    assert listed.total == 2 and [c.id for c in listed.data] == [auto.id, static.id]
    assert collections.get_product_collection(static.id).name == "Picks"

    members = collections.list_products_in_collection(static.id, limit=10)
    assert members.total == 2
    by_id = {row.id: row for row in members.data}
    assert by_id[cheap.id].object == "product"
    assert by_id[dear_sku.id].object == "sku" and by_id[dear_sku.id].product.id == dear.id

    dynamic = collections.list_products_in_collection(auto.id)
    assert [row.id for row in dynamic.data] == [dear.id]

    with pytest.raises(BadRequestException):
        collections.create_product_collection(v.ProductCollectionsCreateRequestBody(
            type="AUTO_UPDATE", name="Bad", filter={"junction": "and", "price": {"conditions": {"$nearly": [1]}}}))
    collections.delete_product_collection(static.id)
    with pytest.raises(NotFoundException):
        collections.get_product_collection(static.id)


def test_csv_import_through_the_sdk(sdk_client):
    products = v.ProductsApi(sdk_client)
    answer = products.import_products_using_csv(file=b"name,source_id,price,brand\nImported,imp-1,700,Acme\n")
    assert answer.async_action_id.startswith("aa_")
    action = v.AsyncActionsApi(sdk_client).get_async_action(answer.async_action_id)
    assert action.status == "DONE"
    assert products.get_product("imp-1").metadata == {"brand": "Acme"}
    skus = products.import_skus_using_csv(file=b"product_id,source_id,sku,price\nimp-1,imp-1-a,A,750\n")
    assert v.AsyncActionsApi(sdk_client).get_async_action(skus.async_action_id).status == "DONE"
    assert products.get_sku("imp-1-a").price == 750

"""HTTP tests of /v1/orders: upsert by source_id, items and catalog references, customers, bad input."""

import pytest

from catalog.models import Product, Sku
from core.models import MetadataSchema
from customers.models import Customer, Order, OrderItem
from tests.conftest import assert_error
from tests.customers.factories import CustomerFactory
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db


def order_body(**overrides) -> dict:
    body = {
        "source_id": "web-1001", "status": "PAID", "customer": {"source_id": "shopper-1", "name": "Sam"},
        "items": [{"source_id": "sku-red", "related_object": "sku", "quantity": 2, "price": 1500},
                  {"product_id": "prod-hat", "quantity": 1, "amount": 700}],
        "metadata": {"channel": "web"},
    }
    body.update(overrides)
    return body


def test_create_computes_amounts_and_answers_in_the_spec_shape(api):
    response = api.post("/v1/orders", order_body())
    assert response.status_code == 201
    body = assert_matches_spec(response, "/v1/orders", "post")
    assert body["id"].startswith("ord_") and body["object"] == "order" and body["status"] == "PAID"
    assert body["amount"] == 3700 and body["total_amount"] == 3700 and body["initial_amount"] == 3700
    assert body["discount_amount"] == 0 and body["total_discount_amount"] == 0
    assert [item["amount"] for item in body["items"]] == [3000, 700]
    assert body["items"][0]["price"] == 1500 and body["items"][0]["subtotal_amount"] == 3000
    assert body["items"][0]["object"] == "order_item" and body["items"][0]["related_object"] == "sku"
    customer = Customer.objects.get(source_id="shopper-1")
    assert body["customer"] == {"id": customer.public_id, "object": "customer"}
    assert body["customer_id"] == customer.public_id and "referrer" not in body
    assert customer.name == "Sam" and body["metadata"] == {"channel": "web"}


def test_resending_an_order_updates_it_and_counts_once(api):
    first = api.post("/v1/orders", order_body()).json()
    again = api.post("/v1/orders", order_body())
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert Order.objects.count() == 1 and OrderItem.objects.count() == 2
    customer = Customer.objects.get(source_id="shopper-1")
    assert (customer.orders_total_count, customer.orders_total_amount) == (1, 3700)


def test_amount_given_is_kept_and_items_default_from_price(api):
    body = api.post("/v1/orders", {"amount": 5000, "items": [{"source_id": "x", "price": 100, "quantity": 3}]}).json()
    assert body["amount"] == 5000 and body["items"][0]["amount"] == 300
    assert body["source_id"] is None and "customer" not in body and body["customer_id"] is None


def test_order_without_items_or_amount_is_zero(api):
    body = api.post("/v1/orders", {"source_id": "empty"}).json()
    assert body["amount"] == 0 and body["items"] == [] and body["status"] == "CREATED"


def test_inconsistent_item_amount_is_400(api):
    body = assert_error(api.post("/v1/orders", {"items": [{"source_id": "x", "price": 100, "quantity": 3,
                                                           "amount": 301}]}), 400, "invalid_payload")
    assert "items[0].amount" in body["details"]
    assert Order.objects.count() == 0


@pytest.mark.parametrize("payload, fragment", [
    ({"amount": 10.5}, "amount"),
    ({"amount": 1000.0}, "amount"),
    ({"amount": "1000"}, "amount"),
    ({"amount": True}, "amount"),
    ({"amount": -1}, "amount"),
    ({"amount": 10**16}, "amount"),
    ({"status": "SHIPPED"}, "status"),
    ({"items": [{"price": 9.99}]}, "price"),
    ({"items": [{"quantity": 0}]}, "quantity"),
    ({"items": [{"quantity": "2"}]}, "quantity"),
    ({"items": [{"related_object": "voucher"}]}, "related_object"),
    ({"items": {"source_id": "x"}}, "items"),
    ({"items": [{"source_id": 5}]}, "source_id"),
    ({"items": [{"product": {"price": 1.5}}]}, "price"),
    ({"items": [{"metadata": []}]}, "metadata"),
    ({"metadata": "x"}, "metadata"),
    ({"customer": "shopper"}, "customer"),
    ({"customer": {"source_id": 1}}, "source_id"),
    ({"customer": {"source_id": "s", "email": "nope"}}, "email"),
    ({"created_at": "last tuesday"}, "created_at"),
    ({"amount": 100, "discount_amount": 101}, "discount"),
    ({"items": [{"source_id": "x", "price": 100, "discount_amount": 101}]}, "discount_amount"),
])
def test_bad_order_input_is_400(api, payload, fragment):
    body = assert_error(api.post("/v1/orders", payload), 400, "invalid_payload")
    assert fragment in body["details"]
    assert Order.objects.count() == 0 and Customer.objects.count() == 0


def test_too_many_items_is_400(api):
    items = [{"source_id": f"s{n}", "price": 1} for n in range(501)]
    assert_error(api.post("/v1/orders", {"items": items}), 400, "invalid_payload")


def test_malformed_json_is_400(api):
    assert_error(api.post("/v1/orders", raw='{"amount": 1'), 400, "invalid_json")
    assert_error(api.post("/v1/orders", ["x"]), 400, "invalid_payload")


def test_order_metadata_follows_its_schema(api):
    MetadataSchema.objects.create(related_object="order", properties={"channel": {"type": "string",
                                                                                  "in": ["web", "pos"]}})
    assert_error(api.post("/v1/orders", order_body(metadata={"channel": "fax"})), 400, "invalid_metadata")
    assert api.post("/v1/orders", order_body()).status_code == 201


# ---------------------------------------------------------------- catalog references

def test_items_resolve_catalog_products_and_skus_without_creating_any(api):
    hat = Product.objects.create(source_id="prod-hat", name="Hat", price=700, metadata={"brand": "acme"})
    shirt = Product.objects.create(source_id="prod-shirt", name="Shirt")
    red = Sku.objects.create(product=shirt, source_id="sku-red", sku="Red shirt", price=1500)
    body = api.post("/v1/orders", order_body(items=[
        {"source_id": "sku-red", "related_object": "sku", "quantity": 2},  # price from the catalog
        {"product_id": hat.public_id, "quantity": 1},
        {"related_object": "product", "source_id": "unknown-thing", "price": 250,
         "product": {"name": "Mystery", "metadata": {"size": "L"}}},
    ])).json()
    first, second, third = body["items"]
    assert first["sku_id"] == red.public_id and first["product_id"] == shirt.public_id
    assert first["price"] == 1500 and first["amount"] == 3000
    assert first["sku"]["id"] == red.public_id and first["sku"]["sku"] == "Red shirt"
    assert second["product_id"] == hat.public_id and second["amount"] == 700
    assert second["product"] == {"id": hat.public_id, "source_id": "prod-hat", "name": "Hat", "price": 700,
                                 "metadata": {"brand": "acme"}}
    assert third["product_id"] is None and third["source_id"] == "unknown-thing"
    assert third["product"] == {"name": "Mystery", "metadata": {"size": "L"}}
    assert Product.objects.count() == 2 and Sku.objects.count() == 1  # nothing auto-created
    stored = OrderItem.objects.get(source_id="unknown-thing")
    assert stored.product_id is None and stored.product_snapshot["name"] == "Mystery"


def test_items_find_products_by_snapshot_source_id(api):
    hat = Product.objects.create(source_id="prod-hat", price=700)
    body = api.post("/v1/orders", {"items": [{"product": {"source_id": "prod-hat"}, "quantity": 2}]}).json()
    assert body["items"][0]["product_id"] == hat.public_id and body["amount"] == 1400


# ---------------------------------------------------------------- get, list, update

def test_get_by_id_or_source_id_and_unknown_is_404(api):
    created = api.post("/v1/orders", order_body()).json()
    for ref in (created["id"], "web-1001"):
        body = assert_matches_spec(api.get(f"/v1/orders/{ref}"), "/v1/orders/{orderId}", "get")
        assert body["id"] == created["id"] and len(body["items"]) == 2
    assert_error(api.get("/v1/orders/ord_missing"), 404, "not_found")
    assert_error(api.put("/v1/orders/missing", {"status": "PAID"}), 404, "not_found")


def test_list_orders(api):
    for n in range(3):
        api.post("/v1/orders", {"source_id": f"o{n}", "amount": 100 * (n + 1)})
    body = assert_matches_spec(api.get("/v1/orders", limit=2), "/v1/orders", "get")
    assert body["data_ref"] == "orders" and body["total"] == 3 and body["has_more"] is True
    assert [o["source_id"] for o in body["orders"]] == ["o2", "o1"]
    ascending = api.get("/v1/orders", order="created_at").json()
    assert [o["source_id"] for o in ascending["orders"]] == ["o0", "o1", "o2"]
    assert_error(api.get("/v1/orders", order="amount"), 400, "invalid_payload")


def test_put_merges_and_replaces_items(api):
    created = api.post("/v1/orders", order_body(status="CREATED")).json()
    response = api.put(f"/v1/orders/{created['id']}", {"status": "PAID", "metadata": None,
                                                       "items": [{"source_id": "only", "price": 999}]})
    body = assert_matches_spec(response, "/v1/orders/{orderId}", "put")
    assert body["status"] == "PAID" and body["metadata"] == {"channel": "web"}
    assert [item["source_id"] for item in body["items"]] == ["only"] and body["amount"] == 999
    customer = Customer.objects.get(source_id="shopper-1")
    assert (customer.orders_total_count, customer.orders_total_amount) == (1, 999)


def test_put_cannot_take_another_orders_source_id(api):
    api.post("/v1/orders", {"source_id": "a"})
    api.post("/v1/orders", {"source_id": "b"})
    assert_error(api.put("/v1/orders/b", {"source_id": "a"}), 409, "duplicate_found")
    assert api.put("/v1/orders/b", {"source_id": "c"}).json()["source_id"] == "c"


def test_cancel_removes_the_order_from_the_aggregates(api):
    api.post("/v1/orders", order_body(source_id="early", created_at="2024-01-01T10:00:00Z", items=None,
                                      amount=100))
    api.post("/v1/orders", order_body(source_id="late", created_at="2024-03-01T10:00:00Z", items=None,
                                      amount=300))
    customer = Customer.objects.get(source_id="shopper-1")
    assert (customer.orders_total_count, customer.orders_total_amount, customer.last_order_amount) == (2, 400, 300)
    api.put("/v1/orders/late", {"status": "CANCELED"})
    customer.refresh_from_db()
    assert (customer.orders_total_count, customer.orders_total_amount, customer.last_order_amount) == (1, 100, 100)
    assert customer.last_order_date.isoformat() == "2024-01-01T10:00:00+00:00"


# ---------------------------------------------------------------- customers and referrers

def test_customer_by_id_and_unknown_id_is_404(api):
    customer = CustomerFactory()
    body = api.post("/v1/orders", {"customer": {"id": customer.public_id}, "amount": 10}).json()
    assert body["customer_id"] == customer.public_id
    assert_error(api.post("/v1/orders", {"customer": {"id": "cust_missing"}, "amount": 10}), 404, "not_found")
    assert Order.objects.count() == 1


def test_customer_fields_are_upserted_through_orders(api):
    api.post("/v1/orders", order_body())
    api.post("/v1/orders", order_body(source_id="web-1002", customer={"source_id": "shopper-1",
                                                                     "email": "sam@example.com"}))
    customer = Customer.objects.get(source_id="shopper-1")
    assert customer.name == "Sam" and customer.email == "sam@example.com"
    assert Customer.objects.count() == 1


def test_referrer_by_object_or_id(api):
    referrer = CustomerFactory(source_id="friend")
    body = api.post("/v1/orders", order_body(referrer={"source_id": "friend"})).json()
    assert body["referrer"] == {"id": referrer.public_id, "object": "customer"}
    body = api.post("/v1/orders", {"source_id": "r2", "referrer_id": "friend"}).json()
    assert body["referrer_id"] == referrer.public_id
    assert_error(api.post("/v1/orders", {"source_id": "r3", "referrer_id": "stranger"}), 404, "not_found")


def test_order_moving_to_another_customer_moves_its_contribution(api):
    api.post("/v1/orders", order_body())
    api.put("/v1/orders/web-1001", {"customer": {"source_id": "shopper-2"}})
    first = Customer.objects.get(source_id="shopper-1")
    second = Customer.objects.get(source_id="shopper-2")
    assert (first.orders_total_count, first.orders_total_amount, first.last_order_date) == (0, 0, None)
    assert (second.orders_total_count, second.orders_total_amount) == (1, 3700)

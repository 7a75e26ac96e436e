"""AUTO_UPDATE filters evaluated by the database, and collection membership (single and batched)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog import selectors
from catalog.models import Product, ProductCollection
from core.errors import InvalidPayload
from tests.catalog.factories import CollectionFactory, CollectionItemFactory, ProductFactory, SkuFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    """Shoes by brand, family and series, plus odd metadata that must not confuse comparisons."""
    return {
        "acme_runner": ProductFactory(name="Acme Runner", price=5000, attributes=["size", "color"],
                                      metadata={"brand": "Acme", "family": "running", "series": "X1",
                                                "weight": 300, "dims": {"width": 12}, "in": "yes"}),
        "acme_trail": ProductFactory(name="Acme Trail", price=8000, attributes=["size"],
                                     metadata={"brand": "Acme", "family": "trail", "series": "X2", "weight": "900"}),
        "zeta_runner": ProductFactory(name="Zeta Runner", price=3000,
                                      metadata={"brand": "Zeta", "family": "running", "series": "Z1",
                                                "weight": 250.5, "dims": {"width": 8}}),
        "plain": ProductFactory(name="Gift card box", price=None, metadata={}),
    }


def matching(spec: dict) -> set[str]:
    normalized = selectors.normalize_collection_filter(spec)
    products = selectors.compile_collection_filter(normalized).apply(Product.objects.all())
    return set(products.values_list("name", flat=True))


def test_metadata_brand_is(catalog):
    assert matching({"junction": "and", "metadata.brand": {"conditions": {"$is": ["Acme"]}}}) == {
        "Acme Runner", "Acme Trail"}


def test_is_not_keeps_products_without_the_key(catalog):
    assert matching({"junction": "and", "metadata.brand": {"conditions": {"$is_not": ["Acme"]}}}) == {
        "Zeta Runner", "Gift card box"}


def test_brand_and_family_with_and_junction(catalog):
    spec = {"junction": "and", "metadata.brand": {"conditions": {"$is": ["Acme"]}},
            "metadata.family": {"conditions": {"$in": ["running", "walking"]}}}
    assert matching(spec) == {"Acme Runner"}


def test_or_junction(catalog):
    spec = {"junction": "or", "metadata.brand": {"conditions": {"$is": ["Zeta"]}},
            "price": {"conditions": {"$more_than": [7000]}}}
    assert matching(spec) == {"Zeta Runner", "Acme Trail"}


def test_price_range(catalog):
    spec = {"junction": "and", "price": {"conditions": {"$more_than_equal": [3000], "$less_than": [8000]}}}
    assert matching(spec) == {"Acme Runner", "Zeta Runner"}
    assert matching({"junction": "and", "price": {"conditions": {"$less_than_equal": 3000}}}) == {"Zeta Runner"}
    assert matching({"junction": "and", "price": {"conditions": {"$is_unknown": ""}}}) == {"Gift card box"}
    assert matching({"junction": "and", "price": {"conditions": {"$in": [3000, 8000]}}}) == {
        "Zeta Runner", "Acme Trail"}


def test_series_text_operators_are_case_insensitive(catalog):
    assert matching({"junction": "and", "metadata.series": {"conditions": {"$starts_with": ["x"]}}}) == {
        "Acme Runner", "Acme Trail"}
    assert matching({"junction": "and", "metadata.series": {"conditions": {"$ends_with": ["1"]}}}) == {
        "Acme Runner", "Zeta Runner"}
    assert matching({"junction": "and", "metadata.series": {"conditions": {"$not_contain": ["x"]}}}) == {
        "Zeta Runner", "Gift card box"}


def test_name_and_ids(catalog):
    assert matching({"junction": "and", "name": {"conditions": {"$contains": ["runner"]}}}) == {
        "Acme Runner", "Zeta Runner"}
    ids = [catalog["plain"].public_id, catalog["acme_trail"].public_id]
    assert matching({"junction": "and", "product_id": {"conditions": {"$in": ids}}}) == {
        "Gift card box", "Acme Trail"}
    source = catalog["zeta_runner"].source_id
    assert matching({"junction": "and", "source_id": {"conditions": {"$is": source}}}) == {"Zeta Runner"}


def test_metadata_presence(catalog):
    assert matching({"junction": "and", "metadata.brand": {"conditions": {"$is_unknown": ""}}}) == {"Gift card box"}
    assert matching({"junction": "and", "metadata.dims": {"conditions": {"$has_value": ""}}}) == {
        "Acme Runner", "Zeta Runner"}
    assert matching({"junction": "and", "metadata": {"conditions": {"$is_unknown": ""}}}) == {"Gift card box"}


def test_metadata_numbers_compare_only_with_numbers(catalog):
    """"900" is a string: neither more nor less than a number, on SQLite and PostgreSQL alike."""
    assert matching({"junction": "and", "metadata.weight": {"conditions": {"$more_than": [200]}}}) == {
        "Acme Runner", "Zeta Runner"}
    assert matching({"junction": "and", "metadata.weight": {"conditions": {"$less_than": [1000]}}}) == {
        "Acme Runner", "Zeta Runner"}
    assert matching({"junction": "and", "metadata.weight": {"conditions": {"$more_than_equal": [250.5]}}}) == {
        "Acme Runner", "Zeta Runner"}


def test_metadata_equality_matches_number_and_string_spellings(catalog):
    assert matching({"junction": "and", "metadata.weight": {"conditions": {"$is": ["300"]}}}) == {"Acme Runner"}
    assert matching({"junction": "and", "metadata.weight": {"conditions": {"$is": [900]}}}) == {"Acme Trail"}


def test_nested_metadata_and_keys_named_like_lookups(catalog):
    assert matching({"junction": "and", "metadata.dims.width": {"conditions": {"$more_than": [10]}}}) == {
        "Acme Runner"}
    assert matching({"junction": "and", "metadata.in": {"conditions": {"$is": ["yes"]}}}) == {"Acme Runner"}


def test_attributes_and_sku_counts(catalog):
    SkuFactory(product=catalog["acme_trail"])
    assert matching({"junction": "and", "attributes": {"conditions": {"$contains": ["color"]}}}) == {"Acme Runner"}
    assert matching({"junction": "and", "attributes": {"conditions": {"$not_in": ["size"]}}}) == {
        "Zeta Runner", "Gift card box"}
    assert matching({"junction": "and", "attributes": {"conditions": {"$is_unknown": ""}}}) == {
        "Zeta Runner", "Gift card box"}
    assert matching({"junction": "and", "skus": {"conditions": {"$count_more": [0]}}}) == {"Acme Trail"}
    assert matching({"junction": "and", "skus": {"conditions": {"$count": [0]}}}) == {
        "Acme Runner", "Zeta Runner", "Gift card box"}


def test_dates_and_object(catalog):
    Product.objects.filter(pk=catalog["plain"].pk).update(created_at=timezone.now() - timedelta(days=30))
    assert matching({"junction": "and", "created_at": {"conditions": {"$more_than": [10]}}}) == {"Gift card box"}
    assert matching({"junction": "and", "created_at": {"conditions": {"$after": "2000-01-01"}}}) == {
        "Acme Runner", "Acme Trail", "Zeta Runner", "Gift card box"}
    assert matching({"junction": "and", "object": {"conditions": {"$is": ["sku"]}}}) == set()
    assert len(matching({"junction": "and", "object": {"conditions": {"$in": ["product"]}}})) == 4


def test_filter_without_conditions_matches_everything(catalog):
    assert len(matching({"junction": "and"})) == 4


def test_sdk_nulls_and_aliases_are_normalized():
    spec = {"junction": "AND", "id": None, "price": {"conditions": {"$in": None, "$less_than_or_equal": [5]}}}
    assert selectors.normalize_collection_filter(spec) == {
        "junction": "and", "price": {"conditions": {"$less_than_equal": [5]}}}


@pytest.mark.parametrize("spec, named", [
    ({"price": {"conditions": {"$is": [1]}}}, "junction"),
    ({"junction": "xor"}, "junction"),
    ({"junction": "and", "colour": {"conditions": {"$is": ["red"]}}}, "filter.colour"),
    ({"junction": "and", "price": {"conditions": {"$between": [1, 2]}}}, "$between"),
    ({"junction": "and", "name": {"conditions": {"$more_than": ["a"]}}}, "$more_than"),
    ({"junction": "and", "price": {"conditions": {"$more_than": [10.5]}}}, "10.5"),
    ({"junction": "and", "price": {"conditions": {"$more_than": [1, 2]}}}, "exactly one"),
    ({"junction": "and", "price": {"conditions": {}}}, "filter.price"),
    ({"junction": "and", "price": {"$is": [1]}}, "filter.price"),
    ({"junction": "and", "metadata.": {"conditions": {"$is": ["x"]}}}, "metadata"),
    ({"junction": "and", "metadata.a__b": {"conditions": {"$is": ["x"]}}}, "metadata.a__b"),
    ({"junction": "and", "metadata.brand": {"conditions": {"$is": [{"x": 1}]}}}, "metadata.brand"),
    ({"junction": "and", "created_at": {"conditions": {"$after": ["soon"]}}}, "soon"),
    ({"junction": "and", "name": {"conditions": {"$in": []}}}, "at least one"),
    ("not a dict", "filter"),
])
def test_invalid_filters_name_the_bad_part(spec, named):
    with pytest.raises(InvalidPayload) as error:
        selectors.normalize_collection_filter(spec)
    assert named in error.value.details


# ---------------------------------------------------------------- membership


@pytest.fixture
def static_setup():
    whole, partial, outside = ProductFactory(), ProductFactory(), ProductFactory()
    whole_sku = SkuFactory(product=whole)
    listed_sku, unlisted_sku = SkuFactory(product=partial), SkuFactory(product=partial)
    collection = CollectionFactory(type=ProductCollection.Type.STATIC)
    CollectionItemFactory(collection=collection, product=whole)
    CollectionItemFactory(collection=collection, product=partial, sku=listed_sku)
    return collection, whole, partial, outside, whole_sku, listed_sku, unlisted_sku


def test_static_membership(static_setup):
    collection, whole, partial, outside, whole_sku, listed_sku, unlisted_sku = static_setup
    contains = selectors.collection_contains
    assert contains(collection, whole.pk, None)
    assert contains(collection, whole.pk, whole_sku.pk)
    assert contains(collection, None, whole_sku.pk)
    assert contains(collection, partial.pk, listed_sku.pk)
    assert contains(collection, None, listed_sku.pk)
    assert not contains(collection, partial.pk, None)
    assert not contains(collection, partial.pk, unlisted_sku.pk)
    assert not contains(collection, outside.pk, None)
    assert not contains(collection, None, None)
    assert set(selectors.collection_products(collection)) == {whole}
    assert set(selectors.collection_skus(collection)) == {whole_sku, listed_sku}


def test_auto_update_membership_goes_through_the_product(catalog):
    acme = selectors.normalize_collection_filter(
        {"junction": "and", "metadata.brand": {"conditions": {"$is": ["Acme"]}}})
    collection = CollectionFactory(type=ProductCollection.Type.AUTO_UPDATE, filter=acme)
    acme_sku = SkuFactory(product=catalog["acme_trail"])
    zeta_sku = SkuFactory(product=catalog["zeta_runner"])
    assert selectors.collection_contains(collection, catalog["acme_runner"].pk, None)
    assert selectors.collection_contains(collection, None, acme_sku.pk)
    assert not selectors.collection_contains(collection, None, zeta_sku.pk)
    assert not selectors.collection_contains(collection, catalog["plain"].pk, None)
    assert set(selectors.collection_skus(collection)) == {acme_sku}
    # The collection follows the catalog: a product that changes brand leaves it.
    Product.objects.filter(pk=catalog["acme_trail"].pk).update(metadata={"brand": "Zeta"})
    assert not selectors.collection_contains(collection, None, acme_sku.pk)


def test_batched_membership_costs_constant_queries(static_setup, catalog, django_assert_max_num_queries):
    collection, whole, partial, outside, whole_sku, listed_sku, unlisted_sku = static_setup
    extra_skus = SkuFactory.create_batch(6, product=outside)
    pairs = [(None, whole_sku.pk), (partial.pk, listed_sku.pk), (None, unlisted_sku.pk), (whole.pk, None),
             *[(None, sku.pk) for sku in extra_skus]]
    with django_assert_max_num_queries(2):
        result = selectors.collection_contains_many(collection, pairs)
    assert result == [True, True, False, True] + [False] * 6

    auto = CollectionFactory(type=ProductCollection.Type.AUTO_UPDATE, filter=selectors.normalize_collection_filter(
        {"junction": "and", "price": {"conditions": {"$more_than": [4000]}}}))
    acme_skus = SkuFactory.create_batch(5, product=catalog["acme_runner"])
    cart = [(None, sku.pk) for sku in acme_skus] + [(catalog["zeta_runner"].pk, None)] * 5
    with django_assert_max_num_queries(2):
        result = selectors.collection_contains_many(auto, cart)
    assert result == [True] * 5 + [False] * 5


def test_membership_of_nothing_is_free(catalog, django_assert_num_queries):
    auto = CollectionFactory(type=ProductCollection.Type.AUTO_UPDATE, filter={"junction": "and"})
    with django_assert_num_queries(0):
        assert selectors.collection_contains_many(auto, [(None, None)]) == [False]


def test_several_collections_at_once(static_setup, catalog, django_assert_max_num_queries):
    collection, whole, partial, outside, whole_sku, listed_sku, unlisted_sku = static_setup
    other_static = CollectionFactory(type=ProductCollection.Type.STATIC)
    CollectionItemFactory(collection=other_static, product=partial)
    auto = CollectionFactory(type=ProductCollection.Type.AUTO_UPDATE, filter=selectors.normalize_collection_filter(
        {"junction": "and", "metadata.family": {"conditions": {"$is": ["running"]}}}))
    runner_sku = SkuFactory(product=catalog["acme_runner"])
    pairs = [(None, whole_sku.pk), (None, unlisted_sku.pk), (None, runner_sku.pk), (catalog["zeta_runner"].pk, None)]
    with django_assert_max_num_queries(3):
        answer = selectors.collections_contain_many([collection, other_static, auto], pairs)
    assert answer == {
        collection.pk: [True, False, False, False],
        other_static.pk: [False, True, False, False],
        auto.pk: [False, False, True, True],
    }

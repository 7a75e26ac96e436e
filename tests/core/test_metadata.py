import pytest

from core.errors import InvalidPayload
from core.metadata import metadata_errors, validate_metadata
from core.models import MetadataSchema
from tests.conftest import assert_error
from tests.spec import assert_matches_spec

PROPS = {
    "brand": {"type": "string", "in": ["acme", "zeta"]},
    "weight_g": {"type": "number", "min": 0, "max": 5000},
    "tags": {"type": "string", "array": True},
    "launched": {"type": "date"},
    "vip": {"type": "boolean", "optional": False},
    "where": {"type": "geopoint"},
    "old": {"type": "number", "deleted": True},
}


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"vip": True, "brand": "acme", "weight_g": 10, "tags": ["a"], "launched": "2024-01-31"}, []),
        ({"vip": True, "where": {"latitude": 41.1, "longitude": -8.6}}, []),
        ({}, ["metadata.vip is required"]),
        ({"vip": "yes"}, ["metadata.vip must be of type boolean"]),
        ({"vip": True, "brand": "other"}, ["metadata.brand must be one of ['acme', 'zeta']"]),
        ({"vip": True, "weight_g": -1}, ["metadata.weight_g must be at least 0"]),
        ({"vip": True, "weight_g": True}, ["metadata.weight_g must be of type number"]),
        ({"vip": True, "tags": "a"}, ["metadata.tags must be an array"]),
        ({"vip": True, "tags": ["a", 3]}, ["metadata.tags must be of type string"]),
        ({"vip": True, "launched": "31/01/2024"}, ["metadata.launched must be of type date"]),
        ({"vip": True, "where": {"latitude": 100, "longitude": 0}}, ["metadata.where must be of type geopoint"]),
        ({"vip": True, "old": "anything"}, []),
    ],
)
def test_metadata_rules(metadata, expected):
    assert metadata_errors(metadata, PROPS, allow_defined_only=False) == expected


def test_allow_defined_only_refuses_unknown_keys():
    assert metadata_errors({"vip": True, "x": 1}, PROPS, allow_defined_only=True) == [
        "metadata.x is not defined in the schema"
    ]


@pytest.mark.django_db
def test_validate_metadata_uses_the_schema_of_the_object_kind():
    MetadataSchema.objects.create(related_object="customer", properties={"vip": {"type": "boolean"}})
    assert validate_metadata("customer", {"vip": False}) == {"vip": False}
    assert validate_metadata("product", {"vip": "anything"}) == {"vip": "anything"}
    with pytest.raises(InvalidPayload) as error:
        validate_metadata("customer", {"vip": 1})
    assert error.value.key == "invalid_metadata"


@pytest.mark.django_db
def test_metadata_schema_api(api):
    created = api.post("/v1/metadata-schemas", {"related_object": "product", "properties": PROPS})
    assert created.status_code == 201, created.content
    assert created.json()["id"].startswith("ms_")
    replaced = api.post("/v1/metadata-schemas", {"related_object": "product", "properties": {},
                                                 "allow_defined_only": True})
    assert replaced.status_code == 200 and replaced.json()["allow_defined_only"] is True
    body = assert_matches_spec(api.get("/v1/metadata-schemas/product"), "/v1/metadata-schemas/{resource}", "get")
    assert body["related_object"] == "product"
    listed = api.get("/v1/metadata-schemas").json()
    assert [s["related_object"] for s in listed["schemas"]] == ["product"]
    assert api.delete("/v1/metadata-schemas/product").status_code == 204
    assert_error(api.get("/v1/metadata-schemas/product"), 404, "not_found")


@pytest.mark.django_db
def test_metadata_schema_api_refuses_bad_definitions(api):
    body = assert_error(api.post("/v1/metadata-schemas", {"related_object": "product",
                                                          "properties": {"x": {"type": "colour"}}}),
                        400, "invalid_payload")
    assert "properties.x.type" in body["details"]
    assert_error(api.post("/v1/metadata-schemas", {"related_object": "planet", "properties": {}}),
                 400, "invalid_payload")
    assert MetadataSchema.objects.count() == 0

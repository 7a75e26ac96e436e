"""CSV imports of products and SKUs: async actions with per-row errors, progress and upsert by source_id."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog import services
from catalog.models import Product, Sku
from core.models import AsyncAction, MetadataSchema
from core.services import async_action_run
from tests.catalog.factories import ProductFactory, SkuFactory
from tests.conftest import assert_error
from tests.spec import assert_matches_spec

pytestmark = pytest.mark.django_db


def upload(api, path: str, text: str):
    """POST a CSV file as multipart form data, the way the SDK sends it."""
    file = SimpleUploadedFile("import.csv", text.encode(), content_type="text/csv")
    return api.client.post(path, {"file": file}, headers=api.headers)


def run_import(api, path: str, text: str, capture) -> AsyncAction:
    with capture(execute=True):
        response = upload(api, path, text)
    assert response.status_code == 202, response.content
    body = assert_matches_spec(response, path, "post")
    action = AsyncAction.objects.get(public_id=body["async_action_id"])
    return action


def test_products_import_creates_updates_and_reports_rows(api, django_capture_on_commit_callbacks):
    MetadataSchema.objects.create(related_object="product", properties={
        "weight": {"type": "number"}, "tags": {"type": "string", "array": True}, "eco": {"type": "boolean"}})
    ProductFactory(source_id="existing", name="Old name", price=100)
    csv_text = (
        "name,source_id,price,attributes,image_url,brand,weight,tags,eco\n"
        'Runner,run-1,5000,"size,color",https://img.example.com/r.png,Acme,300,"new,sale",yes\n'
        "Renamed,existing,999,,,,,,\n"
        ",no-name,100,,,,,,\n"
        "Floaty,float-1,10.50,,,,,,\n"
        "Heavy,heavy-1,100,,,Acme,lots,,\n"
        "Loose,,,,,,,,\n"
    )
    action = run_import(api, "/v1/products/importCSV", csv_text, django_capture_on_commit_callbacks)
    action.refresh_from_db()
    assert (action.status, action.progress, action.processed, action.total) == ("DONE", 100, 6, 6)
    result = action.result
    assert (result["created"], result["updated"], result["failed"]) == (2, 1, 3)
    errors = {error["row"]: error for error in result["errors"]}
    assert set(errors) == {4, 5, 6}
    assert "name is required" in errors[4]["message"]
    assert "minor units" in errors[5]["message"] and errors[5]["source_id"] == "float-1"
    assert "metadata.weight must be of type number" in errors[6]["message"]

    runner = Product.objects.get(source_id="run-1")
    assert (runner.name, runner.price, runner.attributes) == ("Runner", 5000, ["size", "color"])
    assert runner.metadata == {"brand": "Acme", "weight": 300, "tags": ["new", "sale"], "eco": True}
    existing = Product.objects.get(source_id="existing")
    assert (existing.name, existing.price) == ("Renamed", 100)  # as in Voucherify: only the name is updated
    assert Product.objects.filter(name="Loose", source_id__isnull=True).count() == 1

    status = api.get(f"/v1/async-actions/{action.public_id}").json()
    assert (status["status"], status["progress"], status["result"]["failed"]) == ("DONE", 100, 3)


def test_products_import_resumes_after_a_crash(api, monkeypatch):
    """A worker that dies mid-import leaves committed chunks and their checkpoint; the redelivered
    task continues after them, so nothing is applied twice and the counts are complete."""
    monkeypatch.setattr(services, "IMPORT_CHUNK", 2)
    rows = "".join(f"P{n},p-{n},{n}\n" for n in range(5))
    action = services.products_import_start(content=("name,source_id,price\n" + rows).encode())
    AsyncAction.objects.filter(pk=action.pk).update(status="IN_PROGRESS")
    real_chunk = services._import_product_chunk
    calls = []

    def dies_on_second_chunk(chunk, state):
        calls.append(len(chunk))
        if len(calls) == 2:
            raise SystemExit("worker killed")
        return real_chunk(chunk, state)

    monkeypatch.setattr(services, "_import_product_chunk", dies_on_second_chunk)
    with pytest.raises(SystemExit):
        services.products_import_csv(AsyncAction.objects.get(pk=action.pk), lambda processed, total: None)
    action.refresh_from_db()
    assert (action.processed, Product.objects.count()) == (2, 2)

    monkeypatch.setattr(services, "_import_product_chunk", real_chunk)
    async_action_run(action.pk)
    action.refresh_from_db()
    assert (action.status, action.processed, action.total) == ("DONE", 5, 5)
    assert (action.result["created"], action.result["updated"], action.result["failed"]) == (5, 0, 0)
    assert sorted(Product.objects.values_list("source_id", flat=True)) == [f"p-{n}" for n in range(5)]


def test_skus_import(api, django_capture_on_commit_callbacks):
    tee = ProductFactory(source_id="tee", attributes=["color", "size"])
    other = ProductFactory(source_id="other")
    SkuFactory(product=tee, source_id="tee-old", sku="Old", price=100, currency="EUR")
    SkuFactory(product=other, source_id="other-1")
    csv_text = (
        "product_id,sku,source_id,price,attributes,stock\n"
        'tee,Red M,tee-red-m,2100,"{color:red,size:M}",4\n'
        f'{tee.public_id},Blue,tee-blue,2000,"{{""color"": ""blue""}}",\n'
        "tee,Renamed,tee-old,150,,\n"
        "tee,Bad attr,tee-bad,100,{weight:3},\n"
        "ghost,Lost,ghost-1,100,,\n"
        "tee,Stolen,other-1,100,,\n"
        "tee,No source,,100,,\n"
    )
    action = run_import(api, "/v1/skus/importCSV", csv_text, django_capture_on_commit_callbacks)
    action.refresh_from_db()
    assert action.status == "DONE"
    result = action.result
    assert (result["created"], result["updated"], result["failed"]) == (2, 1, 4)
    messages = {error["row"]: error["message"] for error in result["errors"]}
    assert "weight" in messages[5]
    assert "ghost" in messages[6]
    assert "another product" in messages[7]
    assert "source_id is required" in messages[8]

    red = Sku.objects.get(source_id="tee-red-m")
    assert (red.product_id, red.price, red.attributes, red.metadata) == (
        tee.pk, 2100, {"color": "red", "size": "M"}, {"stock": "4"})
    assert Sku.objects.get(source_id="tee-blue").attributes == {"color": "blue"}
    old = Sku.objects.get(source_id="tee-old")
    assert (old.sku, old.price, old.currency) == ("Renamed", 150, "EUR")
    assert Sku.objects.get(source_id="other-1").product_id == other.pk


@pytest.mark.parametrize("path, text, named", [
    ("/v1/products/importCSV", "source_id,price\nx,1\n", "name"),
    ("/v1/skus/importCSV", "sku,price\nx,1\n", "product_id"),
    ("/v1/products/importCSV", "", "empty"),
    ("/v1/products/importCSV", "name,bad column\nx,1\n", "bad column"),
])
def test_wrong_files_are_refused_at_once(api, path, text, named):
    body = assert_error(upload(api, path, text), 400, "invalid_csv")
    assert named in body["details"]
    assert not AsyncAction.objects.exists()


def test_missing_file_and_non_utf8_are_refused(api):
    assert_error(api.client.post("/v1/products/importCSV", {}, headers=api.headers), 400, "invalid_payload")
    latin = SimpleUploadedFile("x.csv", "name\ncafé\n".encode("latin-1"), content_type="text/csv")
    body = assert_error(api.client.post("/v1/skus/importCSV", {"file": latin}, headers=api.headers),
                        400, "invalid_csv")
    assert "UTF-8" in body["details"]

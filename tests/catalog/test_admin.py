"""Catalog admin: pages render, searches and filters work, forms and imports apply the API's checks,
and products/SKUs export to CSV and XLSX."""

import io

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from catalog import selectors
from catalog.models import Product, ProductCollection, Sku
from core.models import MetadataSchema
from tests.catalog.factories import CollectionFactory, CollectionItemFactory, ProductFactory, SkuFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-123456789")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def products():
    acme = ProductFactory(name="Acme Runner", source_id="acme-run", attributes=["size"], metadata={"brand": "Acme"})
    zeta = ProductFactory(name="Zeta Boot", source_id="zeta-boot", metadata={"brand": "Zeta"})
    SkuFactory(product=acme, source_id="acme-run-42", attributes={"size": "42"})
    return acme, zeta


def changelist_names(response) -> set[str]:
    return {str(obj) for obj in response.context["cl"].result_list}


def test_product_changelist_search_and_filters(staff, products):
    acme, zeta = products
    assert staff.get("/admin/catalog/product/").status_code == 200
    assert changelist_names(staff.get("/admin/catalog/product/", {"q": "acme"})) == {"Acme Runner"}
    assert changelist_names(staff.get("/admin/catalog/product/", {"q": zeta.public_id})) == {"Zeta Boot"}
    assert changelist_names(staff.get("/admin/catalog/product/", {"brand": "Zeta"})) == {"Zeta Boot"}
    assert changelist_names(staff.get("/admin/catalog/product/", {"has_skus": "yes"})) == {"Acme Runner"}
    assert changelist_names(staff.get("/admin/catalog/product/", {"has_skus": "no"})) == {"Zeta Boot"}


def test_product_change_page_with_sku_inline(staff, products):
    acme, _ = products
    response = staff.get(f"/admin/catalog/product/{acme.pk}/change/")
    assert response.status_code == 200
    assert b"acme-run-42" in response.content


def test_admin_form_applies_metadata_schema(staff):
    MetadataSchema.objects.create(related_object="product", properties={"brand": {"type": "string", "in": ["Acme"]}})
    data = {"name": "Boot", "source_id": "", "price": "100", "attributes": "[]", "metadata": '{"brand": "Nope"}',
            "image_url": "", "skus-TOTAL_FORMS": "0", "skus-INITIAL_FORMS": "0"}
    response = staff.post("/admin/catalog/product/add/", data)
    assert response.status_code == 200
    assert b"metadata.brand must be one of" in response.content
    assert not Product.objects.exists()
    response = staff.post("/admin/catalog/product/add/", {**data, "metadata": '{"brand": "Acme"}'})
    assert response.status_code == 302
    assert Product.objects.get().source_id is None  # blank source ids are stored as NULL


def test_sku_admin_refuses_undeclared_attributes(staff, products):
    acme, _ = products
    assert staff.get("/admin/catalog/sku/").status_code == 200
    data = {"product": acme.pk, "sku": "x", "source_id": "x-1", "price": "10", "currency": "USD",
            "attributes": '{"colour": "red"}', "metadata": "{}", "image_url": ""}
    response = staff.post("/admin/catalog/sku/add/", data)
    assert response.status_code == 200
    assert b"colour" in response.content
    assert not Sku.objects.filter(source_id="x-1").exists()


def test_collection_admin_shows_counts_and_checks_filters(staff, products):
    acme, zeta = products
    auto = CollectionFactory(name="Acme", type="AUTO_UPDATE", filter=selectors.normalize_collection_filter(
        {"junction": "and", "metadata.brand": {"conditions": {"$is": ["Acme"]}}}))
    static = CollectionFactory(name="Picks")
    CollectionItemFactory(collection=static, product=zeta)
    response = staff.get("/admin/catalog/productcollection/")
    assert response.status_code == 200
    assert b"1 matching" in response.content and b"1 listed" in response.content
    assert staff.get(f"/admin/catalog/productcollection/{auto.pk}/change/").status_code == 200
    data = {"name": "Bad", "type": "AUTO_UPDATE", "filter": '{"junction": "and", "price": {"conditions": {"$x": [1]}}}',
            "items-TOTAL_FORMS": "0", "items-INITIAL_FORMS": "0"}
    response = staff.post("/admin/catalog/productcollection/add/", data)
    assert response.status_code == 200 and b"$x" in response.content
    assert not ProductCollection.objects.filter(name="Bad").exists()


def test_export_products_as_csv_and_xlsx(staff, products):
    fields = {f"productresource_{name}": "on" for name in ("public_id", "source_id", "name", "price", "metadata")}
    csv_response = staff.post("/admin/catalog/product/export/", {"format": "0", "resource": "0", **fields})
    assert csv_response.status_code == 200
    assert "text/csv" in csv_response["Content-Type"]
    text = csv_response.content.decode()
    assert "acme-run" in text and "Zeta Boot" in text

    xlsx_response = staff.post("/admin/catalog/product/export/", {"format": "1", "resource": "0", **fields})
    assert xlsx_response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_response.content)).active
    values = {cell.value for row in sheet.iter_rows() for cell in row}
    assert {"acme-run", "Zeta Boot"} <= values


def test_export_skus_names_the_product(staff, products):
    fields = {f"skuresource_{name}": "on" for name in ("source_id", "product", "price")}
    response = staff.post("/admin/catalog/sku/export/", {"format": "0", "resource": "0", **fields})
    assert response.status_code == 200
    assert "acme-run-42,acme-run," in response.content.decode()


def _admin_import(staff, url: str, text: str):
    upload = SimpleUploadedFile("import.csv", text.encode(), content_type="text/csv")
    response = staff.post(f"{url}import/", {"format": "0", "resource": "0", "import_file": upload})
    assert response.status_code == 200
    confirm = response.context.get("confirm_form")
    return response, confirm


def test_admin_import_upserts_products_and_refuses_bad_rows(staff, products):
    url = "/admin/catalog/product/"
    text = ('source_id,name,price,attributes,metadata\n'
            'acme-run,Acme Runner 2,4200,"[""size""]","{""brand"": ""Acme""}"\n'
            ',New one,100,[],{}\n')
    response, confirm = _admin_import(staff, url, text)
    assert confirm is not None, response.content[:2000]
    done = staff.post(f"{url}process_import/", confirm.initial)
    assert done.status_code == 302
    assert Product.objects.get(source_id="acme-run").price == 4200
    assert Product.objects.filter(name="New one", source_id__isnull=True).exists()

    bad = "source_id,name,price,attributes,metadata\nbad-1,Bad,100,\"{}\",[1]\n"
    response, confirm = _admin_import(staff, url, bad)
    assert confirm is None
    assert b"attributes" in response.content or b"metadata" in response.content
    assert not Product.objects.filter(source_id="bad-1").exists()


def test_admin_import_skus_by_product_source_id(staff, products):
    url = "/admin/catalog/sku/"
    text = 'source_id,product_id,sku,price,attributes\nacme-run-43,acme-run,43,900,"{""size"": ""43""}"\n'
    response, confirm = _admin_import(staff, url, text)
    assert confirm is not None, response.content[:2000]
    assert staff.post(f"{url}process_import/", confirm.initial).status_code == 302
    sku = Sku.objects.get(source_id="acme-run-43")
    assert (sku.product.source_id, sku.attributes, sku.price) == ("acme-run", {"size": "43"}, 900)

    bad = 'source_id,product_id,sku,price,attributes\nacme-run-44,acme-run,44,900,"{""colour"": ""red""}"\n'
    response, confirm = _admin_import(staff, url, bad)
    assert confirm is None
    assert not Sku.objects.filter(source_id="acme-run-44").exists()

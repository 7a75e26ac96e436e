"""The CSV imports of customers, products, SKUs, vouchers and gift cards read their files through
core.csv_import and fail through core.services: a file nothing can read is a 400 at upload, an action that
fails ends FAILED (never IN_PROGRESS for ever), and one that refused every row does not say SUCCESS."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Product
from core import services
from core.models import AsyncAction
from customers.models import Customer
from tests.conftest import assert_error
from tests.giftcards.factories import gift_campaign

pytestmark = pytest.mark.django_db

IMPORTS = ["/v1/customers/importCSV", "/v1/products/importCSV", "/v1/skus/importCSV", "/v1/vouchers/importCSV"]


def upload(api, path: str, content: bytes):
    file = SimpleUploadedFile("import.csv", content, content_type="text/csv")
    return api.client.post(path, {"file": file}, headers=api.headers)


def run(api, capture, path: str, content: bytes) -> dict:
    with capture(execute=True):
        response = upload(api, path, content)
    assert response.status_code == 202, response.content
    return api.get(f"/v1/async-actions/{response.json()['async_action_id']}").json()


def test_a_products_header_ended_by_a_bare_carriage_return_is_a_line_end(api, django_capture_on_commit_callbacks):
    action = run(api, django_capture_on_commit_callbacks, "/v1/products/importCSV",
                 b"name,source_id\rMug,mug-1\rCup,cup-1\r")
    assert (action["status"], action["operation_status"]) == ("DONE", "SUCCESS"), action
    assert set(Product.objects.values_list("source_id", flat=True)) == {"mug-1", "cup-1"}


def test_a_customers_file_with_a_nul_in_a_cell_is_refused_at_upload(api):
    body = assert_error(upload(api, "/v1/customers/importCSV", b"source_id,name\nc\x001,Ann\nc2,Bob\n"),
                        400, "invalid_csv")
    assert "NUL" in body["details"]
    assert not AsyncAction.objects.exists() and not Customer.objects.exists()


@pytest.mark.parametrize("path", IMPORTS)
@pytest.mark.parametrize("content", [b"code,name\nA,\x00\n", b"\xff\xfe,x\n", b"", b"\x00"])
def test_unreadable_files_are_400_invalid_csv_on_every_import(api, path, content):
    assert_error(upload(api, path, content), 400, "invalid_csv")
    assert not AsyncAction.objects.exists()


def test_a_gift_card_import_refuses_a_nul_too(api):
    campaign = gift_campaign()
    assert_error(upload(api, f"/v1/campaigns/{campaign.public_id}/importCSV", b"code\nGC-\x001\n"), 400, "invalid_csv")


@pytest.mark.parametrize("path, header", [("/v1/customers/importCSV", b"source_id"),
                                          ("/v1/products/importCSV", b"name"), ("/v1/vouchers/importCSV", b"code")])
def test_a_row_the_csv_reader_cannot_read_fails_the_action(api, django_capture_on_commit_callbacks, path, header):
    content = header + b"\nok\n" + b"x" * 200_000 + b"\n"  # past the csv module's field size limit
    action = run(api, django_capture_on_commit_callbacks, path, content)
    assert (action["status"], action["operation_status"]) == ("FAILED", "FAILED"), action
    assert action["result"]["key"] == "invalid_csv" and "line 3" in action["result"]["error"]


@pytest.mark.parametrize("path, content", [
    ("/v1/customers/importCSV", b"source_id,email\nc1,not-an-email\nc2,nope\n"),
    ("/v1/products/importCSV", b"name,price\nA,1.5\nB,x\n"),
    ("/v1/vouchers/importCSV", b"code,active\nA,maybe\nB,perhaps\n"),
])
def test_an_import_that_refused_every_row_is_done_but_not_a_success(api, django_capture_on_commit_callbacks,
                                                                     path, content):
    action = run(api, django_capture_on_commit_callbacks, path, content)
    assert action["status"] == "DONE" and action["operation_status"] == "FAILED", action
    assert action["result"]["done_count"] == 0 and action["result"]["failed_count"] == 2
    assert [error["row"] for error in action["result"]["errors"]] == [2, 3]


def test_a_failure_whose_message_quotes_a_nul_still_ends_failed(api):
    @services.register_async_handler("TEST_FAILS_WITH_NUL")
    def fails(action, progress):
        raise ValueError("cannot store 'a\x00b'")

    action = services.async_action_start(action_type="TEST_FAILS_WITH_NUL")
    services.async_action_run(action.pk)
    action.refresh_from_db()
    assert action.status == "FAILED" and action.operation_status == "FAILED"
    assert action.result["error"] == "cannot store 'a\ufffdb'" and action.result["key"] == "internal_error"

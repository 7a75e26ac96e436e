"""The official Voucherify Python SDK (6.1.1) against a live server: segments and a customer's segments."""

import pytest
import voucherify as v

from customers.models import Customer

pytestmark = pytest.mark.django_db(transaction=True)


def test_segments_through_the_sdk(sdk_client):
    Customer.objects.create(source_id="sdk-ana", address_city="London")
    segments = v.SegmentsApi(sdk_client)
    dynamic = segments.create_segment(v.SegmentsCreateRequestBody(
        name="Londoners", type="auto-update",
        filter={"junction": "and", "address.city": {"conditions": {"$is": ["London"]}}}))
    assert dynamic.id.startswith("seg_") and dynamic.type == "auto-update"
    static = segments.create_segment(v.SegmentsCreateRequestBody.from_dict(
        {"name": "VIP", "type": "static", "customers": ["sdk-ana"], "filter": None}))
    assert static.initial_sync_status == "DONE"

    fetched = segments.get_segment(dynamic.id)
    assert fetched.initial_sync_status == "DONE" and fetched.filter["address.city"]

    mine = v.CustomersApi(sdk_client).list_customer_segments("sdk-ana")
    assert mine.total == 2 and {s.id for s in mine.data} == {dynamic.id, static.id}

    segments.delete_segment(static.id)
    with pytest.raises(v.exceptions.NotFoundException):
        segments.get_segment(static.id)

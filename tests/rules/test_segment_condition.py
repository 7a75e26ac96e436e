"""The customer.segment condition (registered by the segments app) through real /v1/validations calls."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers import services as customer_services
from rules.conditions import CONDITIONS
from segments import services as segment_services
from tests.promo.factories import RuleFactory, VoucherFactory, assign

pytestmark = pytest.mark.django_db

LONDON = {"junction": "and", "address.city": {"conditions": {"$is": ["London"]}}}


def validate(api, codes, customer="ana"):
    body = api.post("/v1/validations", {"redeemables": [{"object": "voucher", "id": code} for code in codes],
                                        "customer": {"source_id": customer},
                                        "order": {"amount": 10000}}).json()
    return [(r["status"], (r["result"].get("error") or {}).get("key")) for r in body["redeemables"]]


def coupon(code: str, rules: dict):
    voucher = VoucherFactory(code=code, discount={"type": "AMOUNT", "amount_off": 500})
    assign(RuleFactory(rules=rules), voucher)


@pytest.fixture
def londoners(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return segment_services.segment_create({"name": "Londoners", "type": "auto-update", "filter": LONDON})


def test_is_registered_by_the_segments_app():
    assert "customer.segment" in CONDITIONS
    assert type(CONDITIONS["customer.segment"]).__module__ == "segments.conditions"


def test_customer_in_and_not_in_segment(api, londoners):
    customer_services.customer_create_or_update({"source_id": "ana", "address": {"city": "London"}})
    customer_services.customer_create_or_update({"source_id": "ben", "address": {"city": "Leeds"}})
    coupon("INSEG", {"1": {"name": "customer.segment", "conditions": {"$is": [londoners.public_id]}}})
    coupon("NOTSEG", {"1": {"name": "customer.segment", "conditions": {"$is_not": [londoners.public_id]}}})
    assert validate(api, ["INSEG"], "ana") == [("APPLICABLE", None)]
    assert validate(api, ["INSEG"], "ben") == [("INAPPLICABLE", "customer_rules_violated")]
    assert validate(api, ["NOTSEG"], "ben") == [("APPLICABLE", None)]
    assert validate(api, ["INSEG"], "stranger") == [("INAPPLICABLE", "customer_rules_violated")]  # not stored
    # Ben moves to London: the refresh puts him in the segment, and the coupon applies at once.
    customer_services.customer_create_or_update({"source_id": "ben", "address": {"city": "London"}})
    assert validate(api, ["INSEG"], "ben") == [("APPLICABLE", None)]


def test_london_customers_who_redeemed_and_spent_over_1000(api, django_capture_on_commit_callbacks):
    """The brief's "London customers who redeemed at least once and spent over $1,000", as a segment filter
    (city and amount) plus a redemption-count rule."""
    with django_capture_on_commit_callbacks(execute=True):
        vip = segment_services.segment_create({"name": "London big spenders", "filter": {
            "junction": "and", "address.city": {"conditions": {"$is": ["London"]}},
            "orders.total_amount": {"conditions": {"$more_than": [100000]}}}})
    customer_services.customer_create_or_update({"source_id": "ana", "address": {"city": "London"}})
    customer_services.order_create_or_update({"source_id": "big", "status": "PAID", "amount": 150000,
                                              "customer": {"source_id": "ana"}})
    coupon("VIP", {"1": {"name": "customer.segment", "conditions": {"$in": [vip.public_id, "seg_other"]}}})
    assert validate(api, ["VIP"], "ana") == [("APPLICABLE", None)]


def test_one_membership_query_per_validation(api, londoners):
    customer_services.customer_create_or_update({"source_id": "ana", "address": {"city": "London"}})
    in_segment = {"1": {"name": "customer.segment", "conditions": {"$is": [londoners.public_id]}},
                  "2": {"name": "customer.segment", "conditions": {"$is_not": ["seg_blocked"]}}}
    coupon("A", in_segment)
    coupon("B", in_segment)
    with CaptureQueriesContext(connection) as queries:
        assert validate(api, ["A", "B"], "ana") == [("APPLICABLE", None), ("APPLICABLE", None)]
    membership_queries = [q for q in queries if "segments_segmentmembership" in q["sql"]]
    assert len(membership_queries) == 1  # two redeemables x two conditions, one query
